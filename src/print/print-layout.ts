import { readFileSync } from 'node:fs';
import fontkit from '@pdf-lib/fontkit';
import bidiJs from 'bidi-js';
import type { Font, Glyph, GlyphPosition } from '@pdf-lib/fontkit';
import { AppError } from '../errors.js';
import './fontkit-regenerator-fix.js';
import { fixFontkitNullAnchors } from './fontkit-anchor-fix.js';
import { keepGlyphCodePoints } from './fontkit-codepoints-fix.js';
import type { FontFace, ResolvedFont } from '../rendering/fonts.js';
import { composedText } from '../rendering/text-rules.js';
import { halved, MAX_TEXT_SURFACE, measureFontSize, planFit, quantize, type TextWrap } from '../rendering/text-layout.js';

/**
 * The one text layout of a print: which characters go on which line, at which size, in which
 * face, with every glyph's position. print.png and print.pdf are both drawn from it:
 *
 * - print.png hands the lines to the scene renderer as explicit lines (joined with \n, at
 *   exactly `fontSize`, inside a box they fit with room to spare), so Pango breaks only
 *   where this layout broke and draws at this size: the raster's lines are these lines.
 * - print.pdf writes each line's runs as real text with these glyphs and advances (TJ),
 *   so its glyph positions are the ones Pango uses (HarfBuzz's, kerning included, within a
 *   pixel of rounding).
 *
 * Why not let Pango decide, as the preview does: sharp's text input returns only pixels,
 * never where Pango broke the lines, so a PDF could not repeat them. Shaping here is
 * fontkit's (the same engine pdf-lib embeds with), measuring in font units; sizes come from
 * the preview's 5 % ladder (quantize in text-layout.ts) and the same word-wrap rules (break
 * between words; inside a word only when the word alone could not otherwise be drawn at
 * half the size).
 */

export interface ShapedRun {
  readonly face: FontFace;
  /** The run's characters, in the order typed (as they stand in the line's text, from `start`). */
  readonly text: string;
  /** Where `text` starts in the line's text. */
  readonly start: number;
  /** Its bidi embedding level: odd is right to left (and its glyphs are then in drawing order, reversed). */
  readonly level: number;
  /**
   * Outline growth in font units (0: none) where Pango draws the face emboldened: fontconfig
   * emboldens a face of weight 500 or less asked for bold (Noto Emoji in a Bold design), and
   * each outline grows by FreeType's em / 24 to the right and upward, its left and bottom edges
   * where they were (measured against Pango), advances unchanged.
   */
  readonly embolden: number;
  /**
   * How far the run is raised above the line's baseline, in font units (0 for most lines):
   * Pango aligns every run on the baseline the line's first run sets for its script (a line
   * that starts with Chinese, Japanese or Korean: the ideographic face bottom), see baselineRises.
   */
  readonly rise: number;
  readonly glyphs: readonly Glyph[];
  readonly positions: readonly GlyphPosition[];
  /** Font units per em of `face`. */
  readonly unitsPerEm: number;
}

/** A line shaped and measured (layLine): a candidate of the wrap. */
export interface ShapedLine {
  readonly text: string;
  /** In the order they are drawn, left to right. */
  readonly runs: readonly ShapedRun[];
  /** Advance width in px at the layout's size. */
  readonly width: number;
  /**
   * The advance as Pango measures it when it wraps: each glyph's advance rounded to a whole
   * pixel (Pango rounds glyph positions by default), so at the preview's scale lines break
   * where the preview's Pango breaks them. Summed unrounded (`width`), lines near the box's
   * width broke differently in about 4 % of random multi-word texts; rounded, in 1 of 720.
   */
  readonly wrapWidth: number;
  /** Ink extents in px, x from the line's left edge, y up from the baseline. */
  readonly ink: { readonly left: number; readonly right: number; readonly top: number; readonly bottom: number } | null;
}

/** A line of the layout: shaped, and with the line box Pango gives it (lineBox). */
export interface LaidLine extends ShapedLine {
  /** Pango's logical ascent and descent of the line in px (whole pixels, as Pango rounds them). */
  readonly ascent: number;
  readonly descent: number;
}

export interface PrintTextLayout {
  /** Pixels per em, a whole number. */
  readonly fontSize: number;
  readonly lines: readonly LaidLine[];
  /** Each line as Pango must be given it to draw it as it stands in its paragraph (pangoLine). */
  readonly pango: readonly string[];
  /** Baselines, px down from the top of the first line's logical box. */
  readonly baselines: readonly number[];
  /** Ink box of the block, px, relative to a block whose lines are centred on x = 0 and whose first logical line starts at y = 0 (y down). */
  readonly ink: { readonly left: number; readonly top: number; readonly width: number; readonly height: number };
}

export interface PrintTextBox {
  readonly maxWidth: number;
  readonly maxHeight: number;
  /** Largest size in px. */
  readonly fontSize: number;
  /** Smallest size in px: text that cannot fit at it is refused. */
  readonly minFontSize: number;
}

/**
 * The share of the box the layout fills at most: Pango rounds every glyph position to a
 * whole pixel, so its lines may come out a pixel or two wider than fontkit measures them;
 * this room keeps Pango from wrapping a line this layout kept whole.
 */
export const FIT_SLACK = 0.98;

const loadedFonts = new Map<string, { bytes: Buffer; font: Font }>();
const fontsByBytes = new WeakMap<Uint8Array, Font>();

function loaded(face: FontFace): { bytes: Buffer; font: Font } {
  let entry = loadedFonts.get(face.file);
  if (!entry) {
    try {
      const bytes = readFileSync(face.file);
      entry = { bytes, font: fontkit.create(bytes) };
      fixFontkitNullAnchors(entry.font);
      keepGlyphCodePoints(entry.font);
    } catch (error) {
      throw new AppError('FONT_FILE_MISSING', `The font file ${face.file} (${face.family}) cannot be read: reinstall the package.`, { cause: error });
    }
    loadedFonts.set(face.file, entry);
    fontsByBytes.set(entry.bytes, entry.font);
  }
  return entry;
}

/** The fontkit font of `face`, parsed once per process. */
export function fontkitFont(face: FontFace): Font {
  return loaded(face).font;
}

/** The bytes of a face's file, for embedding: the same Buffer every time, so that cachedFontkit knows it. */
export function fontBytes(face: FontFace): Buffer {
  return loaded(face).bytes;
}

/**
 * fontkit for pdf-lib's registerFontkit, answering `create` for the bytes of fontBytes() with
 * the font already parsed: parsing a face's tables is most of the time of a one-line PDF.
 * A parsed font is only read by pdf-lib (it makes a new subset per document), so sharing it is safe.
 */
export const cachedFontkit = {
  create(bytes: Uint8Array, postscriptName?: string): Font {
    return fontsByBytes.get(bytes) ?? fontkit.create(bytes, postscriptName);
  },
};

const graphemes = (() => {
  const segmenter = new Intl.Segmenter('und', { granularity: 'grapheme' });
  return (text: string) => Array.from(segmenter.segment(text), (s) => s.segment);
})();

/** The index in the chain of the first face that draws `char` (drawsChar), as Pango's fontset picks (the primary face, 0, when none does). */
function facePosition(char: string, font: ResolvedFont): number {
  const position = font.faces.findIndex((face) => drawsChar(fontkitFont(face), char));
  return position === -1 ? 0 : position;
}

/**
 * Whether Pango draws `char` in a face: where the face has its glyph, or the glyphs of its
 * canonical decomposition, which HarfBuzz then shapes ("ắ" in Bebas Neue, which has "ă" and
 * the combining acute but not "ắ": Pango draws it in Bebas Neue, not in Noto Sans, the first
 * fallback that has "ắ" itself).
 */
function drawsChar(face: Font, char: string): boolean {
  if (face.hasGlyphForCodePoint(char.codePointAt(0) ?? 0)) return true;
  const decomposed = char.normalize('NFD');
  return decomposed !== char && [...decomposed].every((part) => face.hasGlyphForCodePoint(part.codePointAt(0)!));
}

/** `text` as `face` shapes it: each character the face has no glyph for, decomposed (drawsChar). */
function decomposedFor(face: Font, text: string): string {
  let out = '';
  for (const char of text) out += face.hasGlyphForCodePoint(char.codePointAt(0)!) ? char : char.normalize('NFD');
  return out;
}

/**
 * Characters Pango's itemizer picks no font for (consider_as_space in pango/itemize.c): they
 * go in the item they are in. Controls, format characters but for the visible ones of
 * Arabic, separators but for OGHAM SPACE MARK, and variation selectors.
 */
const FONTLESS = /^(?:[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\uFE00-\uFE0F\u{E0100}-\u{E01EF}]|(?!\u1680)\p{Zs}|(?![\u0600-\u06FF\u070F\u08E2])\p{Cf})$/u;

/**
 * The face Pango sets each character of `text` in, by index in the chain, one per code point,
 * with the character's bidi level. Pango picks a face for every character on its own,
 * combining marks included (a mark the base's face lacks is drawn from the first face that
 * has it); picking one per grapheme instead shaped the marks a face lacks as .notdef boxes
 * with an advance ("b̂" in Roboto was 28 % wider than Pango drew it). A character Pango picks
 * no face for (FONTLESS: a space, a direction mark) is set in the face of the character
 * before it in its item, else of the one after it in its item, else, alone in its item, in
 * the first face. Pango's items split at a change of bidi level, of script (a space or a mark
 * takes the script of the character before it, at a line's start of the one after it) and
 * around emoji. Measured against Pango (widths of five spaces in faces whose spaces differ):
 * "中文     a" has Noto Sans SC's spaces, " תודה" Noto Sans Hebrew's; the spaces of
 * "x ש     a", "x ب     🎉", "ש a     ש" (right to left) and "🎉 🎉" are the text face's, as
 * are those of "Anna 🎉 " (Noto Emoji's space is 1.27 em wide); "‎תודה" (a mark alone in its
 * item at the line's start) is as tall as a line of the text face.
 */
function faceIndexes(text: string, font: ResolvedFont, levels: Uint8Array | undefined): Array<{ position: number; level: number; length: number }> {
  const chars: Array<{ position: number; level: number; item: string; length: number }> = [];
  let offset = 0;
  let script = '';
  for (const grapheme of graphemes(text)) {
    const emoji = EMOJI.test(grapheme);
    for (const char of grapheme) {
      script = scriptOf(char) ?? (script || scriptOf(OWN_SCRIPT.exec(text.slice(offset))?.[0] ?? '') || '');
      const level = levels?.[offset] ?? 0;
      chars.push({ position: FONTLESS.test(char) ? -1 : facePosition(char, font), level, item: `${level}|${emoji ? 'emoji' : script}`, length: char.length });
      offset += char.length;
    }
  }
  const find = (i: number, step: -1 | 1) => {
    for (let j = i + step; chars[j]?.item === chars[i]!.item; j += step) if (chars[j]!.position !== -1) return chars[j]!.position;
    return -1;
  };
  return chars.map((char, i) => {
    if (char.position !== -1) return char;
    const before = find(i, -1);
    const position = before === -1 ? find(i, 1) : before;
    return { ...char, position: position === -1 ? facePosition(' ', font) : position };
  });
}

// The scripts of the bundled faces, and their neighbours, by which Pango's items split.
const SCRIPTS = ['Latin', 'Greek', 'Cyrillic', 'Armenian', 'Hebrew', 'Arabic', 'Syriac', 'Thaana', 'Devanagari', 'Bengali', 'Thai', 'Han', 'Hiragana', 'Katakana', 'Hangul', 'Bopomofo'].map((name) => [name, new RegExp(`\\p{Script=${name}}`, 'u')] as const);

/** The script of `char` (undefined for Common and Inherited: punctuation, digits, spaces, marks, emoji), 'Other' for one not listed. */
function scriptOf(char: string): string | undefined {
  if (char === '' || !OWN_SCRIPT.test(char)) return undefined;
  return SCRIPTS.find(([, pattern]) => pattern.test(char))?.[0] ?? 'Other';
}

/** `text` split into runs of one face and one bidi level each, as Pango itemizes it (faceIndexes), shaped. */
function shape(text: string, font: ResolvedFont, levels: Uint8Array | undefined): ShapedRun[] {
  const runs: Array<{ position: number; text: string; level: number; start: number }> = [];
  let start = 0;
  for (const { position, level, length } of faceIndexes(text, font, levels)) {
    const run = runs.at(-1);
    const char = String.fromCodePoint(text.codePointAt(start)!);
    if (run && run.position === position && run.level === level) run.text += char;
    else runs.push({ position, text: char, level, start });
    start += length;
  }
  const shaped = runs.map(({ position, text: runText, level, start }): ShapedRun => {
    const face = font.faces[position]!;
    const fk = fontkitFont(face);
    // Without levels (a left-to-right line, as Pango is given it), fontkit picks the direction
    // from the run's script, as before. With them, each run is shaped in its level's
    // direction, its brackets mirrored where right to left (Pango's HarfBuzz mirrors them).
    const shapingText = decomposedFor(fk, runText);
    const { glyphs, positions } = levels
      ? (fk.layout as LayoutWithDirection)(level % 2 === 1 ? mirrored(shapingText) : shapingText, undefined, undefined, undefined, level % 2 === 1 ? 'rtl' : 'ltr')
      : fk.layout(shapingText);
    const embolden = font.bold && ((fk['OS/2'] as { usWeightClass?: number }).usWeightClass ?? 400) <= 500 ? fk.unitsPerEm / 24 : 0;
    return { face, text: runText, start, level, embolden, rise: 0, glyphs, positions, unitsPerEm: fk.unitsPerEm };
  });
  return levels ? visualOrder(shaped) : shaped;
}

/** fontkit's layout with its script, language and direction arguments, which its type declaration leaves out. */
type LayoutWithDirection = (text: string, features: undefined, script: undefined, language: undefined, direction: 'ltr' | 'rtl') => ReturnType<Font['layout']>;

// bidi-js is CommonJS whose module.exports is the factory; its types declare it an ES default export.
const bidi = (bidiJs as unknown as typeof bidiJs.default)();

function mirrored(text: string): string {
  let out = '';
  for (const char of text) out += bidi.getMirroredCharacter(char) ?? char;
  return out;
}

/**
 * Runs in the order they are drawn, left to right (UAX #9 L2): from the highest level down to
 * the lowest odd one, every stretch of runs at that level or higher is reversed. A right-to-left
 * run's glyphs are already in drawing order (fontkit reverses them).
 */
function visualOrder(runs: ShapedRun[]): ShapedRun[] {
  const out = [...runs];
  const highest = Math.max(0, ...out.map((run) => run.level));
  const lowestOdd = Math.min(highest + 1, ...out.map((run) => (run.level % 2 === 1 ? run.level : run.level + 1)));
  for (let level = highest; level >= lowestOdd; level--) {
    for (let i = 0; i < out.length; ) {
      if (out[i]!.level < level) {
        i++;
        continue;
      }
      let end = i;
      while (end < out.length && out[end]!.level >= level) end++;
      out.splice(i, end - i, ...out.slice(i, end).reverse());
      i = end;
    }
  }
  return out;
}

/** A character of the Basic Multilingual Plane for each bidi class a character beyond it may have. */
const OF_CLASS: Readonly<Record<string, string>> = {
  L: 'a', R: '\u05d0', AL: '\u0627', EN: '0', ES: '+', ET: '#', AN: '\u0660', CS: ',', WS: ' ', S: '\t', ON: '!', BN: '\u00ad', NSM: '\u0300',
};

/**
 * `text` with each character beyond the Basic Multilingual Plane (emoji, mathematical letters)
 * replaced by two of a character of its bidi class. bidi-js classifies UTF-16 code units, so
 * it takes a surrogate pair for two left-to-right letters: "🎉 עולם" came out with the emoji
 * left to right. The text keeps its length, so levels stay where the characters are.
 */
function inBasicPlane(text: string): string {
  return text.replace(/[\u{10000}-\u{10ffff}]/gu, (char) => (OF_CLASS[bidi.getBidiCharTypeName(char)] ?? 'a').repeat(2));
}

/**
 * The bidi embedding levels of a line's characters `text` (one per UTF-16 code unit) out of
 * those of `given` (pangoLine: the line with the marks and spaces that stand for its
 * paragraph; levelsOf); undefined where every level is 0 (nothing to reorder, the runs are
 * shaped as before). The white space at the end of a paragraph's last line is at the base
 * level already (UAX #9 L1 and N1 agree there).
 */
function lineLevels(given: string, givenLevels: Uint8Array | undefined, text: string): Uint8Array | undefined {
  const at = given.indexOf(text);
  if (!givenLevels || text === '' || at < 0) return undefined;
  const levels = givenLevels.slice(at, at + text.length);
  return levels.some((level) => level > 0) ? levels : undefined;
}

/** The levels of every character of `given` set right to left when `rtl`; undefined when all are 0. */
function levelsOf(given: string, rtl: boolean): Uint8Array | undefined {
  if (!rtl && !RTL_LETTER.test(given) && !RTL_CONTROL.test(given)) return undefined;
  return bidi.getEmbeddingLevels(inBasicPlane(given), rtl ? 'rtl' : 'ltr').levels;
}

/** The face Pango sets each character of `given` in (a line as Pango is given it, marks and repeated spaces included), one per code point. */
function charFaces(given: string, levels: Uint8Array | undefined, font: ResolvedFont): FontFace[] {
  return faceIndexes(given, font, levels).map(({ position }) => font.faces[position]!);
}

// Scripts whose dominant baseline is the ideographic face bottom, and those hung from a top line (HarfBuzz's hb_ot_layout_get_horizontal_baseline_tag_for_script).
const IDEOGRAPHIC = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Bopomofo}]/u;
const HANGING = /[\p{Script=Bengali}\p{Script=Devanagari}\p{Script=Gujarati}\p{Script=Gurmukhi}\p{Script=Tibetan}]/u;
const OWN_SCRIPT = /[^\p{Script=Common}\p{Script=Inherited}\p{Script=Unknown}]/u;

interface BaseTable {
  horizAxis?: {
    baseTagList?: readonly string[];
    baseScriptList?: ReadonlyArray<{ baseScriptTag: string; script?: { baseValues?: { baseCoords?: ReadonlyArray<{ coordinate: number }> } } }>;
  };
}

/**
 * The height of baseline `tag` above the roman baseline in `face`, in its font units, as
 * HarfBuzz gives it (hb_ot_layout_get_baseline_with_fallback): from the face's BASE table
 * (Noto Sans SC and KR have one), else synthesised: the roman baseline 0; the ideographic
 * face bottom a tenth of the em box (ascender to descender) above the descender; the hanging
 * baseline 0.6 em (HarfBuzz's fallback for the script tags Pango passes).
 */
function baselineOf(face: FontFace, tag: 'romn' | 'icfb' | 'hang'): number {
  const fk = fontkitFont(face);
  let base: BaseTable | undefined;
  try {
    base = (fk as unknown as { BASE?: BaseTable }).BASE;
  } catch {
    base = undefined;
  }
  const index = base?.horizAxis?.baseTagList?.indexOf(tag) ?? -1;
  const scripts = base?.horizAxis?.baseScriptList ?? [];
  const coordinate = index >= 0 ? (scripts.find((record) => record.baseScriptTag === 'DFLT') ?? scripts[0])?.script?.baseValues?.baseCoords?.[index]?.coordinate : undefined;
  if (coordinate !== undefined) return coordinate;
  if (tag === 'romn') return 0;
  if (tag === 'hang') return 0.6 * fk.unitsPerEm;
  return fk.descent + (fk.ascent - fk.descent) / 10;
}

/**
 * How far Pango raises each face's runs on a line, in px at `fontSize` (pango-layout.c
 * apply_baseline_shift): every run is aligned on the baseline that the line's first run sets
 * for its script (the ideographic face bottom for Chinese, Japanese and Korean, the hanging
 * baseline for Devanagari and its kin, else the roman one), as its own face places that
 * baseline. Measured: "中文 a" in Pacifico at 300 px has "a" 57 px higher against the
 * ideographs than "a 中文" (Oswald 16, Roboto 12), as this computes; a roman line moves nothing.
 */
function baselineRises(given: string, faces: readonly FontFace[], fontSize: number): Map<FontFace, number> {
  const rises = new Map<FontFace, number>();
  const first = faces[0];
  const script = OWN_SCRIPT.exec(given)?.[0] ?? '';
  const tag = IDEOGRAPHIC.test(script) ? 'icfb' : HANGING.test(script) ? 'hang' : 'romn';
  if (!first) return rises;
  const reference = (baselineOf(first, tag) * fontSize) / fontkitFont(first).unitsPerEm;
  for (const face of new Set(faces)) {
    const rise = reference - (baselineOf(face, tag) * fontSize) / fontkitFont(face).unitsPerEm;
    if (rise !== 0) rises.set(face, rise);
  }
  return rises;
}

/**
 * The line box Pango gives the line: the largest ascent and descent of the faces its
 * characters are set in (charFaces), each rounded up to a pixel, and moved by the face's rise;
 * an empty line has the primary face's. The faces of the line's runs alone, or joined with the
 * primary face's, differ from Pango's for such lines by up to a tenth of a line.
 */
function lineBox(faces: readonly FontFace[], rises: ReadonlyMap<FontFace, number>, font: ResolvedFont, fontSize: number): { ascent: number; descent: number } {
  const used = new Set(faces.length === 0 ? [font.faces[0]!] : faces);
  let ascent = 0;
  let descent = 0;
  for (const face of used) {
    const fk = fontkitFont(face);
    const rise = rises.get(face) ?? 0;
    ascent = Math.max(ascent, Math.ceil((fk.ascent * fontSize) / fk.unitsPerEm) + rise);
    descent = Math.max(descent, Math.ceil((-fk.descent * fontSize) / fk.unitsPerEm) - rise);
  }
  return { ascent: Math.ceil(ascent), descent: Math.ceil(descent) };
}

/**
 * Shaped runs by text (and levels), for one layout: shaping is in font units, the same at
 * every size, so the size search shapes each candidate line once, not once per size it tries.
 */
export type ShapeCache = Map<string, ShapedRun[]>;

/**
 * A line shaped and measured at `fontSize` px; with `levels` (its characters' bidi levels in
 * its paragraph), its runs split by level as well as by face and put in the order drawn.
 */
export function layLine(text: string, font: ResolvedFont, fontSize: number, cache?: ShapeCache, levels?: Uint8Array): ShapedLine {
  const key = levels ? `${text}\0${levels.join(',')}` : text;
  let runs = cache?.get(key);
  if (!runs) {
    runs = shape(text, font, levels);
    cache?.set(key, runs);
  }
  return measured(text, runs, fontSize);
}

/** A line of `runs` (in drawing order) measured at `fontSize` px: its advance and its ink. */
function measured(text: string, runs: readonly ShapedRun[], fontSize: number): ShapedLine {
  let pen = 0;
  let wrapWidth = 0;
  let ink: { left: number; right: number; top: number; bottom: number } | null = null;
  for (const run of runs) {
    const scale = fontSize / run.unitsPerEm;
    for (const [i, glyph] of run.glyphs.entries()) {
      const position = run.positions[i]!;
      const box = glyph.bbox;
      if (box.width > 0 && box.height > 0 && Number.isFinite(box.minX)) {
        const x = pen + position.xOffset * scale;
        const y = (position.yOffset + run.rise) * scale;
        const grow = run.embolden * scale;
        const glyphInk = { left: x + box.minX * scale, right: x + box.maxX * scale + grow, top: y + box.maxY * scale + grow, bottom: y + box.minY * scale };
        ink = ink
          ? { left: Math.min(ink.left, glyphInk.left), right: Math.max(ink.right, glyphInk.right), top: Math.max(ink.top, glyphInk.top), bottom: Math.min(ink.bottom, glyphInk.bottom) }
          : glyphInk;
      }
      pen += position.xAdvance * scale;
      wrapWidth += Math.round(position.xAdvance * scale);
    }
  }
  return { text, runs, width: pen, wrapWidth, ink };
}

// Where a line may break: after white space and after a zero width space (U+200B, which
// JavaScript's \s does not include), and around CJK ideographs and kana.
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
const SPACE = /^[\s\u200b]+$/u;
const ENDS_IN_SPACE = /[\s\u200b]$/u;

/** The pieces a paragraph may break between: words with their trailing spaces, CJK characters one by one. */
function segments(paragraph: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const grapheme of graphemes(paragraph)) {
    const isSpace = SPACE.test(grapheme);
    if (current !== '' && !isSpace && (ENDS_IN_SPACE.test(current) || CJK.test(grapheme) || CJK.test(current.at(-1) ?? ''))) {
      out.push(current);
      current = '';
    }
    current += grapheme;
  }
  if (current !== '') out.push(current);
  return out;
}

/**
 * Greedy word wrap of `text` at `maxWidth` px at `fontSize`: lines as long as fit, broken
 * between segments, and inside a segment (between graphemes) when `breakWords` and the
 * segment alone is too wide; otherwise such a segment gets a line of its own, too wide.
 */
function wrap(text: string, font: ResolvedFont, fontSize: number, maxWidth: number, breakWords: boolean, cache: ShapeCache, given?: readonly string[]): Pick<PrintTextLayout, 'lines' | 'pango'> {
  const lines: LaidLine[] = [];
  const pango: string[] = [];
  let paragraphRtl = false;
  let pangoRtl = false;
  const lay = (line: string) => layLine(line, font, fontSize, cache);
  const fits = (candidate: string) => {
    // Pango wraps by the logical width alone; the ink is checked by the size search.
    const line = lay(candidate.trimEnd());
    return line.wrapWidth <= maxWidth ? line : null;
  };
  let paragraph = '';
  let consumed = 0;
  const push = (laid: ShapedLine, wrap: WrapEnd) => {
    // Where the line stands in its paragraph: the strong letters before and after it decide
    // the direction of the neutrals at its ends, as they do in Pango's paragraph.
    const at = paragraph.indexOf(laid.text, consumed);
    const start = at < 0 ? consumed : at;
    consumed = start + laid.text.length;
    const context = { before: paragraph.slice(0, start), after: paragraph.slice(consumed), paragraphRtl };
    const pangoText = given?.[pango.length] ?? pangoLine(laid, wrap, context, pangoRtl, font);
    const lineRtl = baseRtl(pangoText, pangoRtl);
    const givenLevels = levelsOf(pangoText, lineRtl);
    // The order Pango draws the line's runs in, for print.pdf to draw them alike.
    const levels = lineLevels(pangoText, givenLevels, laid.text);
    const line = levels ? layLine(laid.text, font, fontSize, cache, levels) : laid;
    const faces = charFaces(pangoText, givenLevels, font);
    const rises = baselineRises(pangoText, faces, fontSize);
    // Runs raised off the baseline (rare: a line that starts with ideographs) are measured again.
    const raised = rises.size === 0 ? line : measured(line.text, line.runs.map((run) => ({ ...run, rise: ((rises.get(run.face) ?? 0) * run.unitsPerEm) / fontSize })), fontSize);
    lines.push({ ...raised, ...lineBox(faces, rises, font, fontSize) });
    pango.push(pangoText);
    // The direction Pango sets this line in, which a next line without a strong letter takes.
    pangoRtl = lineRtl;
  };
  for (paragraph of text.split('\n')) {
    consumed = 0;
    paragraphRtl = baseRtl(paragraph, paragraphRtl);
    let current = '';
    let laid: ShapedLine | null = lay('');
    const pieces = segments(paragraph);
    /** A line the wrap ends: without the spaces it leaves at its end, as Pango measures it. */
    const wrapAt = (line: string) => push(laid ?? lay(line.trimEnd()), { spaces: line.slice(line.trimEnd().length) });
    for (let index = 0; index < pieces.length; index++) {
      const piece = pieces[index]!;
      const joined = fits(current + piece);
      if (joined) {
        current += piece;
        laid = joined;
        continue;
      }
      if (current !== '') {
        wrapAt(current);
        current = '';
        laid = null;
        index -= 1;
        continue;
      }
      // The piece alone is too wide: as Pango does, keep it whole on its own line (the block
      // is then too wide and the size search shrinks), unless words may break.
      if (!breakWords) {
        current = piece;
        laid = lay(piece.trimEnd());
        continue;
      }
      const chars = graphemes(piece);
      let part = '';
      for (const char of chars) {
        const next = fits(part + char);
        if (next || part === '') {
          part += char;
          laid = next ?? lay(part);
          continue;
        }
        wrapAt(part);
        part = char;
        laid = fits(part) ?? lay(part);
      }
      current = part;
    }
    // A line that ends the paragraph keeps its trailing spaces: Pango counts them in the
    // line's width, which centres it (where a line wraps, it leaves them out).
    push(laid && laid.text === current ? laid : lay(current), undefined);
  }
  return { lines, pango };
}

/** How a wrapped line ended: the white space the wrap left at its end. Undefined for a paragraph's last line. */
type WrapEnd = { spaces: string } | undefined;

/**
 * Whether the white space a wrap leaves at the end of `line` adds a face to it in Pango, and
 * so its height: the spaces take the face of the character before them if it has them and is
 * no emoji, else the first face of the chain that has them ("✨✨ " is as tall as the text's
 * face). Only where that face is also the one a space at the start of a line takes,
 * since pangoLine repeats the spaces there to keep the line's centre.
 */
function spacesShow(spaces: string, line: ShapedLine, font: ResolvedFont): boolean {
  // A line being wrapped has its runs in the order typed (levels come after: push).
  const last = line.runs.at(-1);
  if (!last) return false;
  const ownFace = font.faces[facePosition(spaces, font)]!;
  // Pango itemizes emoji apart from the text around them, so spaces after one are never in its face.
  const afterEmoji = EMOJI.test(graphemes(last.text).at(-1) ?? '');
  const face = !afterEmoji && fontkitFont(last.face).hasGlyphForCodePoint(spaces.codePointAt(0)!) ? last.face : ownFace;
  return face === ownFace && !line.runs.some((run) => run.face === face);
}

const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;

// Letters of the scripts written right to left, and the right-to-left mark.
const RTL_LETTER = /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\u200F]/u;
const STRONG = /[\p{L}\u200E\u200F]/u;
// Controls that open a right-to-left embedding, override or isolate (RLE, RLO, RLI).
const RTL_CONTROL = /[\u202B\u202E\u2067]/u;

/**
 * Whether Pango sets `paragraph` right to left: as its first strong letter (pango_find_base_dir),
 * or as the paragraph before it (`previous`) when it has none.
 */
function baseRtl(paragraph: string, previous: boolean): boolean {
  for (const char of paragraph) if (STRONG.test(char)) return RTL_LETTER.test(char);
  return previous;
}

// A line that starts or ends with a character of no direction of its own (space, digit, punctuation).
const STARTS_NEUTRAL = /^[\s\p{N}\p{P}\p{S}]/u;
const ENDS_NEUTRAL = /[\s\p{N}\p{P}\p{S}]$/u;

/**
 * Whether the base direction changes how Pango draws `line`: it holds right-to-left letters
 * (their order among the rest, the side its spaces go), or it starts or ends with a neutral.
 * A mark costs where it is not needed: Pango gives it a face, whose height the line takes.
 */
function directionShows(line: string): boolean {
  return RTL_LETTER.test(line) || STARTS_NEUTRAL.test(line) || ENDS_NEUTRAL.test(line);
}

/**
 * `line` as Pango must be given it to draw it as it stands in its paragraph (Pango takes each
 * explicit line for a paragraph of its own); `previousRtl` is the direction Pango gave the
 * line before.
 * - Pango sets a line's direction from its own first strong letter, so a line that continues
 *   a left-to-right paragraph but starts with Arabic would be set right to left (its words in
 *   another order, its spaces on the other side): such a line starts with a directional mark
 *   (U+200E or U+200F, drawn as nothing), where the direction shows (directionShows).
 * - Where it wraps, the white space it leaves at the line's end does not count in the line's
 *   width but its face counts in the line's height (a line of emoji followed by a space is as
 *   tall as the text's face): such a line (spacesShow) is given its spaces on both sides,
 *   which keeps its centre where it was and its height what the preview's line has.
 */
function pangoLine(line: ShapedLine, wrap: WrapEnd, context: LineContext, previousRtl: boolean, font: ResolvedFont): string {
  const { paragraphRtl } = context;
  const spaces = wrap && wrap.spaces !== '' && spacesShow(wrap.spaces, line, font) ? wrap.spaces : '';
  const own = baseRtl(line.text, previousRtl);
  const lead = own === paragraphRtl || !directionShows(line.text) ? '' : mark(paragraphRtl);
  const base = lead === '' ? own : paragraphRtl;
  const [before, after] = edgeMarks(line.text, context, base);
  // A mark at the start is the line's first strong character, so the base's own goes before it.
  return (lead === '' && before !== '' ? mark(base) : lead) + spaces + before + line.text + after + spaces;
}

/** Where a line stands in its paragraph: the text before and after it, and the paragraph's direction. */
interface LineContext {
  readonly before: string;
  readonly after: string;
  readonly paragraphRtl: boolean;
}

function mark(rtl: boolean): string {
  return rtl ? '\u200f' : '\u200e';
}

const DIGIT = /\p{N}/u;
// Arabic-Indic digits (bidi class AN): right to left for the neutrals beside them, whatever precedes.
const ARABIC_DIGIT = /[\u0660-\u0669\u066B\u066C]/u;

interface EndDirections {
  /** The direction of the first and of the last strong letter or number; undefined when there is none. */
  readonly first: boolean | undefined;
  readonly last: boolean | undefined;
  /** The direction of the last strong letter, or `previousRtl` when there is none. */
  readonly lastStrong: boolean;
}

/**
 * The directions the neutrals at either end of `text` meet inside it: its first and last
 * strong letter or number, a number counting as the strong letter before it (`previousRtl`
 * for one before any letter of `text`): digits after left-to-right letters are left to right
 * (UAX #9 W7), after right-to-left letters they count as right to left (N1).
 */
function endDirections(text: string, previousRtl: boolean): EndDirections {
  let first: boolean | undefined;
  let last: boolean | undefined;
  let strong = previousRtl;
  for (const char of text) {
    let rtl: boolean;
    if (STRONG.test(char)) rtl = strong = RTL_LETTER.test(char);
    else if (ARABIC_DIGIT.test(char)) rtl = true;
    else if (DIGIT.test(char)) rtl = strong;
    else continue;
    first ??= rtl;
    last = rtl;
  }
  return { first, last, lastStrong: strong };
}

/**
 * The directional marks a line needs at its ends so that the neutrals and digits there
 * (punctuation, emoji, numbers) take the direction they take in the paragraph (UAX #9 W7,
 * N1, N2). On its own, a line's ends face its base direction; in its paragraph, they face
 * the letters and numbers before and after the line. Where those agree with the ones inside
 * the line and not with the base, as "world," in "שלום Hello world, fresh" (a right-to-left
 * paragraph), the line alone would turn the comma to its other end (",world"): a mark of the
 * outside's direction goes at that end. Only there: Pango gives a mark a face, whose height
 * the line takes.
 */
function edgeMarks(text: string, context: LineContext, base: boolean): [string, string] {
  const preceding = endDirections(context.before, context.paragraphRtl);
  const inside = endDirections(text, preceding.lastStrong);
  const before = preceding.last ?? context.paragraphRtl;
  const after = endDirections(context.after, inside.lastStrong).first ?? context.paragraphRtl;
  const lead = STARTS_NEUTRAL.test(text) && before !== base && (inside.first ?? after) === before ? mark(before) : '';
  const trail = ENDS_NEUTRAL.test(text) && after !== base && (inside.last ?? before) === after ? mark(after) : '';
  return [lead, trail];
}

/** Where the lines' baselines fall and the block's ink box (lines centred on x = 0). */
function arrange(lines: readonly LaidLine[]): Pick<PrintTextLayout, 'baselines' | 'ink'> {
  const baselines: number[] = [];
  let y = 0;
  let left = Infinity;
  let right = -Infinity;
  let top = Infinity;
  let bottom = -Infinity;
  for (const line of lines) {
    const baseline = y + line.ascent;
    baselines.push(baseline);
    y = baseline + line.descent;
    const x0 = -line.width / 2;
    if (!line.ink) {
      // A line with nothing to draw (empty, or only spaces) still counts in Pango's ink box,
      // as a point at its start on its baseline: "Hello\n" is drawn a line taller than "Hello".
      left = Math.min(left, x0);
      right = Math.max(right, x0);
      top = Math.min(top, baseline);
      bottom = Math.max(bottom, baseline);
      continue;
    }
    left = Math.min(left, x0 + line.ink.left);
    right = Math.max(right, x0 + line.ink.right);
    top = Math.min(top, baseline - line.ink.top);
    bottom = Math.max(bottom, baseline - line.ink.bottom);
  }
  const ink = Number.isFinite(left) ? { left, top, width: right - left, height: bottom - top } : { left: 0, top: 0, width: 0, height: 0 };
  return { baselines, ink };
}

/** The layout at `fontSize`, wrapped at the box's width (less FIT_SLACK), and whether it fits the box. */
function layoutAt(text: string, font: ResolvedFont, fontSize: number, box: PrintTextBox, breakWords: boolean, cache: ShapeCache, given?: readonly string[]): PrintTextLayout {
  const { lines, pango } = wrap(text, font, fontSize, box.maxWidth * FIT_SLACK, breakWords, cache, given);
  return { fontSize, lines, pango, ...arrange(lines) };
}

/**
 * `text` at `fontSize` px in lines as Pango wraps them when given `wrap` (no wrap: only the
 * text's own line breaks), with fontkit's measures: the lines to check against Pango's.
 * Calls for the same text and font at other widths or sizes may share `cache`.
 */
export function wrapPrintText(userText: string, font: ResolvedFont, fontSize: number, wrap: TextWrap | undefined, cache: ShapeCache = new Map()): PrintTextLayout {
  // layoutAt takes FIT_SLACK off the width it is given; Pango wraps at the full width.
  const maxWidth = wrap === undefined ? Infinity : wrap.width / FIT_SLACK;
  return layoutAt(composedText(userText), font, fontSize, { maxWidth, maxHeight: Infinity, fontSize, minFontSize: fontSize }, wrap?.breakWords ?? false, cache);
}

/** The block's ink size as Pango's ink-cropped mask would have it (whole pixels). */
function inkSize(layout: PrintTextLayout): { width: number; height: number } {
  return { width: Math.ceil(layout.ink.width), height: Math.ceil(layout.ink.height) };
}

/**
 * `text` laid out as the preview lays it out (layoutText in text-layout.ts), with fontkit's
 * measures in place of Pango's renders, so that print files break lines where the preview
 * does: measured unwrapped at the preview's measuring size, a first size from the same plan
 * (planFit: size, and whether words may break), the same 5 % ladder (quantize), then shrunk
 * by the same guesses until the ink fits the box (less FIT_SLACK across, so Pango wraps
 * none of the lines). Throws AppError PRINT_TEXT_TOO_LARGE (field design_data.text, naming
 * the text) when it cannot fit at box.minFontSize: a print never scales text below it.
 * `given`: how Pango is given each line (a preview's `pango`), for text of explicit lines
 * that are not wrapped again; they keep what their paragraphs made of them (their bidi levels).
 */
export function layoutPrintText(userText: string, font: ResolvedFont, box: PrintTextBox, given?: readonly string[]): PrintTextLayout {
  const text = composedText(userText);
  const maxFontSize = Math.max(1, Math.round(box.fontSize));
  const minFontSize = Math.max(1, Math.min(maxFontSize, Math.ceil(box.minFontSize)));
  const cache: ShapeCache = new Map();
  const maxWidth = box.maxWidth * FIT_SLACK;
  const measureSize = measureFontSize(text, maxFontSize);
  // Unwrapped: lines broken only where the text breaks them.
  const measuredLayout = layoutAt(text, font, measureSize, { ...box, maxWidth: Infinity }, false, cache, given);
  const measured = inkSize(measuredLayout);
  if (measured.width === 0 || measured.height === 0) return measuredLayout;
  const plan = planFit(text, { data: Buffer.alloc(0), ...measured, fontSize: measureSize }, { maxWidth, maxHeight: box.maxHeight });
  let fontSize = Math.max(minFontSize, Math.min(maxFontSize, quantize(plan.fontSize)));
  const unwrappedFit = quantize(measureSize * Math.min(maxWidth / measured.width, box.maxHeight / measured.height));
  for (;;) {
    const layout = layoutAt(text, font, fontSize, box, plan.breakWords, cache, given);
    const ink = inkSize(layout);
    // Where Pango's surface would pass its limit, the preview tries half the size: so does this.
    if ((ink.width > MAX_TEXT_SURFACE || ink.height > MAX_TEXT_SURFACE) && fontSize > minFontSize) {
      fontSize = halved(fontSize, minFontSize);
      continue;
    }
    const widthRatio = maxWidth / ink.width;
    const heightRatio = box.maxHeight / ink.height;
    if (widthRatio >= 1 && heightRatio >= 1) return layout;
    if (fontSize <= minFontSize) break;
    const guess = quantize(fontSize * Math.min(Math.sqrt(Math.min(heightRatio, 1)), Math.min(widthRatio, 1)));
    const next = fontSize > unwrappedFit && guess < unwrappedFit ? unwrappedFit : guess;
    fontSize = Math.max(minFontSize, quantize(Math.min(fontSize - 1, next)));
  }
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  throw new AppError('PRINT_TEXT_TOO_LARGE', `The text ${shown} does not fit the print area at the smallest legible size (${minFontSize} px); shorten it.`, {
    field: 'design_data.text',
  });
}
