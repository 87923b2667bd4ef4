import sharp from 'sharp';
import { AppError } from '../errors.js';
import type { ResolvedFont } from './fonts.js';

/**
 * Lays user text out with Pango (through sharp's `text` input) into an RGBA coverage mask,
 * shrinking the font until the wrapped block fits the box it is given.
 */

/** Text rendered by Pango: RGBA, not premultiplied, cropped to the ink. */
export interface TextMask {
  /** width × height × 4 bytes. Glyphs are black (0,0,0) with their coverage in alpha; colour glyphs (emoji) keep their colours. */
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  /** The font size, in pixels, the text was laid out at. */
  readonly fontSize: number;
}

export interface TextBox {
  /** The size to start at, in pixels. */
  fontSize: number;
  /** Smallest size to try before scaling the rendered text down instead. */
  minFontSize: number;
  /** Lines wrap at this width; the ink must fit within it. */
  maxWidth: number;
  maxHeight: number;
}

const MARKUP_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** User text as Pango markup that shows it literally: sharp always parses its `text` as markup. */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (char) => MARKUP_ESCAPES[char] ?? char);
}

/**
 * Renders `text` as large as possible up to `box.fontSize` so that the wrapped block
 * (word wrap, breaking inside a word only when it alone is too wide, lines centred) fits
 * `box`. Returns null for text with nothing to draw (only invisible characters).
 * Never returns a mask larger than the box: below `minFontSize` the mask itself is scaled down.
 * Throws AppError TEXT_RENDER_FAILED (not retryable) when Pango cannot render the text.
 */
export async function layoutText(text: string, font: ResolvedFont, box: TextBox): Promise<TextMask | null> {
  let fontSize = Math.max(1, Math.round(box.fontSize));
  const minFontSize = Math.max(1, Math.min(fontSize, Math.round(box.minFontSize)));
  for (;;) {
    const mask = await renderText(text, font, fontSize, box.maxWidth);
    if (!mask) return null;
    const widthRatio = box.maxWidth / mask.width;
    const heightRatio = box.maxHeight / mask.height;
    if (widthRatio >= 1 && heightRatio >= 1) return mask;
    if (fontSize <= minFontSize) return scaleDown(mask, box);
    // Wrapped text grows in both directions as the font grows, so its height goes roughly
    // with the square of the size: the square root guesses a size that just fits, and
    // errs large when the text does not wrap; the loop then steps down again.
    const guess = Math.floor(fontSize * Math.min(Math.sqrt(Math.min(heightRatio, 1)), Math.min(widthRatio, 1)));
    fontSize = Math.max(minFontSize, Math.min(fontSize - 1, guess));
  }
}

async function renderText(text: string, font: ResolvedFont, fontSize: number, wrapWidth: number): Promise<TextMask | null> {
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
        width: wrapWidth,
        align: 'centre',
        wrap: 'word-char',
      },
    })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, fontSize };
  } catch (error) {
    // libvips refuses text whose ink is empty (only zero-width characters, say): that is a
    // design with nothing to draw, not a failure.
    if (error instanceof Error && /no text to render/i.test(error.message)) return null;
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
