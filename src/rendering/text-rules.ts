import { contrastRatio, parseColor } from './colors.js';
import { FONT_NAMES, faceCoverage, resolveFont, SUPPORTED_SCRIPTS } from './fonts.js';

/**
 * Rules a design's text must follow so that the preview shows what the user typed:
 * something visible, within the line limit however the lines are broken, only characters
 * the bundled fonts draw (never hex boxes, never a system font), in a colour that stands
 * out from the background (a warning). Pure functions: each returns the violation it finds, the
 * caller decides how to report it (design-spec.ts turns the text rules into its schema's
 * patterns and refusals, and contrast into a warning).
 */

export interface TextRuleViolation {
  readonly field: 'design_data.text' | 'design_data.text_color';
  readonly code: 'TEXT_REQUIRED' | 'TOO_MANY_LINES' | 'UNSUPPORTED_CHARACTERS' | 'LOW_CONTRAST';
  readonly message: string;
}

/** Most lines a text may have, however they are broken. */
export const MAX_TEXT_LINES = 10;

/**
 * Least WCAG 2 contrast ratio between text_color and the background. WCAG asks 3:1 of
 * large text for comfortable reading, but a tone-on-tone print (#AABBCC on white, 2:1) is
 * a design choice a customer may make on purpose; below 1.5:1 the text all but vanishes
 * on a screen preview (1:1 is a blank image), so the API warns about it (LOW_CONTRAST).
 */
export const MIN_TEXT_CONTRAST = 1.5;

/*
 * Each rule below is one regular expression (ECMA-262, `u` flag, as JSON Schema reads
 * patterns), so that design-spec.ts can publish it in the API's JSON Schema and a client
 * or a fuzzer that checks the published schema agrees with the server. Character classes
 * are spelled as explicit ranges rather than \p{…} properties, which other regex dialects
 * lack; test/unit/rendering-text-rules.test.ts checks each against its property definition.
 */

type Ranges = ReadonlyArray<readonly [number, number]>;

/** A regex character class body (no brackets) for `ranges`. */
export function classOf(ranges: Ranges): string {
  const escape = (codePoint: number) =>
    codePoint > 0xffff ? `\\u{${codePoint.toString(16).toUpperCase()}}` : `\\u${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  return ranges.map(([first, last]) => (first === last ? escape(first) : `${escape(first)}${last > first + 1 ? '-' : ''}${escape(last)}`)).join('');
}

/**
 * Every mandatory line break of Unicode's line breaking algorithm (UAX #14 classes BK,
 * CR, LF, NL): CR LF, CR, LF, VT, FF, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR. Pango
 * breaks a line at each of them, so each must count as one.
 */
const LINE_BREAK = /\r\n|[\n\v\f\r\u0085\u2028\u2029]/gu;
/** The line-break characters, as a character class body. */
export const LINE_BREAK_CLASS = '\\n\\u000B\\u000C\\r\\u0085\\u2028\\u2029';
// One line break: CR LF, or one of the others (a CR only when no LF follows, so that
// there is a single way to read a text and the pattern never backtracks).
const ONE_BREAK = `(?:\\r\\n|\\r(?!\\n)|[\\n\\u000B\\u000C\\u0085\\u2028\\u2029])`;

/** At most MAX_TEXT_LINES lines, whatever breaks them (see LINE_BREAK). */
export const LINE_LIMIT_PATTERN = `^[^${LINE_BREAK_CLASS}]*(?:${ONE_BREAK}[^${LINE_BREAK_CLASS}]*){0,${MAX_TEXT_LINES - 1}}$`;

/** `text` with every kind of line break (see LINE_BREAK) written as `\n`. */
export function normalizeLineBreaks(text: string): string {
  return text.replace(LINE_BREAK, '\n');
}

/** How many lines Pango lays `text` out in before wrapping: one more than its line breaks. */
export function countLines(text: string): number {
  return (text.match(LINE_BREAK)?.length ?? 0) + 1;
}

/**
 * Characters that draw nothing: white space, line breaks, controls, format characters
 * (zero-width space/joiners, word joiner, soft hyphen, bidi controls), the default
 * ignorables (variation selectors, tag characters, Hangul fillers) and the blank Braille
 * pattern, which fonts draw as an empty cell. Defined as
 * [\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u2800].
 */
export const INVISIBLE_RANGES: Ranges = [
  [0x0, 0x20], [0x7f, 0xa0], [0xad, 0xad], [0x34f, 0x34f], [0x600, 0x605], [0x61c, 0x61c], [0x6dd, 0x6dd], [0x70f, 0x70f],
  [0x890, 0x891], [0x8e2, 0x8e2], [0x115f, 0x1160], [0x1680, 0x1680], [0x17b4, 0x17b5], [0x180b, 0x180f], [0x2000, 0x200f],
  [0x2028, 0x202f], [0x205f, 0x206f], [0x2800, 0x2800], [0x3000, 0x3000], [0x3164, 0x3164], [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
  [0xffa0, 0xffa0], [0xfff0, 0xfffb], [0x110bd, 0x110bd], [0x110cd, 0x110cd], [0x13430, 0x1343f], [0x1bca0, 0x1bca3],
  [0x1d173, 0x1d17a], [0xe0000, 0xe0fff],
];

/**
 * Characters no font needs to draw (they draw nothing): \n, controls, format characters
 * and default ignorables. Defined as [\n\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}].
 */
export const NOT_DRAWN_RANGES: Ranges = [
  [0x0, 0x1f], [0x7f, 0x9f], [0xad, 0xad], [0x34f, 0x34f], [0x600, 0x605], [0x61c, 0x61c], [0x6dd, 0x6dd], [0x70f, 0x70f],
  [0x890, 0x891], [0x8e2, 0x8e2], [0x115f, 0x1160], [0x17b4, 0x17b5], [0x180b, 0x180f], [0x200b, 0x200f], [0x202a, 0x202e],
  [0x2060, 0x206f], [0x3164, 0x3164], [0xfe00, 0xfe0f], [0xfeff, 0xfeff], [0xffa0, 0xffa0], [0xfff0, 0xfffb], [0x110bd, 0x110bd],
  [0x110cd, 0x110cd], [0x13430, 0x1343f], [0x1bca0, 0x1bca3], [0x1d173, 0x1d17a], [0xe0000, 0xe0fff],
];

/** At least one character that draws something (see INVISIBLE_RANGES). */
export const VISIBLE_TEXT_PATTERN = `[^${classOf(INVISIBLE_RANGES)}]`;
const VISIBLE = new RegExp(VISIBLE_TEXT_PATTERN, 'u');
const INVISIBLE = new RegExp(`^[${classOf(INVISIBLE_RANGES)}]$`, 'u');

const NAMES: Record<number, string> = {
  0x00ad: 'SOFT HYPHEN',
  0x034f: 'COMBINING GRAPHEME JOINER',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x2060: 'WORD JOINER',
  0x2800: 'BRAILLE PATTERN BLANK',
  0x3164: 'HANGUL FILLER',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE',
};

/** `U+200B` plus its name when it is one of the usual invisible suspects. */
function describeCodePoint(codePoint: number): string {
  const code = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  const name = NAMES[codePoint] ?? (codePoint >= 0xfe00 && codePoint <= 0xfe0f ? 'VARIATION SELECTOR' : undefined);
  return name ? `${code} ${name}` : code;
}

/**
 * TEXT_REQUIRED unless `text` has at least one character that draws something. A text of
 * only invisible characters would publish a blank design; the message names what it held.
 */
export function checkVisibleText(text: string): TextRuleViolation | undefined {
  if (VISIBLE.test(text)) return undefined;
  const held = new Set<number>();
  for (const char of text) if (INVISIBLE.test(char)) held.add(char.codePointAt(0) ?? 0);
  const field = 'design_data.text';
  const listed = [...held].filter((codePoint) => codePoint !== 0x20 && codePoint !== 0x0a);
  const detail =
    listed.length === 0
      ? ''
      : ` It holds only characters that draw nothing: ${listed.slice(0, 8).map(describeCodePoint).join(', ')}${listed.length > 8 ? ', …' : ''}.`;
  return { field, code: 'TEXT_REQUIRED', message: `${field} must contain some visible text.${detail}` };
}

const LINE_LIMIT = new RegExp(LINE_LIMIT_PATTERN, 'u');

/** TOO_MANY_LINES when `text` has more than MAX_TEXT_LINES lines, counting every kind of line break. */
export function checkLineCount(text: string): TextRuleViolation | undefined {
  if (LINE_LIMIT.test(text)) return undefined;
  const field = 'design_data.text';
  return { field, code: 'TOO_MANY_LINES', message: `${field} must have at most ${MAX_TEXT_LINES} lines, got ${countLines(text)}.` };
}

/** Ranges in `a` or in `b`. */
function unite(a: Ranges, b: Ranges): Ranges {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [first, last] of all) {
    const previous = merged.at(-1);
    if (previous && first <= previous[1] + 1) previous[1] = Math.max(previous[1], last);
    else merged.push([first, last]);
  }
  return merged;
}

/** Ranges in both `a` and `b` (both sorted and disjoint). */
function intersect(a: Ranges, b: Ranges): Ranges {
  const both: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [aFirst, aLast] = a[i]!;
    const [bFirst, bLast] = b[j]!;
    const first = Math.max(aFirst, bFirst);
    const last = Math.min(aLast, bLast);
    if (first <= last) both.push([first, last]);
    if (aLast < bLast) i += 1;
    else j += 1;
  }
  return both;
}

/**
 * The code points every design font draws, itself or through its fallback chain (the
 * union of the chain's cmaps, intersected across FONT_NAMES), plus those nothing needs to
 * draw (NOT_DRAWN_RANGES, and U+2028/U+2029, which become \n). A rule per code point, not
 * per grapheme: Pango picks a face for each character, so a character some face of the
 * chain covers is never drawn as a box, even inside a cluster whose base comes from another
 * face (test/unit/rendering-text-rules.test.ts renders such clusters). The same set for every
 * font, so that the API's JSON Schema, which checks the text without its font, says it.
 * Read from the font files once per process.
 */
export function drawableRanges(): Ranges {
  if (!drawable) {
    const chains = FONT_NAMES.map((name) => resolveFont(name).faces.map(faceCoverage).reduce<Ranges>((chain, face) => unite(chain, face.ranges()), []));
    const everyFont = chains.reduce((all, chain) => intersect(all, chain));
    drawable = unite(everyFont, [...NOT_DRAWN_RANGES, [0x2028, 0x2029]]);
  }
  return drawable;
}
let drawable: Ranges | undefined;

let drawablePattern: string | undefined;
/** Only characters that drawableRanges() holds. */
export function drawableTextPattern(): string {
  drawablePattern ??= `^[${classOf(drawableRanges())}]*$`;
  return drawablePattern;
}
let drawableRegex: RegExp | undefined;

/**
 * UNSUPPORTED_CHARACTERS when a character of `text` is drawn by no font of the fallback
 * chain of some design font (see drawableRanges), so that nothing is left to system fonts
 * or drawn as a hex box. The message names the characters and what the fonts support.
 */
export function checkFontCoverage(text: string): TextRuleViolation | undefined {
  drawableRegex ??= new RegExp(drawableTextPattern(), 'u');
  if (drawableRegex.test(text)) return undefined;
  const one = new RegExp(`^[${classOf(drawableRanges())}]$`, 'u');
  const missing = new Map<string, string>();
  for (const char of text) if (!missing.has(char) && !one.test(char)) missing.set(char, describeCodePoint(char.codePointAt(0) ?? 0));
  const field = 'design_data.text';
  const shown = [...missing].slice(0, 8).map(([char, code]) => `${JSON.stringify(char)} (${code})`);
  return {
    field,
    code: 'UNSUPPORTED_CHARACTERS',
    message:
      `${field} has ${missing.size === 1 ? 'a character' : `${missing.size} characters`} that no bundled font can draw: ` +
      `${shown.join(', ')}${missing.size > 8 ? ', …' : ''}. Every font draws ${SUPPORTED_SCRIPTS}, ` +
      `itself or through the bundled Noto fallbacks; remove or replace the others.`,
  };
}

/**
 * Every rule on the text of a design, in order: visible text, line count, font coverage.
 * Returns the first violation. Line breaks of any kind count; callers should store and
 * render normalizeLineBreaks(text).
 */
export function validateDesignText(text: string): TextRuleViolation | undefined {
  return checkVisibleText(text) ?? checkLineCount(text) ?? checkFontCoverage(text);
}

/**
 * LOW_CONTRAST when `textColor` on `background` (both `#RGB`/`#RRGGBB`, already valid)
 * has a WCAG contrast ratio below MIN_TEXT_CONTRAST. Not a refusal: JSON Schema cannot
 * compare two fields, and the published schema must say everything the API refuses, so
 * the API accepts such a design and returns this as a warning (see designWarnings).
 */
export function checkTextContrast(background: string, textColor: string): TextRuleViolation | undefined {
  const ratio = contrastRatio(parseColor(background, 'design_data.color'), parseColor(textColor, 'design_data.text_color'));
  if (ratio >= MIN_TEXT_CONTRAST) return undefined;
  const field = 'design_data.text_color';
  return {
    field,
    code: 'LOW_CONTRAST',
    message:
      `${field} ${textColor} on design_data.color ${background} has a contrast ratio of ${ratio.toFixed(2)}:1, so the text ` +
      `would hardly show; it needs at least ${MIN_TEXT_CONTRAST}:1. Pick a lighter or darker text colour, or leave ` +
      `text_color out to get white or black, whichever contrasts more.`,
  };
}
