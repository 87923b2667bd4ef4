import sharp from 'sharp';
import { AppError } from '../errors.js';
import { encodeFlatPng } from './flat-png.js';
import { encodeScene, isFlat, paintCanvas, paintWindow, type PreparedScene } from './scene-renderer.js';

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
 * The thumbnail of a rendered scene, with the same pixels as `makeThumbnail` of its preview.
 * When the scene is flat and square and its side a whole multiple of the thumbnail's, only
 * the layers' box (plus the kernel's reach) is resampled: Lanczos of a flat colour is that
 * colour, and a crop aligned to the scale factor samples the same source pixels as the whole
 * image would. Any other scene is painted whole and resampled by makeThumbnail.
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
  const small = await sharp(paintWindow(scene, window), { raw: { width: window.width, height: window.height, channels: 3 } })
    .resize(x1 - x0, y1 - y0, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();

  const rows = Buffer.allocUnsafe(maxSize * (y1 - y0) * 3);
  rows.fill(Buffer.from([background.r, background.g, background.b]));
  const smallRow = (x1 - x0) * 3;
  for (let y = 0; y < y1 - y0; y++) small.copy(rows, (y * maxSize + x0) * 3, y * smallRow, (y + 1) * smallRow);
  return encodeFlatPng({ width: maxSize, height: maxSize, background, band: { top: y0, rows } }, compressionLevel);
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
