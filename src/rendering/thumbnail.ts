import sharp from 'sharp';
import { AppError } from '../errors.js';
import { encodeFlatPng, encodeIndexedPng } from './flat-png.js';
import { lanczos3Reduce, reducible } from './lanczos.js';
import type { Rect } from './scene.js';
import { withScratch } from './scratch.js';
import { encodeScene, inkPalette, isFlat, paintCanvas, paintWindow, sceneCoverage, type CoverageBand, type CoverageImage, type PreparedScene } from './scene-renderer.js';

/** The seed's `image.thumbnail((200, 200), LANCZOS)`. */
export const THUMBNAIL_MAX_SIZE = 200;
export const DEFAULT_COMPRESSION_LEVEL = 6;

export interface ThumbnailOptions {
  /** The thumbnail fits inside maxSize × maxSize, keeping the aspect ratio. Default 200. */
  maxSize?: number;
  /** zlib level, 0 (fastest, largest) to 9 (slowest, smallest). Default 6. */
  compressionLevel?: number;
}

/** Decoded pixels, tightly packed, 8 bits per channel. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/**
 * A PNG that fits inside maxSize × maxSize with the input's aspect ratio, resampled with
 * Lanczos-3 and never enlarged (as Pillow's `Image.thumbnail`). `input` is an encoded image
 * (PNG, JPEG, WebP...) or raw pixels. Throws AppError INVALID_IMAGE (not retryable) when
 * the input cannot be decoded, INVALID_RENDER_OPTION for bad options.
 */
export async function makeThumbnail(input: Buffer | RawImage, options: ThumbnailOptions = {}): Promise<Buffer> {
  const { maxSize, compressionLevel } = thumbnailOptions(options);
  try {
    const image = Buffer.isBuffer(input)
      ? sharp(input)
      : sharp(input.data, { raw: { width: input.width, height: input.height, channels: input.channels } });
    return await image
      .resize(maxSize, maxSize, { fit: 'inside', kernel: 'lanczos3', withoutEnlargement: true })
      .png({ compressionLevel })
      .toBuffer();
  } catch (error) {
    throw new AppError('INVALID_IMAGE', `Could not make a thumbnail: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * The thumbnail of a rendered scene, as makeThumbnail of its preview. When the scene is flat
 * and square and its side a whole multiple of the thumbnail's, only the layers' box (plus
 * the kernel's reach) is resampled: Lanczos of a flat colour is that colour, and a crop
 * aligned to the scale factor samples the same source pixels as the whole image would.
 * When that box is one ink over the background (sceneCoverage: text in one colour, as
 * nearly every design), what is resampled is the glyphs' coverage, one channel instead of
 * the painted RGB, and the thumbnail is the ink over the background at each resampled
 * coverage, a palette PNG as the preview is: the same picture but where Lanczos rings past
 * the ink or the background, which the coverage's 0 and 255 clip and an RGB channel clips
 * only at its own 0 and 255 (test/fixtures/rendering/thumbnails.ts bounds the difference), for
 * a third of the resampling, no painting and a smaller file (BENCHMARKS.md, "Live status").
 * Any other scene is painted whole and resampled by makeThumbnail.
 */
export async function sceneThumbnail(scene: PreparedScene, options: ThumbnailOptions = {}): Promise<Buffer> {
  const { maxSize, compressionLevel } = thumbnailOptions(options);
  const { width: size, background } = scene;
  if (scene.width <= maxSize && scene.height <= maxSize) return encodeScene(scene, { compressionLevel });
  const factor = size / maxSize;
  if (!isFlat(scene) || background === 'transparent' || scene.height !== size || !Number.isInteger(factor)) {
    return makeThumbnail(paintCanvas(scene), options);
  }
  if (scene.layers.length === 0) return encodeFlatPng({ width: maxSize, height: maxSize, background }, compressionLevel);

  // Lanczos-3 reaches 3 output pixels each way; one more for rounding at the edges.
  const reach = 4;
  // libvips first box-shrinks by floor(factor / 2) (its default "gap" of 2) and resamples the
  // rest: the crop must start on a whole block of that shrink too.
  const block = Math.max(1, Math.floor(factor / 2));
  const left = Math.min(...scene.layers.map((layer) => layer.rect.left));
  const top = Math.min(...scene.layers.map((layer) => layer.rect.top));
  const right = Math.max(...scene.layers.map((layer) => layer.rect.left + layer.rect.width));
  const bottom = Math.max(...scene.layers.map((layer) => layer.rect.top + layer.rect.height));
  const x0 = Math.max(0, alignDown(Math.floor(left / factor) - reach, block));
  const x1 = Math.min(maxSize, Math.ceil(right / factor) + reach);
  const y0 = Math.max(0, alignDown(Math.floor(top / factor) - reach, block));
  const y1 = Math.min(maxSize, Math.ceil(bottom / factor) + reach);
  const window = { left: x0 * factor, top: y0 * factor, width: (x1 - x0) * factor, height: (y1 - y0) * factor };
  const small = { left: x0, top: y0, width: x1 - x0, height: y1 - y0 };
  const coverage = sceneCoverage(scene);
  if (coverage?.band) return coverageThumbnail(coverage, coverage.band, window, small, factor, maxSize, compressionLevel);

  const resampled = await resampleWindow(paintWindow(scene, window), window, small, 3);
  const rows = widenedRows(resampled, small, maxSize, Buffer.from([background.r, background.g, background.b]));
  return encodeFlatPng({ width: maxSize, height: maxSize, background, band: { top: y0, rows } }, compressionLevel);
}

/**
 * A one-ink scene's thumbnail (see sceneThumbnail): its coverage inside `window` resampled to
 * `small`, as a palette PNG. Reduced by 2 or 3 (a 600 px preview's 200 px thumbnail), by
 * lanczos.ts: sharp's bytes without a libvips pipeline per render; by other factors, by sharp.
 */
async function coverageThumbnail(coverage: CoverageImage, band: CoverageBand, window: Rect, small: Rect, factor: number, maxSize: number, compressionLevel: number): Promise<Buffer> {
  const { width, background, ink } = coverage;
  const rows = { data: band.rows, stride: width, left: window.left, rowOffset: window.top - band.top, width: window.width, height: window.height };
  const resampled = reducible(rows, factor) ? lanczos3Reduce(rows, factor) : await sharpCoverageWindow(band, width, window, small);
  let most = 0;
  // An indexed loop: for...of over a Buffer took 60-100 µs a thumbnail here, four times this.
  for (let i = 0; i < resampled.length; i++) if ((resampled[i] as number) > most) most = resampled[i] as number;
  const widened = widenedRows(resampled, small, maxSize, Buffer.from([0]));
  return encodeIndexedPng({ width: maxSize, height: maxSize, palette: inkPalette(background, ink, most), band: { top: small.top, rows: widened } }, compressionLevel);
}

/** The band's coverage inside `window` (zero where the band does not reach) resampled by sharp to `small`. */
function sharpCoverageWindow(band: CoverageBand, width: number, window: Rect, small: Rect): Promise<Buffer> {
  // The window's coverage in a scratch buffer (see scratch.ts): it lives while sharp works.
  return withScratch(window.width * window.height, (source) => {
    const from = Math.max(window.top, band.top);
    const to = Math.min(window.top + window.height, band.top + band.rows.length / width);
    for (let y = from; y < to; y++) {
      const start = (y - band.top) * width + window.left;
      band.rows.copy(source, (y - window.top) * window.width, start, start + window.width);
    }
    return resampleWindow(source, window, small, 1);
  });
}

/** Raw pixels of `window` resampled by sharp with Lanczos-3 to `small`'s size, with as many channels (1: grey, 3: RGB). */
async function resampleWindow(pixels: Buffer, window: Rect, small: Rect, channels: 1 | 3): Promise<Buffer> {
  const { data, info } = await sharp(pixels, { raw: { width: window.width, height: window.height, channels } })
    .resize(small.width, small.height, { fit: 'fill', kernel: 'lanczos3' })
    // One channel in, one out: sharp would otherwise write grey as sRGB.
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || info.width !== small.width || info.height !== small.height) {
    throw new AppError('INVALID_IMAGE', `Resampling a thumbnail gave ${info.width}x${info.height}x${info.channels}, not ${small.width}x${small.height}x${channels}.`);
  }
  return data;
}

/**
 * The rows of a maxSize-wide image that `small` spans: `resampled` (small's pixels, of
 * `fill.length` bytes each) at small.left, `fill` (the background's pixel) on either side.
 */
function widenedRows(resampled: Buffer, small: Rect, maxSize: number, fill: Buffer): Buffer {
  const bytes = fill.length;
  const rows = Buffer.allocUnsafe(maxSize * small.height * bytes).fill(fill);
  const rowBytes = small.width * bytes;
  for (let y = 0; y < small.height; y++) resampled.copy(rows, (y * maxSize + small.left) * bytes, y * rowBytes, (y + 1) * rowBytes);
  return rows;
}

function alignDown(value: number, multiple: number): number {
  return Math.floor(value / multiple) * multiple;
}

function thumbnailOptions(options: ThumbnailOptions): Required<ThumbnailOptions> {
  const maxSize = options.maxSize ?? THUMBNAIL_MAX_SIZE;
  const compressionLevel = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  assertIntegerOption('maxSize', maxSize, 1, 4096);
  assertIntegerOption('compressionLevel', compressionLevel, 0, 9);
  return { maxSize, compressionLevel };
}

/** Throws AppError INVALID_RENDER_OPTION: options come from code and configuration, not from users. */
export function assertIntegerOption(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AppError('INVALID_RENDER_OPTION', `The render option ${name} must be a whole number from ${min} to ${max}, got ${value}.`, {
      field: name,
    });
  }
}
