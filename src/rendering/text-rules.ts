import { contrastRatio, parseColor } from './colors.js';
import { faceCoverage, resolveFont, SUPPORTED_SCRIPTS, type FontName } from './fonts.js';

/**
 * Rules a design's text must follow so that the preview shows what the user typed:
 * something visible, within the line limit however the lines are broken, only characters
 * the bundled fonts draw (never hex boxes, never a system font), in a colour that stands
 * out from the background. Pure functions: each returns the violation it finds, the
 * caller decides how to report it (design-spec.ts throws it as a ValidationError).
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
 * on a screen preview (1:1 is a blank image), so that is refused as a mistake.
 */
export const MIN_TEXT_CONTRAST = 1.5;

/**
 * Every mandatory line break of Unicode's line breaking algorithm (UAX #14 classes BK,
 * CR, LF, NL): CR LF, CR, LF, VT, FF, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR. Pango
 * breaks a line at each of them, so each must count as one.
 */
const LINE_BREAK = /\r\n|[\n\v\f\r\u0085\u2028\u2029]/gu;

/** `text` with every kind of line break (see LINE_BREAK) written as `\n`. */
export function normalizeLineBreaks(text: string): string {
  return text.replace(LINE_BREAK, '\n');
}

/** How many lines Pango lays `text` out in before wrapping: one more than its line breaks. */
export function countLines(text: string): number {
  return (text.match(LINE_BREAK)?.length ?? 0) + 1;
}

// Characters that draw nothing: white space, line breaks, controls, format characters
// (zero-width space/joiners, word joiner, soft hyphen, bidi controls), the default
// ignorables (variation selectors, tag characters, Hangul fillers) and the blank
// Braille pattern, which fonts draw as an empty cell.
const INVISIBLE = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u2800]$/u;
// Drawn by nothing, so no font needs to cover it either.
const NOT_DRAWN = /^[\n\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}]$/u;

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
  const held = new Set<number>();
  for (const char of text) {
    if (!INVISIBLE.test(char)) return undefined;
    held.add(char.codePointAt(0) ?? 0);
  }
  const field = 'design_data.text';
  const listed = [...held].filter((codePoint) => codePoint !== 0x20 && codePoint !== 0x0a);
  const detail =
    listed.length === 0
      ? ''
      : ` It holds only characters that draw nothing: ${listed.slice(0, 8).map(describeCodePoint).join(', ')}${listed.length > 8 ? ', …' : ''}.`;
  return { field, code: 'TEXT_REQUIRED', message: `${field} must contain some visible text.${detail}` };
}

/** TOO_MANY_LINES when `text` has more than `max` lines, counting every kind of line break. */
export function checkLineCount(text: string, max: number = MAX_TEXT_LINES): TextRuleViolation | undefined {
  const lines = countLines(text);
  if (lines <= max) return undefined;
  const field = 'design_data.text';
  return { field, code: 'TOO_MANY_LINES', message: `${field} must have at most ${max} lines, got ${lines}.` };
}

const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });

/**
 * UNSUPPORTED_CHARACTERS when a character (grapheme) of `text` is drawn by neither `font`
 * nor one bundled fallback: each grapheme must come whole from one face, as Pango draws a
 * cluster, so that nothing is left to system fonts or drawn as a hex box. The message
 * names the characters and what the fonts support.
 */
export function checkFontCoverage(text: string, font: FontName): TextRuleViolation | undefined {
  const faces = resolveFont(font).faces.map(faceCoverage);
  // Most texts are drawn by the font itself: then every grapheme is, without segmenting.
  const own = faces[0];
  let allOwn = true;
  for (const char of text) {
    const codePoint = char.codePointAt(0) ?? 0;
    if (own?.has(codePoint) || codePoint === 0x0a || NOT_DRAWN.test(char)) continue;
    allOwn = false;
    break;
  }
  if (allOwn) return undefined;
  const missing = new Map<string, string>();
  for (const { segment } of graphemes.segment(text)) {
    if (missing.has(segment)) continue;
    const drawn = [...segment].filter((char) => !NOT_DRAWN.test(char)).map((char) => char.codePointAt(0) ?? 0);
    if (drawn.length === 0) continue;
    if (faces.some((face) => drawn.every((codePoint) => face.has(codePoint)))) continue;
    missing.set(segment, drawn.map(describeCodePoint).join(' '));
  }
  if (missing.size === 0) return undefined;
  const field = 'design_data.text';
  const shown = [...missing].slice(0, 8).map(([segment, codes]) => `${JSON.stringify(segment)} (${codes})`);
  return {
    field,
    code: 'UNSUPPORTED_CHARACTERS',
    message:
      `${field} has ${missing.size === 1 ? 'a character' : `${missing.size} characters`} that no bundled font can draw: ` +
      `${shown.join(', ')}${missing.size > 8 ? ', …' : ''}. Every font draws ${SUPPORTED_SCRIPTS}, ` +
      `${font} itself or through the bundled Noto fallbacks; remove or replace the others.`,
  };
}

/**
 * Every rule on the text of a design in `font`, in order: visible text, line count,
 * font coverage. Returns the first violation. Line breaks of any kind count; callers
 * should store and render normalizeLineBreaks(text).
 */
export function validateDesignText(text: string, font: FontName): TextRuleViolation | undefined {
  return checkVisibleText(text) ?? checkLineCount(text) ?? checkFontCoverage(text, font);
}

/**
 * LOW_CONTRAST when `textColor` on `background` (both `#RGB`/`#RRGGBB`, already valid)
 * has a WCAG contrast ratio below MIN_TEXT_CONTRAST.
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
