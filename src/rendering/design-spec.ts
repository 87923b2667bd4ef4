import { z } from 'zod';
import { ValidationError } from '../errors.js';
import type { ErrorCode } from '../error-codes.js';
import { FONT_NAMES, type FontName } from './fonts.js';
import { HEX_COLOR_PATTERN } from './colors.js';
import { UUID_PATTERN } from '../shared/uuid.js';
import {
  checkCombiningMarks,
  checkFontCoverage,
  checkLineCount,
  combiningMarksPattern,
  checkTextContrast,
  checkVisibleText,
  drawableTextPattern,
  LINE_LIMIT_PATTERN,
  MAX_COMBINING_MARKS,
  MAX_TEXT_LINES,
  normalizeLineBreaks,
  VISIBLE_TEXT_PATTERN,
  type TextRuleViolation,
} from './text-rules.js';

/**
 * What a design asks the renderer to draw, with the public API's snake_case names, defined
 * once. The zod schema below is the domain's guard (`validateDesignSpec`: designs also arrive
 * from the CLI and the database), the source of the `DesignSpec` type, and, through
 * `designSpecJsonSchema`, the JSON Schema that the HTTP route validates with and that
 * /docs publishes. Every rule is written once, as a `FieldRule` that carries both its check
 * and its JSON Schema form, so the published schema accepts exactly what the domain accepts
 * (test/unit/design-spec-schema.test.ts proves it with generated designs).
 */

export const PRODUCT_TYPES = ['t-shirt', 'hoodie', 'mug', 'poster', 'tote-bag', 'sticker'] as const;
export type ProductType = (typeof PRODUCT_TYPES)[number];

/** Longest text, in Unicode code points (an emoji or a CJK character counts once). */
export const MAX_TEXT_LENGTH = 200;
export { MAX_TEXT_LINES } from './text-rules.js';

/**
 * One rule on a string field: `check` is what the domain runs (undefined when the value is
 * fine, else the ValidationError to report, naming `field`); `jsonSchema` is the same rule as
 * JSON Schema keywords (patterns are ECMA-262 with the `u` flag, as JSON Schema says),
 * published in the OpenAPI document and compiled by the route's validator. A rule with no
 * JSON Schema form can still be added, but then the published schema is looser than the
 * server, and the property test in test/unit/design-spec-schema.test.ts says so.
 */
export interface FieldRule {
  readonly check: (value: string, field: string) => ValidationError | undefined;
  readonly jsonSchema?: Readonly<Record<string, unknown>>;
}

/** A rule that is one regular expression the value must match. */
export function patternRule(code: ErrorCode, pattern: string, description: string, message: (value: string, field: string) => string): FieldRule {
  const regex = new RegExp(pattern, 'u');
  return {
    check: (value, field) => (regex.test(value) ? undefined : new ValidationError(code, message(value, field), field)),
    jsonSchema: { pattern, description },
  };
}

/** A rule from a function that throws ValidationError for a bad value (and returns otherwise). */
export function assertionRule(assert: (value: string, field: string) => void, jsonSchema?: Readonly<Record<string, unknown>>): FieldRule {
  return {
    check: (value, field) => {
      try {
        assert(value, field);
        return undefined;
      } catch (error) {
        if (error instanceof ValidationError) return error;
        throw error;
      }
    },
    ...(jsonSchema ? { jsonSchema } : {}),
  };
}

/** A text rule's violation as the message of a patternRule (the pattern decides, the rule explains). */
const explained = (rule: (text: string) => TextRuleViolation | undefined, otherwise: string) => (text: string) =>
  rule(text)?.message ?? otherwise;

// Control characters (C0, DEL, C1: Unicode's Cc) and lone UTF-16 surrogates (Cs), which have
// no UTF-8 form. Both would reach Pango as garbage or as invisible layout commands. The line
// breaks among them (LF, VT, FF, CR, NEL) are allowed: they become \n.
const CONTROL = '\\u0000-\\u0009\\u000E-\\u001F\\u007F-\\u0084\\u0086-\\u009F\\uD800-\\uDFFF';

const codePoints = (value: string): number => {
  let length = 0;
  for (const _codePoint of value) length += 1;
  return length;
};

const FORBIDDEN_CHARACTER = new RegExp(`[${CONTROL}]`, 'u');

const forbiddenCharacterIn = (value: string): string => {
  const found = FORBIDDEN_CHARACTER.exec(value)?.[0] ?? '';
  return `U+${(found.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
};

/**
 * The rules on `design_data.text`, checked in this order; the first that fails is reported.
 * Adding a rule is adding a line here: a `patternRule`, an `assertionRule` around a check
 * that throws ValidationError, or any `FieldRule` (with its JSON Schema form when it has one).
 * Each is checked on the text as sent; the accepted text is stored with its line breaks
 * normalised to \n (see normalizeLineBreaks in text-rules.ts).
 */
export const TEXT_RULES: readonly FieldRule[] = [
  patternRule(
    'TEXT_REQUIRED',
    VISIBLE_TEXT_PATTERN,
    'At least one visible character: not only spaces, line breaks, zero-width or other invisible characters.',
    explained(checkVisibleText, 'design_data.text must contain some visible text.'),
  ),
  {
    check: (text, field) =>
      codePoints(text) <= MAX_TEXT_LENGTH
        ? undefined
        : new ValidationError('TEXT_TOO_LONG', `${field} must be at most ${MAX_TEXT_LENGTH} characters, got ${codePoints(text)}.`, field),
    jsonSchema: { maxLength: MAX_TEXT_LENGTH },
  },
  patternRule(
    'TOO_MANY_LINES',
    LINE_LIMIT_PATTERN,
    `At most ${MAX_TEXT_LINES} lines; each of \\n, \\r\\n, \\r, U+000B, U+000C, U+0085, U+2028 and U+2029 is a line break.`,
    explained(checkLineCount, `design_data.text must have at most ${MAX_TEXT_LINES} lines.`),
  ),
  patternRule(
    'INVALID_TEXT',
    `^[^${CONTROL}]*$`,
    'No control characters other than line breaks, no lone surrogates.',
    (text, field) => `${field} contains the control character ${forbiddenCharacterIn(text)}; only printable characters and line breaks are allowed.`,
  ),
  patternRule(
    'UNSUPPORTED_CHARACTERS',
    drawableTextPattern(),
    'Only characters the bundled fonts draw (with their Noto fallbacks): the same set for every font.',
    explained(checkFontCoverage, 'design_data.text has characters that no bundled font can draw.'),
  ),
  patternRule(
    'TOO_MANY_MARKS',
    combiningMarksPattern(),
    `At most ${MAX_COMBINING_MARKS} combining marks (accents) in a row on one character.`,
    explained(checkCombiningMarks, `design_data.text stacks more than ${MAX_COMBINING_MARKS} combining marks on one character.`),
  ),
];

/**
 * Rules across the fields of design_data (a text colour against the background, say), run
 * once every field has passed its own rules; each returns the ValidationError to report, or
 * undefined. JSON Schema cannot say these: describe each in the field descriptions, and
 * expect the property test to find the designs the schema accepts and this refuses.
 */
export const DESIGN_DATA_RULES: ReadonlyArray<(data: CheckedDesignData) => ValidationError | undefined> = [];

/** Something about an accepted design its owner should know: it is stored and rendered anyway. */
export interface DesignWarning {
  readonly code: 'LOW_CONTRAST';
  readonly field: string;
  readonly message: string;
}

/**
 * Warnings about `data` (an accepted or stored design's data), for the API's design
 * responses: LOW_CONTRAST when text_color hardly shows on color (see checkTextContrast).
 * Rules across fields that JSON Schema cannot say are warnings, not refusals, so that the
 * published schema describes exactly what the API accepts.
 */
export function designWarnings(data: { readonly color: string; readonly text_color?: string | undefined }): DesignWarning[] {
  const contrast = data.text_color === undefined ? undefined : checkTextContrast(data.color, data.text_color);
  return contrast ? [{ code: 'LOW_CONTRAST', field: contrast.field, message: contrast.message }] : [];
}

/** design_data once each field has passed its own rules. */
export type CheckedDesignData = z.output<typeof designDataFields>;


const COLOR_RULES: readonly FieldRule[] = [
  patternRule('INVALID_COLOR', HEX_COLOR_PATTERN, '#RGB or #RRGGBB.', (value, field) => {
    // The value is echoed back to the user, so a huge or multi-line one is cut short.
    const shown = JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
    return `${field} must be a hex colour like #FF0000 or #F00, got ${shown}.`;
  }),
];

// The failed rule's error travels in the zod issue's params, so it is reported as the rule made it.
interface RuleIssueParams {
  error: ValidationError;
}

/** A zod string checked by `rules` (first failure only), published with their JSON Schema. */
function ruledString(field: string, rules: readonly FieldRule[], meta: Record<string, unknown>, normalize?: (value: string) => string): z.ZodString {
  const fragments = rules.flatMap((rule) => (rule.jsonSchema ? [rule.jsonSchema] : []));
  const keywords = Object.assign({}, ...fragments.filter((f) => !('pattern' in f))) as Record<string, unknown>;
  const patterns = fragments.filter((f) => 'pattern' in f);
  const schemaForm = patterns.length === 1 ? { ...keywords, pattern: patterns[0]!.pattern } : { ...keywords, ...(patterns.length ? { allOf: patterns } : {}) };
  return z
    .string()
    .superRefine((value, ctx) => {
      for (const rule of rules) {
        const error = rule.check(value, field);
        if (!error) continue;
        ctx.addIssue({ code: 'custom', params: { error } satisfies RuleIssueParams, message: error.message });
        return;
      }
    })
    // A transform that keeps the type (a string), so the JSON Schema can still be generated.
    .overwrite(normalize ?? ((value) => value))
    .meta({ ...meta, ...schemaForm });
}

const color = (field: string, description: string) => ruledString(field, COLOR_RULES, { description, examples: ['#FF0000'] });

/**
 * Where a design's image goes (`design_data.image.placement`): `above` or `below` the text
 * (the text keeps the rest of the canvas), or `behind` it as a background photo. Without
 * text the image is centred whatever the position.
 */
export const IMAGE_POSITIONS = ['above', 'below', 'behind'] as const;
export type ImagePosition = (typeof IMAGE_POSITIONS)[number];
/** How the image fills its area: `contain` shows all of it, `cover` fills the area and crops what overflows. */
export const IMAGE_FITS = ['contain', 'cover'] as const;
export type ImageFit = (typeof IMAGE_FITS)[number];
export const MIN_IMAGE_SIZE = 0.1;
export const MAX_IMAGE_SIZE = 1;

/** An image placement with every default filled in (see resolvePlacement). */
export interface ResolvedPlacement {
  readonly position: ImagePosition;
  readonly size: number;
  readonly fit: ImageFit;
}

/**
 * The placement a design's image is drawn with: what it asked for, and for what it left out
 * position `above`, size 0.5 and fit `contain`, or, `behind` the text, size 1 (the whole
 * canvas) and fit `cover`. Defaults are applied here, at render time, not stored, so a
 * stored design is what its owner sent.
 */
export function resolvePlacement(placement: { position?: ImagePosition | undefined; size?: number | undefined; fit?: ImageFit | undefined } = {}): ResolvedPlacement {
  const position = placement.position ?? 'above';
  const behind = position === 'behind';
  return { position, size: placement.size ?? (behind ? 1 : 0.5), fit: placement.fit ?? (behind ? 'cover' : 'contain') };
}

const imagePlacement = z.strictObject({
  position: z.enum(IMAGE_POSITIONS).optional().meta({
    description: 'above or below the text (the text keeps the rest of the canvas), or behind it as a background photo. Default above. Without text the image is centred.',
  }),
  size: z.number().min(MIN_IMAGE_SIZE).max(MAX_IMAGE_SIZE).optional().meta({
    description:
      `The share of the canvas the image's area takes, ${MIN_IMAGE_SIZE} to ${MAX_IMAGE_SIZE}: its height above or below the text (at most 0.8 ` +
      'when there is text, so the text keeps a fifth), its side behind the text or alone. Default 0.5, or 1 behind the text.',
    examples: [0.5],
  }),
  fit: z.enum(IMAGE_FITS).optional().meta({
    description: 'contain shows all of the image inside its area; cover fills the area and crops what overflows. Default contain, or cover behind the text.',
  }),
}).meta({ description: 'Where and how large the image is drawn; every field has a default.' });

const designImage = z.strictObject({
  upload_id: z.string().regex(new RegExp(UUID_PATTERN, 'u')).meta({
    description: 'The id of one of your uploads (POST /api/v1/uploads). While it is being checked the design waits in PENDING; it renders once the upload is PUBLISHED.',
    examples: ['3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b'],
  }),
  placement: imagePlacement.optional(),
}).meta({ description: 'An image of yours (a logo, a photo) to print with the text, or alone.' });

const designDataFields = z.strictObject({
  text: ruledString('design_data.text', TEXT_RULES, {
    minLength: 1,
    description:
      `The text to print: 1 to ${MAX_TEXT_LENGTH} characters (code points), up to ${MAX_TEXT_LINES} lines (every kind of line break ` +
      'counts, and is stored as \\n), something visible, no control characters, only characters the bundled fonts draw. ' +
      'Required unless the design has an image.',
    examples: ['Test Design'],
  }, normalizeLineBreaks).optional(),
  image: designImage.optional(),
  font: z.enum(FONT_NAMES as [FontName, ...FontName[]]).meta({ description: 'One of the bundled fonts.' }),
  color: color('design_data.color', 'Background colour, #RGB or #RRGGBB.'),
  text_color: color(
    'design_data.text_color',
    'Text colour; without it, white or black, whichever contrasts more with the background. ' +
      'A colour that hardly shows on the background (contrast below 1.5:1) is accepted with a LOW_CONTRAST warning.',
  ).optional(),
});

export const designDataSchema = designDataFields
  .superRefine((data, ctx) => {
    // Text or an image, or both: the JSON Schema says it with the anyOf below.
    if (data.text === undefined && data.image === undefined) {
      const error = new ValidationError('FIELD_REQUIRED', 'design_data.text is required (a design without text needs design_data.image).', 'design_data.text');
      ctx.addIssue({ code: 'custom', path: ['text'], params: { error } satisfies RuleIssueParams, message: error.message });
      return;
    }
    for (const rule of DESIGN_DATA_RULES) {
      const error = rule(data);
      if (!error) continue;
      ctx.addIssue({ code: 'custom', path: error.field?.startsWith('design_data.') ? [error.field.slice('design_data.'.length)] : [], params: { error } satisfies RuleIssueParams, message: error.message });
      return;
    }
  })
  .meta({ description: 'What to print: text, an image, or both.', anyOf: [{ type: 'object', required: ['text'] }, { type: 'object', required: ['image'] }] });

export const designSpecSchema = z.strictObject({
  product_type: z.enum(PRODUCT_TYPES).meta({ description: 'The product the design is printed on.' }),
  design_data: designDataSchema,
});

export type DesignSpec = z.output<typeof designSpecSchema>;
export type DesignData = DesignSpec['design_data'];

/**
 * The JSON Schema (2020-12, as OpenAPI 3.1 uses) of a design as the API accepts it, generated
 * from `designSpecSchema`. A fresh copy on each call: Fastify and @fastify/swagger annotate
 * the schemas they are given.
 */
export function designSpecJsonSchema(): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(designSpecSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return schema;
}

const FIELD_CODES: Readonly<Record<string, ErrorCode>> = {
  product_type: 'UNKNOWN_PRODUCT_TYPE',
  'design_data.font': 'UNKNOWN_FONT',
};

// How a refusal names the value and lists the choices.
const ENUM_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  product_type: ['product_type', 'product types'],
  'design_data.font': ['font', 'fonts'],
};

/**
 * Checks a whole design and returns a clean copy. Throws ValidationError for the first
 * problem found, with `field` naming it (`design_data.text`; `design` for the input as a
 * whole) and one of these codes: FIELD_REQUIRED (design_data.text too when there is no
 * image), UNKNOWN_FIELD, INVALID_TYPE (a field of the wrong JSON type), UNKNOWN_PRODUCT_TYPE,
 * UNKNOWN_FONT, INVALID_COLOR, INVALID_UPLOAD_ID (design_data.image.upload_id not a UUID),
 * INVALID_VALUE (a placement position or fit not in its list, a size outside 0.1–1), and the
 * codes of TEXT_RULES (TEXT_REQUIRED, TEXT_TOO_LONG, TOO_MANY_LINES, INVALID_TEXT,
 * UNSUPPORTED_CHARACTERS). Whether the upload exists and is the caller's is not checked here
 * (no I/O): DesignService.create does that.
 * The copy's text has its line breaks normalised to \n.
 */
export function validateDesignSpec(input: unknown): DesignSpec {
  const result = designSpecSchema.safeParse(input);
  if (result.success) return result.data;
  throw toValidationError(result.error.issues[0]!, input);
}

/** The field names of the object `schema` describes at `path` (a mistyped field's message lists them), or undefined. */
function knownFieldsAt(schema: z.ZodType, path: readonly string[]): string[] | undefined {
  let current: z.ZodType | undefined = schema;
  for (let depth = 0; current; ) {
    if (current instanceof z.ZodOptional) current = current.unwrap() as z.ZodType;
    else if (current instanceof z.ZodPipe) current = current.in as z.ZodType;
    else if (!(current instanceof z.ZodObject)) return undefined;
    else if (depth === path.length) return Object.keys(current.shape);
    else current = current.shape[path[depth++]!] as z.ZodType | undefined;
  }
  return undefined;
}

function toValidationError(issue: z.core.$ZodIssue, input: unknown): ValidationError {
  const path = issue.path.map(String);
  const field = path.join('.') || 'design';
  const parent = valueAt(input, path.slice(0, -1));
  const value = valueAt(input, path);
  // A rule's own error first: it knows best (the text-or-image rule names a missing field too).
  if (issue.code === 'custom') {
    const error = (issue.params as Partial<RuleIssueParams> | undefined)?.error;
    if (error instanceof ValidationError) return error;
  }
  if (issue.code === 'unrecognized_keys') {
    const unknown = path.length ? `${field}.${issue.keys[0]}` : (issue.keys[0] ?? field);
    // Nested objects only: at the top level the routes accept more than the design (watermark) and say so themselves.
    const known = path.length > 0 ? knownFieldsAt(designSpecSchema, path) : undefined;
    const takes = known ? ` (${field} takes: ${known.join(', ')})` : '';
    return new ValidationError('UNKNOWN_FIELD', `${unknown} is not a known field; remove it${takes}.`, unknown);
  }
  if (path.length > 0 && isRecord(parent) && (!Object.hasOwn(parent, path.at(-1)!) || value === undefined)) {
    return new ValidationError('FIELD_REQUIRED', `${field} is required.`, field);
  }
  if (issue.code === 'invalid_type') {
    const expected = issue.expected === 'object' ? 'an object' : `a ${issue.expected}`;
    return new ValidationError('INVALID_TYPE', `${field} must be ${expected}, got ${describeType(value)}.`, field);
  }
  if (issue.code === 'invalid_value') {
    if (typeof value !== 'string') return new ValidationError('INVALID_TYPE', `${field} must be a string, got ${describeType(value)}.`, field);
    const [name, plural] = ENUM_NAMES[field] ?? [field, 'values'];
    return new ValidationError(
      FIELD_CODES[field] ?? 'INVALID_VALUE',
      `Unknown ${name} ${quote(value)}. Available ${plural}: ${issue.values.join(', ')}.`,
      field,
    );
  }
  if (issue.code === 'invalid_format' && field === 'design_data.image.upload_id') {
    return new ValidationError('INVALID_UPLOAD_ID', `${field} must be the UUID of one of your uploads, as POST /api/v1/uploads returned it, got ${typeof value === 'string' ? quote(value) : describeType(value)}.`, field);
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    return new ValidationError('INVALID_VALUE', `${field} must be a number from ${MIN_IMAGE_SIZE} to ${MAX_IMAGE_SIZE}, got ${String(value)}.`, field);
  }
  return new ValidationError('VALIDATION_FAILED', `${field}: ${issue.message}.`, field);
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let value = input;
  for (const key of path) value = isRecord(value) && Object.hasOwn(value, key) ? value[key] : undefined;
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  return value === undefined ? 'nothing' : value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}
