import { ValidationError } from '../errors.js';
import { parseColor, type ColorField } from './colors.js';
import { resolveFont, type FontName } from './fonts.js';
import { checkFontCoverage, checkLineCount, checkTextContrast, checkVisibleText, normalizeLineBreaks, type TextRuleViolation } from './text-rules.js';

/**
 * What a design asks the renderer to draw, with the public API's snake_case names.
 * `validateDesignSpec` is the domain's own guard: the HTTP layer's JSON schema may check
 * the same things, but designs also arrive from the database and the CLI.
 */

export const PRODUCT_TYPES = ['t-shirt', 'hoodie', 'mug', 'poster', 'tote-bag', 'sticker'] as const;
export type ProductType = (typeof PRODUCT_TYPES)[number];

/** Longest text, in Unicode code points (an emoji or a CJK character counts once). */
export const MAX_TEXT_LENGTH = 200;
export { MAX_TEXT_LINES } from './text-rules.js';

export interface DesignData {
  text: string;
  font: FontName;
  /** Background colour, `#RGB` or `#RRGGBB`. */
  color: string;
  /** Text colour; without it the text is white or black, whichever contrasts more. */
  text_color?: string;
}

export interface DesignSpec {
  product_type: ProductType;
  design_data: DesignData;
}

// Control characters (C0, DEL, C1) other than \n, and lone UTF-16 surrogates, which have
// no UTF-8 form. Both would reach Pango as garbage or as invisible layout commands.
const FORBIDDEN_IN_TEXT = /(?![\n])[\p{Cc}\p{Cs}]/u;

/**
 * Checks a whole design and returns a clean copy holding only the known fields (a null
 * `text_color` counts as absent). Throws ValidationError for the first problem found,
 * with `field` naming it (`design_data.text`) and one of these codes:
 * INVALID_TYPE (a field of the wrong JSON type, or missing), UNKNOWN_PRODUCT_TYPE,
 * TEXT_REQUIRED, TEXT_TOO_LONG, TOO_MANY_LINES, INVALID_TEXT, UNKNOWN_FONT, UNSUPPORTED_CHARACTERS,
 * INVALID_COLOR, LOW_CONTRAST (see text-rules.ts). The copy's text has its line breaks normalised to \n.
 */
export function validateDesignSpec(input: unknown): DesignSpec {
  if (!isRecord(input)) throw typeError('design', 'an object with product_type and design_data', input);
  const productType = input.product_type;
  if (typeof productType !== 'string') throw typeError('product_type', 'a string', productType);
  if (!(PRODUCT_TYPES as readonly string[]).includes(productType)) {
    throw new ValidationError(
      'UNKNOWN_PRODUCT_TYPE',
      `Unknown product_type ${quote(productType)}. Available product types: ${PRODUCT_TYPES.join(', ')}.`,
      'product_type',
    );
  }
  const data = input.design_data;
  if (!isRecord(data)) throw typeError('design_data', 'an object with text, font and color', data);

  const text = data.text;
  if (typeof text !== 'string') throw typeError('design_data.text', 'a string', text);
  // Every kind of line break becomes \n, so the line limit counts what Pango breaks at.
  const normalized = normalizeLineBreaks(text);
  validateText(normalized);

  const font = data.font;
  if (typeof font !== 'string') throw typeError('design_data.font', 'a string', font);
  const { name } = resolveFont(font);
  throwViolation(checkFontCoverage(normalized, name));

  const color = checkColor(data.color, 'design_data.color');
  const designData: DesignData = { text: normalized, font: name, color };
  if (data.text_color !== undefined && data.text_color !== null) {
    designData.text_color = checkColor(data.text_color, 'design_data.text_color');
    throwViolation(checkTextContrast(color, designData.text_color));
  }
  return { product_type: productType as ProductType, design_data: designData };
}

function validateText(text: string): void {
  const field = 'design_data.text';
  throwViolation(checkVisibleText(text));
  let length = 0;
  for (const _codePoint of text) length += 1;
  if (length > MAX_TEXT_LENGTH) {
    throw new ValidationError('TEXT_TOO_LONG', `${field} must be at most ${MAX_TEXT_LENGTH} characters, got ${length}.`, field);
  }
  throwViolation(checkLineCount(text));
  const forbidden = FORBIDDEN_IN_TEXT.exec(text);
  if (forbidden) {
    const code = `U+${(forbidden[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    throw new ValidationError(
      'INVALID_TEXT',
      `${field} contains the control character ${code}; only printable characters and \\n line breaks are allowed.`,
      field,
    );
  }
}

function throwViolation(violation: TextRuleViolation | undefined): void {
  if (violation) throw new ValidationError(violation.code, violation.message, violation.field);
}

function checkColor(value: unknown, field: ColorField): string {
  if (typeof value !== 'string') throw typeError(field, 'a hex colour string like "#FF0000"', value);
  parseColor(value, field);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeError(field: string, expected: string, value: unknown): ValidationError {
  const got = value === undefined ? 'nothing' : value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  return new ValidationError('INVALID_TYPE', `${field} must be ${expected}, got ${got}.`, field);
}

function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}
