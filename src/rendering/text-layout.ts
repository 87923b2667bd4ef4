import sharp from 'sharp';
import { AppError } from '../errors.js';
import type { ResolvedFont } from './fonts.js';
import { composedText } from './text-rules.js';

/**
 * Lays user text out with Pango (through sharp's `text` input) into an RGBA coverage mask,
 * as large as fits the box it is given, up to a largest size.
 */

/** Text rendered by Pango: RGBA, not premultiplied, cropped to the ink. */
export interface TextMask {
  /** width × height × 4 bytes. Glyphs are black (0,0,0) with their coverage in alpha; colour glyphs (emoji) keep their colours. */
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  /** The font size, in pixels, the text was laid out at. */
  readonly fontSize: number;
  /** How Pango was asked to wrap it; absent when nothing was wrapped but the text's own line breaks. */
  readonly wrap?: TextWrap;
}

export interface TextBox {
  /** The largest size, in pixels: text that fits at this size is drawn at it. */
  fontSize: number;
  /** Smallest size to try before scaling the rendered text down instead. */
  minFontSize: number;
  /** Lines wrap at this width; the ink must fit within it. */
  maxWidth: number;
  maxHeight: number;
}

/**
 * The size the text is first measured at, unwrapped (see measureFontSize). Small enough that
 * 200 of the widest glyphs on one line stay inside MAX_TEXT_SURFACE and cost little to draw.
 */
export const MEASURE_FONT_SIZE = 48;

/**
 * Pango draws text on a cairo image surface as large as its ink, which is at most 32,767 px a
 * side: larger text fails to render ("invalid value (typically too big) for the size of the
 * input"). The measuring size keeps the unwrapped text within 30,000 px across (room for ink
 * past the advances); a layout the size search tries that would pass the limit (a wrapped
 * block whose ink the plan underestimated, such as rows of dashes, which have almost no
 * height) is tried again at half the size (see layoutText; layoutPrintText does the same).
 */
export const MAX_TEXT_SURFACE = 32_767;
const MEASURE_BUDGET = 30_000;

/**
 * The widest advance, in ems, of any character validation accepts, in any bundled face:
 * U+2E3B THREE-EM DASH is 2.84 em in Noto Sans. U+FDFD (10.9 em) is refused by validation
 * (Pango draws it blank). test/unit/text-surface.test.ts checks this against every face, so
 * that a font added with wider glyphs fails there rather than at render time.
 */
export const WIDEST_GLYPH_EM = 3;

const codePointCount = (text: string): number => {
  let count = 0;
  for (const _char of text) count += 1;
  return count;
};

/**
 * The size `text` is measured at, unwrapped: MEASURE_FONT_SIZE (or `maxFontSize`, if
 * smaller), or less when its longest line could be wider than MAX_TEXT_SURFACE at that size,
 * judged before anything is drawn from its length and WIDEST_GLYPH_EM (so the
 * measuring render cannot fail). Every text validation
 * accepts today (200 characters) is measured at MEASURE_FONT_SIZE; the bound is what keeps a
 * text of wider glyphs renderable. The print layout measures at the same size.
 */
export function measureFontSize(text: string, maxFontSize: number): number {
  const longestLine = Math.max(1, ...text.split('\n').map(codePointCount));
  return Math.max(1, Math.min(maxFontSize, MEASURE_FONT_SIZE, Math.floor(MEASURE_BUDGET / (longestLine * WIDEST_GLYPH_EM))));
}

/**
 * Sizes are taken from a ladder of 5 % steps (…, 146, 154, 162, 170, …): a font at a new
 * pixel size has every glyph rasterised afresh, which costs several times the layout
 * itself, so designs share a few sizes instead of each having its own. Text ends up at most
 * 5 % smaller than the exact fit.
 */
const SIZE_STEP = Math.log(1.05);
const WORD_WIDTH_MARGIN = 1.15;

/** The largest size of the ladder at or below `size` (whole pixels, at least 1). */
export function quantize(size: number): number {
  if (size <= 20) return Math.max(1, Math.floor(size));
  return Math.floor(Math.exp(SIZE_STEP * Math.floor(Math.log(size) / SIZE_STEP + 1e-9)));
}

const MARKUP_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** User text as Pango markup that shows it literally: sharp always parses its `text` as markup. */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (char) => MARKUP_ESCAPES[char] ?? char);
}

/**
 * Renders `text` as large as fits `box`, up to `box.fontSize`: the wrapped block (word wrap,
 * breaking inside a word only when it alone is too wide, lines centred) fits the box.
 * Returns null for text with nothing to draw (only invisible characters).
 * Never returns a mask larger than the box: below `minFontSize` the mask itself is scaled down.
 *
 * The size is found with few layouts: the text is measured once, unwrapped, at a small
 * size; glyphs scale with the size, so that measure predicts the size at which the block
 * fits without wrapping, and the size at which it fits wrapped into the box's width.
 * The larger of the two is laid out and checked; only a miss costs another layout.
 * Throws AppError TEXT_RENDER_FAILED (not retryable) when Pango cannot render the text.
 */
export async function layoutText(userText: string, font: ResolvedFont, box: TextBox): Promise<TextMask | null> {
  const text = composedText(userText);
  await registerFontFiles(font);
  const maxFontSize = Math.max(1, Math.round(box.fontSize));
  const minFontSize = Math.max(1, Math.min(maxFontSize, Math.round(box.minFontSize)));
  const measureSize = measureFontSize(text, maxFontSize);
  const measured = await renderText(text, font, measureSize, undefined);
  if (!measured) return null;
  const plan = planFit(text, measured, box);
  let fontSize = Math.max(minFontSize, Math.min(maxFontSize, quantize(plan.fontSize)));
  // At or below this size no line is wider than the box, so nothing wraps and the block fits.
  const unwrappedFit = quantize(measureSize * Math.min(box.maxWidth / measured.width, box.maxHeight / measured.height));
  for (;;) {
    const mask =
      fontSize === measureSize && measured.width <= box.maxWidth && measured.height <= box.maxHeight
        ? measured
        : await renderText(text, font, fontSize, { width: box.maxWidth, breakWords: plan.breakWords }, fontSize > minFontSize);
    if (mask === TOO_LARGE) {
      fontSize = halved(fontSize, minFontSize);
      continue;
    }
    if (!mask) return null;
    const widthRatio = box.maxWidth / mask.width;
    const heightRatio = box.maxHeight / mask.height;
    if (widthRatio >= 1 && heightRatio >= 1) return mask;
    if (fontSize <= minFontSize) return scaleDown(mask, box);
    // Wrapped text grows in both directions as the font grows, so its height goes roughly
    // with the square of the size: the square root guesses a size that just fits. The
    // unwrapped fit is a floor that fits for sure (but for rounding): never go below it.
    const guess = quantize(fontSize * Math.min(Math.sqrt(Math.min(heightRatio, 1)), Math.min(widthRatio, 1)));
    const next = fontSize > unwrappedFit && guess < unwrappedFit ? unwrappedFit : guess;
    fontSize = Math.max(minFontSize, quantize(Math.min(fontSize - 1, next)));
  }
}

/** The size to try after one whose layout would pass MAX_TEXT_SURFACE: half of it, on the ladder, not below `minFontSize`. */
export function halved(fontSize: number, minFontSize: number): number {
  return Math.max(minFontSize, quantize(fontSize / 2));
}

/** How to lay a text out: the size to try first, and whether words may break across lines. */
export interface FitPlan {
  fontSize: number;
  /**
   * False: lines wrap between words only, and a word too wide for the box makes the
   * layout too wide, so the size search shrinks until every word fits ("Custom" is never
   * split as "Custo / m"). True for text whose longest word would have to be drawn at less
   * than half the size the wrapped text could have: that word is broken instead.
   */
  breakWords: boolean;
}

// Where lines may break: white space, and between the ideographs and kana of CJK text.
const WORD_SEPARATORS = /[\s\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+/u;
const graphemeCount = (() => {
  const segmenter = new Intl.Segmenter('und', { granularity: 'grapheme' });
  return (text: string) => [...segmenter.segment(text)].length;
})();

/**
 * The first size to try for text that measured `measured` unwrapped: the larger of the
 * size at which it fits unwrapped and the size at which, wrapped at the box's width, it
 * fills the box's height, but no larger than lets its longest word fit on a line.
 * At scale f of the measured size, a block w × h wraps into about w·f / W + 1 rows of its
 * height (the +1 for the ragged ends of word wrapping), each h·f high: solve
 * (w·f / W + 1) · h·f = H for f. Word widths are estimated from the mean glyph width of
 * the widest line; the layout that follows checks the estimate.
 */
export function planFit(text: string, measured: TextMask, box: Pick<TextBox, 'maxWidth' | 'maxHeight'>): FitPlan {
  const { width: w, height: h, fontSize } = measured;
  const W = box.maxWidth;
  const H = box.maxHeight;
  const unwrapped = Math.min(W / w, H / h);
  const a = (w * h) / W;
  const wrapped = Math.max(unwrapped, (-h + Math.sqrt(h * h + 4 * a * H)) / (2 * a));
  const lineLength = Math.max(1, ...text.split('\n').map(graphemeCount));
  const wordLength = Math.max(1, ...text.split(WORD_SEPARATORS).map(graphemeCount));
  // Mean widths underestimate words of wide letters ("Custom"): allow for 15 % more.
  const word = W / ((WORD_WIDTH_MARGIN * wordLength * w) / lineLength);
  const breakWords = word < wrapped / 2;
  const scale = breakWords ? wrapped : Math.max(unwrapped, Math.min(wrapped, word));
  return { fontSize: fontSize * scale, breakWords };
}

// Files already handed to libvips in this thread. libvips adds each text `fontfile` to
// fontconfig for the whole process and keeps it, so a fallback family listed in the font
// description resolves to the bundled file once its file has been given once.
const registered = new Set<string>();

/** Gives libvips every file of `font`'s chain, so Pango falls back to bundled faces only. */
async function registerFontFiles(font: ResolvedFont): Promise<void> {
  for (const face of font.faces) {
    if (registered.has(face.file)) continue;
    await renderText('.', { ...font, file: face.file, pango: `${face.family},` }, 8, undefined);
    registered.add(face.file);
  }
}

/**
 * `lines` drawn by Pango as they are, one under the other and centred, at `fontSize` px:
 * the mask layoutText would give had Pango broken the text into these lines itself (the
 * print checks its lines against the preview's this way: Pango's lines cannot be read back).
 * Null when there is nothing to draw. Throws AppError TEXT_RENDER_FAILED as layoutText does.
 */
export async function renderTextLines(lines: readonly string[], font: ResolvedFont, fontSize: number): Promise<TextMask | null> {
  await registerFontFiles(font);
  return renderText(lines.join('\n'), font, fontSize, undefined);
}

/** Lines wrap at `width`; between words only, unless `breakWords`. */
export interface TextWrap {
  readonly width: number;
  readonly breakWords: boolean;
}

/** renderText's answer for a layout larger than MAX_TEXT_SURFACE, when the caller can try a smaller size. */
const TOO_LARGE = Symbol('too large');

async function renderText(text: string, font: ResolvedFont, fontSize: number, wrap: TextWrap | undefined): Promise<TextMask | null>;
async function renderText(text: string, font: ResolvedFont, fontSize: number, wrap: TextWrap | undefined, canShrink: boolean): Promise<TextMask | null | typeof TOO_LARGE>;
async function renderText(text: string, font: ResolvedFont, fontSize: number, wrap: TextWrap | undefined, canShrink = false): Promise<TextMask | null | typeof TOO_LARGE> {
  try {
    const { data, info } = await sharp({
      text: {
        // Pango hyphenates words it breaks; a print must show only the characters the user typed.
        text: `<span insert_hyphens="false">${escapeMarkup(text)}</span>`,
        font: `${font.pango} ${fontSize}px`,
        fontfile: font.file,
        // RGBA output keeps colour glyphs (emoji) in colour; the coverage is in alpha either way.
        rgba: true,
        dpi: 72,
        // Without a width, nothing wraps: each line is as long as it is.
        ...(wrap === undefined ? {} : { width: wrap.width, wrap: wrap.breakWords ? ('word-char' as const) : ('word' as const) }),
        align: 'centre',
      },
    })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, fontSize, ...(wrap === undefined ? {} : { wrap }) };
  } catch (error) {
    // libvips refuses text whose ink is empty (only zero-width characters, say): that is a
    // design with nothing to draw, not a failure.
    if (error instanceof Error && /no text to render/i.test(error.message)) return null;
    // cairo refuses a surface over MAX_TEXT_SURFACE a side.
    if (canShrink && error instanceof Error && /too big/i.test(error.message)) return TOO_LARGE;
    throw new AppError('TEXT_RENDER_FAILED', `The design's text could not be laid out: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

/** The last resort that keeps the promise "never cut off" for text too big even at the smallest size. */
async function scaleDown(mask: TextMask, box: TextBox): Promise<TextMask> {
  const { data, info } = await sharp(mask.data, { raw: { width: mask.width, height: mask.height, channels: 4 } })
    .resize(Math.floor(box.maxWidth), Math.floor(box.maxHeight), { fit: 'inside', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, fontSize: mask.fontSize * (info.width / mask.width) };
}
