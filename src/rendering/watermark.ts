import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata } from 'sharp';
import type { Settings } from '../config.js';
import { AppError, ConfigError } from '../errors.js';
import { BLACK, WHITE, contrastingTextColor, type Rgb } from './colors.js';
import { resolveFont, type FontName } from './fonts.js';
import type { Layer, Rect, Scene } from './scene.js';
import { MAX_SCENE_SIDE } from './scene-renderer.js';
import { layoutText } from './text-layout.js';
import { classOf, drawableRanges, VISIBLE_TEXT_PATTERN } from './text-rules.js';

/**
 * The watermark drawn over larger renditions (WATERMARK_TEXT, WATERMARK_IMAGE): checked and
 * prepared once at start by loadWatermark, then added to a rendition's scene as ordinary
 * layers by withWatermark. Everything a render needs is in the Watermark (plain data, so it
 * crosses into render threads): the image already decoded, checked and downscaled, the text
 * already measured, so a render never reads a file or meets a bad value.
 *
 * The look: text in Roboto Bold (a plain sans that has lower case, unlike the seed's
 * default Bebas) in white or black, whichever contrasts more with the scene's background
 * (white on a transparent one), over a copy in the other colour offset down and right, so
 * it reads over a photo as well as over the plain colour. `tile` repeats it in rows across
 * the canvas, every other row shifted by half a copy (a brick pattern, so the copies run
 * diagonally); `corner` puts it once in the bottom-right corner. Sizes are fractions of
 * the canvas's shorter side, so a 600 and a 1200 px rendition look alike.
 */
export interface Watermark {
  /** Drawn literally (no markup), one line; null for none. */
  readonly text: string | null;
  /** A PNG (re-encoded here: sRGB with alpha, at most MAX_IMAGE_SIDE a side); null for none. */
  readonly image: { readonly input: Buffer; readonly width: number; readonly height: number } | null;
  /** 0.05 to 1: every watermark layer's opacity. */
  readonly opacity: number;
  readonly placement: 'tile' | 'corner';
  /** Renditions smaller than this (pixels) are left without it. */
  readonly minSize: number;
  /**
   * The text's ink measured once at start, per pixel of font size: `width` and `height` of
   * one copy, `advance` from one copy to the next in a tiled row. Null without text.
   * withWatermark sizes its boxes from it, so they fit the text without laying it out.
   */
  readonly textMetrics: { readonly width: number; readonly height: number; readonly advance: number } | null;
}

export type WatermarkSettings = Pick<Settings, 'watermarkText' | 'watermarkImage' | 'watermarkOpacity' | 'watermarkPlacement' | 'watermarkMinSize'>;

export const WATERMARK_FONT: FontName = 'Roboto-Bold';
/** Most characters (code points) of WATERMARK_TEXT, as a design's text. */
export const MAX_WATERMARK_TEXT = 200;
/** A watermark image is stored at most this many pixels a side: a quarter of the largest rendition (4096). */
export const MAX_IMAGE_SIDE = 1024;
/**
 * The most pixels a WATERMARK_IMAGE may declare; checked in its header before anything is
 * decoded, so a decompression bomb (a small file that declares 20000 x 20000) is refused
 * without allocating its pixels. 40 megapixels is the uploads' default limit too.
 */
export const MAX_IMAGE_PIXELS = 40_000_000;
/** A watermark is a logo, not a photo library: a larger file is refused before it is read. */
export const MAX_IMAGE_BYTES = 50 * 1024 * 1024;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Copies of the text in a tiled row are this far apart (four spaces, about one em in Roboto). */
const TILE_GAP = '    ';
/** The size text is measured at, at start: large enough for exact ratios, small enough for 200 characters. */
const MEASURE_SIZE = 48;
/**
 * The widest text, in pixels at MEASURE_SIZE (about 270 em; 200 emoji are 12,190). The layout
 * measures a tiled row unwrapped at up to that size, and cairo draws at most 32,767 pixels a
 * side: two copies of the widest text and the gap stay inside it. Only wide ligatures reach
 * it within 200 characters (U+FDFD, ﷽, is 11 em wide).
 */
const MAX_MEASURED_WIDTH = 13_000;

/**
 * Reads and checks WATERMARK_* at start: null when neither text nor image is set.
 * Throws ConfigError (CONFIG_INVALID) naming the variable and saying what to do when
 * WATERMARK_IMAGE is missing, not a regular file, unreadable, not a PNG, undecodable (truncated, corrupt), too
 * large (over MAX_IMAGE_BYTES bytes or MAX_IMAGE_PIXELS pixels), or when WATERMARK_TEXT has
 * more than MAX_WATERMARK_TEXT characters, control characters (line breaks included) or
 * bidirectional controls, characters no bundled font draws, nothing visible, or is wider
 * than MAX_MEASURED_WIDTH; or when the image is fully transparent. A large valid image is
 * downscaled here, once, to at most MAX_IMAGE_SIDE a side.
 */
export async function loadWatermark(settings: WatermarkSettings): Promise<Watermark | null> {
  const { watermarkText, watermarkImage, watermarkOpacity, watermarkPlacement, watermarkMinSize } = settings;
  const text = watermarkText === '' ? null : checkText(watermarkText);
  const image = watermarkImage === '' ? null : await loadImage(watermarkImage);
  if (text === null && image === null) return null;
  const textMetrics = text === null ? null : await measureText(text);
  return Object.freeze({ text, image, opacity: watermarkOpacity, placement: watermarkPlacement, minSize: watermarkMinSize, textMetrics });
}

/** Whether a rendition of `size` px carries the watermark: size >= minSize. */
export function watermarks(watermark: Watermark | null, size: number): boolean {
  return watermark !== null && size >= watermark.minSize;
}

/** `scene` with the watermark's layers on top, sized relative to the canvas (so a 600 and a 1200 rendition look alike). */
export function withWatermark(scene: Scene, watermark: Watermark): Scene {
  const layers = watermark.placement === 'corner' ? cornerLayers(scene, watermark) : tileLayers(scene, watermark);
  return { ...scene, layers: [...scene.layers, ...layers] };
}

// ---- Placement. Fractions of the canvas's shorter side (`unit`). ----

/** Corner: the margin from the canvas's right and bottom edges. */
const CORNER_MARGIN = 0.03;
/** Corner: the image's longer side; the text's font size. */
const CORNER_IMAGE = 0.25;
const CORNER_FONT = 0.04;
/** Corner: the text is never wider than this share of the canvas (a long text is drawn smaller). */
const CORNER_TEXT_WIDTH = 0.6;
/** Tile: the image's longer side and the distance between image tiles, across and down. */
const TILE_IMAGE = 0.25;
const TILE_IMAGE_WITH_TEXT = 0.2;
const TILE_PITCH = 1 / 3;
/** Tile, text alone: the font size and the distance between rows. */
const TILE_FONT = 0.045;
const TILE_ROW_PITCH = 0.25;
/** Tile: one copy of the text is at most this share of the canvas's width (a long text is drawn smaller). */
const TILE_TEXT_WIDTH = 0.75;
/** The dark or light copy under the text is offset by this share of the font size. */
const SHADOW_OFFSET = 0.06;
/** Text is never smaller than this, however long: a longer one runs past the canvas's edges (tile) or wraps (corner). */
const MIN_FONT = 0.02;
/** From one line to the next, per pixel of font size (Roboto's is 1.17). */
const LINE_HEIGHT = 1.2;
/**
 * Boxes are this much larger than the measured ink, for hinting at small sizes: a corner's
 * only a little (its ink is centred in the box, so a larger box moves it off the corner).
 */
const BOX_SLACK = 1.06;
const TILE_SLACK = 1.3;

function cornerLayers(scene: Scene, watermark: Watermark): Layer[] {
  const { width, height } = scene;
  const unit = Math.min(width, height);
  const margin = Math.round(unit * CORNER_MARGIN);
  const right = width - margin;
  let bottom = height - margin;
  const layers: Layer[] = [];
  if (watermark.image) {
    const size = fitted(watermark.image, unit * CORNER_IMAGE);
    const rect = { left: right - size.width, top: bottom - size.height, ...size };
    layers.push({ kind: 'image', input: watermark.image.input, rect, fit: 'contain', opacity: watermark.opacity });
    bottom = rect.top - margin;
  }
  if (watermark.text !== null && watermark.textMetrics) {
    const metrics = watermark.textMetrics;
    const maxWidth = width * CORNER_TEXT_WIDTH;
    const fontSize = Math.max(unit * MIN_FONT, Math.min(unit * CORNER_FONT, maxWidth / metrics.width));
    // The layout centres the ink in its box: a box the ink's size puts it against the corner.
    // A text too long even at the smallest size wraps onto lines as wide as the text may be.
    const lines = Math.ceil((metrics.width * fontSize * BOX_SLACK) / maxWidth);
    const box =
      lines <= 1
        ? sized(metrics.width * fontSize, metrics.height * fontSize, BOX_SLACK)
        : sized(maxWidth, (lines * LINE_HEIGHT - (LINE_HEIGHT - metrics.height)) * fontSize, BOX_SLACK);
    layers.push(...textLayers(scene, watermark, watermark.text, fontSize, { left: right - box.width, top: bottom - box.height, ...box }));
  }
  return layers;
}

function tileLayers(scene: Scene, watermark: Watermark): Layer[] {
  const { width, height } = scene;
  const unit = Math.min(width, height);
  const layers: Layer[] = [];
  // Rows of the grid (centres), symmetric about the middle of the canvas.
  const rowsOf = (pitch: number) => {
    const count = Math.max(1, Math.round(height / pitch));
    return Array.from({ length: count }, (_, i) => height / 2 + (i - (count - 1) / 2) * pitch);
  };
  let textRows: number[];
  if (watermark.image) {
    const pitch = unit * TILE_PITCH;
    const size = fitted(watermark.image, unit * (watermark.text === null ? TILE_IMAGE : TILE_IMAGE_WITH_TEXT));
    const imageRows = rowsOf(pitch);
    // Every other row has one tile more, centred, so its tiles fall between the row above's.
    const across = Math.max(1, Math.round(width / pitch));
    for (const [row, y] of imageRows.entries()) {
      const count = across + (row % 2);
      for (let i = 0; i < count; i++) {
        const x = width / 2 + (i - (count - 1) / 2) * pitch;
        const rect = { left: Math.round(x - size.width / 2), top: Math.round(y - size.height / 2), ...size };
        if (rect.left >= width || rect.top >= height || rect.left + rect.width <= 0 || rect.top + rect.height <= 0) continue;
        layers.push({ kind: 'image', input: watermark.image.input, rect, fit: 'contain', opacity: watermark.opacity });
      }
    }
    // With an image, the text runs in the gaps between image rows (or below a single row).
    textRows = imageRows.length > 1 ? imageRows.slice(1).map((y) => y - pitch / 2) : [Math.min(height - (unit * TILE_FONT) / 2, (imageRows[0] as number) + pitch / 2)];
  } else {
    textRows = rowsOf(unit * TILE_ROW_PITCH);
  }
  if (watermark.text !== null && watermark.textMetrics) {
    const metrics = watermark.textMetrics;
    const fontSize = Math.max(unit * MIN_FONT, Math.min(unit * TILE_FONT, (width * TILE_TEXT_WIDTH) / metrics.width));
    const copyWidth = metrics.width * fontSize;
    const advance = metrics.advance * fontSize;
    // Copies whose ink touches the canvas, centred on its middle: on odd rows with a half
    // advance's offset (an even count), on even rows without (an odd count).
    const reach = (width + copyWidth) / 2 / advance;
    const counts = [2 * Math.floor(reach) + 1, 2 * Math.floor(reach + 0.5)];
    for (const [row, y] of textRows.entries()) {
      const count = Math.max(1, counts[row % 2] as number);
      const rowText = Array.from({ length: count }, () => watermark.text).join(TILE_GAP);
      // A row's ink is centred in its box: a generous box costs nothing and never wraps it.
      const box = sized(copyWidth + (count - 1) * advance, metrics.height * fontSize, TILE_SLACK);
      layers.push(...textLayers(scene, watermark, rowText, fontSize, { left: Math.round((width - box.width) / 2), top: Math.round(y - box.height / 2), ...box }));
    }
  }
  return layers;
}

/**
 * The text twice at `fontSize` in `box`: a copy in the other colour offset down and right,
 * then the text in white or black, whichever contrasts more with the background.
 */
function textLayers(scene: Scene, watermark: Watermark, text: string, fontSize: number, box: Rect): Layer[] {
  const ink: Rgb = scene.background === 'transparent' ? WHITE : contrastingTextColor(scene.background);
  const shade = ink === WHITE ? BLACK : WHITE;
  const offset = Math.max(1, Math.round(fontSize * SHADOW_OFFSET));
  // One size, exactly (the boxes are made to fit the text at it): a text that still does not
  // fit wraps, and if that does not fit either, the layout scales it down as a whole.
  const size = Math.max(1, Math.round(fontSize));
  const common = { kind: 'text', text, font: WATERMARK_FONT, fontSize: size, minFontSize: size, opacity: watermark.opacity } as const;
  return [
    { ...common, color: shade, box: { ...box, left: box.left + offset, top: box.top + offset } },
    { ...common, color: ink, box },
  ];
}

/** A box `slack` times the ink's size and 2 px more (whole pixels, at least 1, at most a scene's side). */
function sized(width: number, height: number, slack: number): { width: number; height: number } {
  const side = (length: number) => Math.min(MAX_SCENE_SIDE, Math.max(1, Math.ceil(length * slack) + 2));
  return { width: side(width), height: side(height) };
}

/** `image`'s shape with its longer side `side` (whole pixels, at least 1). */
function fitted(image: { width: number; height: number }, side: number): { width: number; height: number } {
  const scale = side / Math.max(image.width, image.height);
  return { width: Math.max(1, Math.round(image.width * scale)), height: Math.max(1, Math.round(image.height * scale)) };
}

// ---- Loading and checks. ----

// Control characters (C0, DEL, C1; line breaks among them: a watermark is one line) and
// the bidirectional embeddings, overrides and isolates, which would carry over from one
// tiled copy into the next.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const FORBIDDEN = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/u;
const VISIBLE = new RegExp(VISIBLE_TEXT_PATTERN, 'u');

function checkText(raw: string): string {
  const variable = 'WATERMARK_TEXT';
  const length = [...raw].length;
  if (length > MAX_WATERMARK_TEXT) {
    throw new ConfigError(`${variable} must be at most ${MAX_WATERMARK_TEXT} characters, got ${length}: shorten it (a short mark such as "© Your Shop" reads best).`, variable);
  }
  const forbidden = FORBIDDEN.exec(raw)?.[0];
  if (forbidden !== undefined) {
    throw new ConfigError(
      `${variable} must not contain control characters (line breaks and tabs included) or bidirectional controls, found ${codePoint(forbidden)}: set it to one line of plain text.`,
      variable,
    );
  }
  if (!VISIBLE.test(raw)) throw new ConfigError(`${variable} has nothing visible to draw: set it to some text, or to '' for no text watermark.`, variable);
  const drawable = new RegExp(`^[${classOf(drawableRanges())}]$`, 'u');
  const missing = [...new Set([...raw].filter((char) => !drawable.test(char)))];
  if (missing.length > 0) {
    throw new ConfigError(
      `${variable} has characters no bundled font can draw: ${missing.slice(0, 8).map((char) => `${JSON.stringify(char)} (${codePoint(char)})`).join(', ')}${missing.length > 8 ? ', …' : ''}. ` +
        'Use Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai, Chinese, Japanese, Korean or emoji.',
      variable,
    );
  }
  // Leading and trailing spaces would only move it off its place; inner ones are kept.
  return raw.trim();
}

function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** One copy's ink, and the advance of a second copy after TILE_GAP, per pixel of font size. */
async function measureText(text: string): Promise<NonNullable<Watermark['textMetrics']>> {
  const font = resolveFont(WATERMARK_FONT);
  const box = { fontSize: MEASURE_SIZE, minFontSize: MEASURE_SIZE, maxWidth: 32_000, maxHeight: 32_000 };
  try {
    const one = await layoutText(text, font, box);
    const two = await layoutText(`${text}${TILE_GAP}${text}`, font, box);
    if (!one || !two) throw new ConfigError("WATERMARK_TEXT draws nothing in the bundled fonts: set it to some visible text, or to '' for no text watermark.", 'WATERMARK_TEXT');
    if (one.width > MAX_MEASURED_WIDTH) throw tooWide(`${Math.round(one.width / one.fontSize)} em`);
    return { width: one.width / one.fontSize, height: one.height / one.fontSize, advance: (two.width - one.width) / two.fontSize };
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    // Cairo refuses a surface over 32,767 pixels: the text alone is wider than that.
    if (error instanceof AppError && error.code === 'TEXT_RENDER_FAILED' && /too big/i.test(error.message)) throw tooWide('too wide to measure');
    throw new ConfigError(`WATERMARK_TEXT could not be laid out (${describe(error)}): set it to one line of plain text.`, 'WATERMARK_TEXT');
  }
}

function tooWide(width: string): ConfigError {
  return new ConfigError(
    `WATERMARK_TEXT is too wide to draw (${width}; at most ${Math.floor(MAX_MEASURED_WIDTH / MEASURE_SIZE)} em): shorten it, or avoid wide ligatures such as U+FDFD.`,
    'WATERMARK_TEXT',
  );
}

async function loadImage(given: string): Promise<NonNullable<Watermark['image']>> {
  const variable = 'WATERMARK_IMAGE';
  // A relative path is read from the working folder: the message says which file that was.
  const file = path.isAbsolute(given) ? given : `${given} (${path.resolve(given)})`;
  // ConfigError takes no cause: what went wrong is told in the message instead.
  const fail = (problem: string): never => {
    throw new ConfigError(`${variable} ${problem}`, variable);
  };
  const advice = `Set ${variable} to a PNG file of at most ${MAX_IMAGE_SIDE} x ${MAX_IMAGE_SIDE} pixels (a logo with a transparent background), or to '' for no image watermark.`;
  let bytes: Buffer;
  try {
    // Looked at before it is opened: opening a named pipe would wait for a writer forever.
    const info = await stat(given);
    if (!info.isFile()) fail(`is ${file}, which is ${info.isDirectory() ? 'a folder' : 'not a regular file'}. ${advice}`);
    if (info.size > MAX_IMAGE_BYTES) fail(`is ${file}, a file of ${info.size} bytes, more than the ${MAX_IMAGE_BYTES} a watermark may have. ${advice}`);
    bytes = await readFile(given);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? describe(error)})`;
    return fail(`is ${file}, which ${why}. ${advice}`);
  }
  if (!bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
    fail(`is ${file}, which is not a PNG file${await formatName(bytes)}. ${advice}`);
  }
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    return fail(`is ${file}, a PNG whose header cannot be read (${describe(error)}). ${advice}`);
  }
  const { width = 0, height = 0 } = metadata;
  if (width * height > MAX_IMAGE_PIXELS) {
    fail(`is ${file}, a PNG of ${width} x ${height} pixels, more than the ${MAX_IMAGE_PIXELS / 1_000_000} megapixels a watermark may have. ${advice}`);
  }
  let image: NonNullable<Watermark['image']>;
  try {
    // Decoded once, here, under the pixel limit (and refusing a truncated file rather than
    // padding it), into a small sRGB PNG with alpha: every render decodes that instead.
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'truncated', pages: 1 })
      .rotate()
      .resize(MAX_IMAGE_SIDE, MAX_IMAGE_SIDE, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
      .toColourspace('srgb')
      .ensureAlpha()
      .png({ compressionLevel: 1 })
      .toBuffer({ resolveWithObject: true });
    image = { input: data, width: info.width, height: info.height };
  } catch (error) {
    return fail(`is ${file}, a PNG that cannot be decoded (${describe(error)}): it is truncated or corrupt. ${advice}`);
  }
  const alpha = (await sharp(image.input).stats()).channels[3];
  if (alpha && alpha.max === 0) fail(`is ${file}, a PNG whose every pixel is fully transparent: it would draw nothing. ${advice}`);
  return image;
}

/** ` (it is JPEG)` for a file sharp reads as another format; '' for anything else. */
async function formatName(bytes: Buffer): Promise<string> {
  try {
    const { format } = await sharp(bytes).metadata();
    return format ? ` (it is ${format.toUpperCase()})` : '';
  } catch {
    // Not an image sharp knows (text, an empty file): the message says "not a PNG" alone.
    return '';
  }
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}
