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
  readonly code: 'TEXT_REQUIRED' | 'TOO_MANY_LINES' | 'TOO_MANY_MARKS' | 'UNSUPPORTED_CHARACTERS' | 'LOW_CONTRAST';
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
  0xfdfd: 'ARABIC LIGATURE BISMILLAH AR-RAHMAN AR-RAHEEM',
};

/**
 * Characters a bundled face has a glyph for that the renderer draws blank, each with what to
 * type instead. U+FDFD, the basmala as one glyph 10.9 em wide (Noto Sans Arabic): Pango lays
 * it out (its advance takes room) but cairo draws no ink at any size, so the preview would be
 * blank where print.pdf, which embeds the outline, is not; and 100 of them on a line passed
 * cairo's 32,767-pixel surface limit. test/unit/text-surface.test.ts renders each to check it
 * is still blank, and every other glyph wider than 2 em to check it is not.
 */
export const UNDRAWN_CHARACTERS: ReadonlyMap<number, string> = new Map([[0xfdfd, 'type the phrase in Arabic letters instead: بسم الله الرحمن الرحيم']]);

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

/** Ranges in `a` (sorted and disjoint) without the code points of `codePoints`. */
function remove(a: Ranges, codePoints: Iterable<number>): Ranges {
  let out: Array<readonly [number, number]> = [...a];
  for (const codePoint of codePoints) {
    out = out.flatMap(([first, last]): Array<readonly [number, number]> => {
      if (codePoint < first || codePoint > last) return [[first, last]];
      return [
        ...(first < codePoint ? [[first, codePoint - 1] as const] : []),
        ...(codePoint < last ? [[codePoint + 1, last] as const] : []),
      ];
    });
  }
  return out;
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
 * draw (NOT_DRAWN_RANGES, and U+2028/U+2029, which become \n), less the glyphs the renderer
 * draws blank (UNDRAWN_CHARACTERS). A rule per code point, not
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
    drawable = remove(unite(everyFont, [...NOT_DRAWN_RANGES, [0x2028, 0x2029]]), UNDRAWN_CHARACTERS.keys());
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
  const undrawn = [...missing.keys()].map((char) => char.codePointAt(0) ?? 0).filter((codePoint) => UNDRAWN_CHARACTERS.has(codePoint));
  if (undrawn.length === missing.size) {
    return {
      field,
      code: 'UNSUPPORTED_CHARACTERS',
      message:
        `${field} has ${shown.join(', ')}, which the renderer draws blank: ` +
        `${undrawn.map((codePoint) => `for ${describeCodePoint(codePoint)}, ${UNDRAWN_CHARACTERS.get(codePoint)}`).join('; ')}.`,
    };
  }
  return {
    field,
    code: 'UNSUPPORTED_CHARACTERS',
    message:
      `${field} has ${missing.size === 1 ? 'a character' : `${missing.size} characters`} that no bundled font can draw: ` +
      `${shown.join(', ')}${missing.size > 8 ? ', …' : ''}. Every font draws ${SUPPORTED_SCRIPTS}, ` +
      `itself or through the bundled Noto fallbacks; remove or replace the others.`,
  };
}

let composable: RegExp | undefined;
const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });

/**
 * `text` as the layouts draw it: each grapheme in Unicode's composed form (NFC) when every
 * character of that form is drawable, else as written. Canonically equivalent, so it shows
 * the same text; but HarfBuzz composes a base and its marks into one glyph where the font
 * has it, and fontkit, which the print layout measures with, does not, so without this the
 * print's lines and the preview's differed for decomposed accents ("e" + U+0301). Both
 * layoutText and layoutPrintText lay out this form.
 */
export function composedText(text: string): string {
  const composed = text.normalize('NFC');
  if (composed === text) return text;
  composable ??= new RegExp(drawableTextPattern(), 'u');
  let out = '';
  for (const { segment } of graphemes.segment(text)) {
    const nfc = segment.normalize('NFC');
    out += nfc !== segment && composable.test(nfc) ? nfc : segment;
  }
  return out;
}

/**
 * Most combining marks (Unicode's \p{M}) in a row, on one character: Unicode's stream-safe
 * limit (UAX #15). Real text stacks two to four (Vietnamese, Hebrew points and cantillation,
 * Thai, Devanagari); "zalgo" text stacks hundreds, a tower taller than a print area at the
 * smallest legible size (199 marks over one letter are 40 em high: the print was refused).
 * 30 stack about 7 em high, which every product prints.
 */
export const MAX_COMBINING_MARKS = 30;

let markClass: string | undefined;
/** The combining marks that drawableRanges() holds, as a character class body (others are refused anyway). */
function combiningMarkClass(): string {
  if (markClass === undefined) {
    const marks: [number, number][] = [];
    const isMark = /^\p{M}$/u;
    for (const [first, last] of drawableRanges()) {
      for (let codePoint = first; codePoint <= last; codePoint++) {
        if (!isMark.test(String.fromCodePoint(codePoint))) continue;
        const previous = marks.at(-1);
        if (previous && previous[1] === codePoint - 1) previous[1] = codePoint;
        else marks.push([codePoint, codePoint]);
      }
    }
    markClass = classOf(marks);
  }
  return markClass;
}

let marksPattern: string | undefined;
/** No more than MAX_COMBINING_MARKS combining marks in a row. */
export function combiningMarksPattern(): string {
  marksPattern ??= `^(?![\\s\\S]*[${combiningMarkClass()}]{${MAX_COMBINING_MARKS + 1}})`;
  return marksPattern;
}
let marksRegex: RegExp | undefined;

/** TOO_MANY_MARKS when `text` stacks more than MAX_COMBINING_MARKS combining marks on one character; the message says how many. */
export function checkCombiningMarks(text: string): TextRuleViolation | undefined {
  marksRegex ??= new RegExp(combiningMarksPattern(), 'u');
  if (marksRegex.test(text)) return undefined;
  const longest = Math.max(...(text.match(new RegExp(`[${combiningMarkClass()}]+`, 'gu')) ?? ['']).map((run) => [...run].length));
  const field = 'design_data.text';
  return {
    field,
    code: 'TOO_MANY_MARKS',
    message:
      `${field} stacks ${longest} combining marks on one character; at most ${MAX_COMBINING_MARKS} fit a print ` +
      '(Unicode\'s stream-safe limit). Remove the extra accents.',
  };
}

/**
 * Every rule on the text of a design, in order: visible text, line count, font coverage, combining marks.
 * Returns the first violation. Line breaks of any kind count; callers should store and
 * render normalizeLineBreaks(text).
 */
export function validateDesignText(text: string): TextRuleViolation | undefined {
  return checkVisibleText(text) ?? checkLineCount(text) ?? checkFontCoverage(text) ?? checkCombiningMarks(text);
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
