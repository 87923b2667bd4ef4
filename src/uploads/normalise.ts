import { createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { SNIFF_BYTES, sniff, type ImageFormat, type SniffedType } from './sniff.js';
import { UploadRejectedError } from './upload-errors.js';
import { webOutput } from '../rendering/renditions.js';

/**
 * Decode and re-encode an accepted upload with sharp, so the bytes a user sent are never
 * served as they came: checks the byte and pixel limits from the header before any pixel is
 * decoded, turns the image upright from its EXIF orientation, converts it to sRGB (an
 * embedded ICC profile, Adobe RGB, Display P3 or CMYK, is applied, not dropped), and writes
 * a new file with no metadata at all (EXIF with GPS, XMP, IPTC, comments, ICC).
 *
 * The normalised original keeps the full resolution. Its format:
 * - PNG when the image has an alpha channel or came lossless (PNG, GIF): a logo stays
 *   pixel-exact; JPEG would smear its edges and lose its transparency.
 * - JPEG otherwise (photos from JPEG, WebP, AVIF, HEIC), quality 90 with 4:4:4 chroma,
 *   libjpeg-turbo's standard Huffman tables (not mozjpeg: on a 10 MB photo mozjpeg took
 *   24 s of a 25 s pipeline for a file 4% smaller; not optimised tables either: the encoder
 *   then holds every coefficient of the image until the end, 150-270 MB more peak memory
 *   for a 12 MP photo and twice the time, for a file 3.5% smaller; see BENCHMARKS.md): it
 *   is the master later sizes and print renders are made from, so colour
 *   edges must survive, and every consumer reads JPEG. Measured on two real photos here
 *   (720x477 and 1169x584): PNG was 3.8x and 6.6x the bytes of this JPEG for no visible
 *   gain; WebP q90 was 35% and 33% smaller, about the size of JPEG q90 4:2:0, because lossy
 *   WebP always subsamples chroma to 4:2:0, which blurs red-on-white edges. WebP is the
 *   better published format (avatars are WebP + PNG), JPEG 4:4:4 the better master.
 *
 * Errors (UploadRejectedError, never retryable): TOO_LARGE (byte limit), TOO_MANY_PIXELS
 * (header over `maxInputPixels`), UNSUPPORTED_TYPE (sniffed, or an animation), CORRUPT
 * (zero bytes, truncated or undecodable data). A failure of the destination (disk full, a
 * storage stream error) is rethrown as it came: that one may be retried.
 */

/** The bytes of the image, or the path of a staged file (read by libvips without loading it whole). */
export type ImageSource = Buffer | string;
/** A file path, or a stream (e.g. an object-store upload) the encoded bytes are piped into. */
export type ImageDestination = string | Writable;

export interface ImageLimits {
  /** Largest width x height accepted (after which sharp would refuse to decode). Default 40 megapixels. */
  maxInputPixels?: number;
  /** Largest file accepted, in bytes. Default: no limit here (the HTTP layer enforces UPLOAD_MAX_BYTES first). */
  maxBytes?: number;
}

export const DEFAULT_MAX_INPUT_PIXELS = 40_000_000;

export interface ImageHeader extends SniffedType {
  /** Size as displayed, i.e. after EXIF orientation. */
  width: number;
  height: number;
  hasAlpha: boolean;
  bytes: number;
}

export interface EncodedImage {
  format: 'jpeg' | 'png' | 'webp';
  contentType: string;
  extension: string;
  width: number;
  height: number;
  /** Bytes written to the destination. */
  bytes: number;
}

const CONTENT_TYPES = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const;
const EXTENSIONS = { jpeg: 'jpg', png: 'png', webp: 'webp' } as const;
/** sharp's metadata().format per sniffed family (AVIF and HEIC both decode as heif). */
const SHARP_FORMAT: Record<ImageFormat, string> = { jpeg: 'jpeg', png: 'png', webp: 'webp', avif: 'heif', heif: 'heif', gif: 'gif' };

export const AVATAR_SIZES = [512, 128, 64] as const;

function corrupt(cause: unknown, what = 'could not be decoded'): UploadRejectedError {
  const detail = cause instanceof Error ? `: ${cause.message.split('\n')[0]}` : '';
  return new UploadRejectedError('CORRUPT', `The image ${what}${detail}. It may be truncated or damaged: export it again and re-upload it`, { cause });
}

function tooManyPixels(width: number, height: number, max: number, cause?: unknown): UploadRejectedError {
  return new UploadRejectedError(
    'TOO_MANY_PIXELS',
    `The image is ${width}x${height} pixels (${((width * height) / 1e6).toFixed(1)} megapixels), above the limit of ${(max / 1e6).toFixed(1)} megapixels: scale it down and re-upload it`,
    { cause, details: { width, height, maxInputPixels: max } },
  );
}

/** Maps an error sharp threw while decoding to the rejection it means. */
function decodeError(error: unknown, maxInputPixels: number): UploadRejectedError {
  if (error instanceof UploadRejectedError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return tooManyPixels(0, 0, maxInputPixels, error);
  return corrupt(error);
}

async function readHead(source: ImageSource): Promise<{ head: Buffer; bytes: number }> {
  if (Buffer.isBuffer(source)) return { head: source.subarray(0, SNIFF_BYTES), bytes: source.length };
  const { size } = await stat(source);
  const file = await open(source, 'r');
  try {
    const head = Buffer.alloc(Math.min(SNIFF_BYTES, size));
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return { head: head.subarray(0, bytesRead), bytes: size };
  } finally {
    await file.close();
  }
}

function decoder(source: ImageSource, maxInputPixels: number): Sharp {
  // failOn 'truncated': a truncated image is refused, not padded with grey, while the benign
  // warnings some cameras' files raise (extraneous bytes before a marker) do not refuse a good
  // photo. pages 1: first frame only (animations are refused earlier anyway).
  return sharp(source, { limitInputPixels: maxInputPixels, failOn: 'truncated', sequentialRead: true, pages: 1 });
}

/**
 * Sniffs the type and reads the header (no pixels decoded) and checks the limits.
 * Throws UploadRejectedError as described in the module comment.
 */
export async function inspectImage(source: ImageSource, limits: ImageLimits = {}): Promise<ImageHeader> {
  const maxInputPixels = limits.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const { head, bytes } = await readHead(source);
  if (limits.maxBytes !== undefined && bytes > limits.maxBytes) {
    throw new UploadRejectedError('TOO_LARGE', `The file is ${bytes} bytes, above the limit of ${limits.maxBytes} bytes: upload a smaller image`, {
      details: { bytes, maxBytes: limits.maxBytes },
    });
  }
  const type = sniff(head);
  let metadata: Metadata;
  try {
    // No pixel limit here: we want the header's numbers to report them, not sharp's refusal.
    metadata = await sharp(source, { limitInputPixels: false, failOn: 'truncated' }).metadata();
  } catch (error) {
    throw corrupt(error, 'header could not be read');
  }
  if (metadata.format !== SHARP_FORMAT[type.format] || !metadata.width || !metadata.height) {
    throw corrupt(undefined, `declares itself ${type.format.toUpperCase()} but its header is not readable as one`);
  }
  if (metadata.width * metadata.height > maxInputPixels) throw tooManyPixels(metadata.width, metadata.height, maxInputPixels);
  if ((metadata.pages ?? 1) > 1) {
    // Decided: animations are refused, not flattened to their first frame. A product
    // print or an avatar is still, and silently dropping frames surprises the uploader.
    throw new UploadRejectedError(
      'UNSUPPORTED_TYPE',
      `The image is animated (${metadata.pages} frames), which is not accepted: upload a still image (one frame as PNG or JPEG)`,
      { details: { detected: `animated ${type.format}`, pages: metadata.pages } },
    );
  }
  const turned = (metadata.orientation ?? 1) >= 5;
  return {
    ...type,
    width: turned ? metadata.height : metadata.width,
    height: turned ? metadata.width : metadata.height,
    hasAlpha: metadata.hasAlpha ?? false,
    bytes,
  };
}

/** Runs the pipeline into the destination; decode failures become rejections, destination failures stay as they are. */
async function write(image: Sharp, destination: ImageDestination, maxInputPixels: number): Promise<OutputInfo> {
  let info: OutputInfo | undefined;
  image.once('info', (i: OutputInfo) => (info = i));
  const target = typeof destination === 'string' ? createWriteStream(destination) : destination;
  // Whichever side failed first is the cause: pipeline() then destroys the other side with
  // the same error (Node 22 and later also emit it there), so comparing errors cannot tell.
  let failedFirst: 'source' | 'destination' | undefined;
  image.once('error', () => (failedFirst ??= 'source'));
  target.once('error', () => (failedFirst ??= 'destination'));
  try {
    await pipeline(image, target);
  } catch (error) {
    if (failedFirst === 'destination') throw error;
    throw decodeError(error, maxInputPixels);
  }
  if (!info) throw new Error('sharp finished without reporting the output size');
  return info;
}

function upright(source: ImageSource, maxInputPixels: number): Sharp {
  return decoder(source, maxInputPixels).autoOrient().toColourspace('srgb');
}

/**
 * Writes the normalised original (full resolution, upright, sRGB, no metadata; PNG or JPEG
 * as decided above) to `destination`. Inspects first, so a refusal costs no decode.
 */
export async function normaliseImage(source: ImageSource, destination: ImageDestination, limits: ImageLimits = {}): Promise<EncodedImage & { input: ImageHeader }> {
  const maxInputPixels = limits.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const input = await inspectImage(source, limits);
  const format = input.hasAlpha || input.format === 'png' || input.format === 'gif' ? 'png' : 'jpeg';
  const image = upright(source, maxInputPixels);
  if (format === 'png') image.png({ compressionLevel: 9, adaptiveFiltering: true });
  else image.jpeg({ quality: 90, chromaSubsampling: '4:4:4', optimiseCoding: false });
  const info = await write(image, destination, maxInputPixels);
  return { format, contentType: CONTENT_TYPES[format], extension: EXTENSIONS[format], width: info.width, height: info.height, bytes: info.size, input };
}

export interface SquareOptions {
  size: number;
  format: 'png' | 'webp';
  /** 'attention' (default) keeps the most salient region (faces, colour, detail); 'centre' crops the middle. */
  crop?: 'attention' | 'centre';
}

/**
 * Writes one square rendition (an avatar size): cover-cropped to `size` x `size`, upright,
 * sRGB, no metadata. Works from the upload or from its normalised original. Always exactly
 * `size` px, enlarging a smaller image: the published sizes are a contract clients lay out
 * against (a 100 px photo gives a soft 512 px square, not a 100 px one under that name).
 */
export async function writeSquare(source: ImageSource, options: SquareOptions, destination: ImageDestination, limits: ImageLimits = {}): Promise<EncodedImage> {
  const maxInputPixels = limits.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  await inspectImage(source, limits);
  const image = upright(source, maxInputPixels).resize(options.size, options.size, {
    fit: 'cover',
    position: options.crop === 'centre' ? 'centre' : sharp.strategy.attention,
  });
  encodeSquare(image, options.format);
  const info = await write(image, destination, maxInputPixels);
  return { format: options.format, contentType: CONTENT_TYPES[options.format], extension: EXTENSIONS[options.format], width: info.width, height: info.height, bytes: info.size };
}

/** PNG lossless; WebP with the settings every web rendition uses (src/rendering/renditions.ts). */
function encodeSquare(image: Sharp, format: SquareOptions['format']): Sharp {
  return format === 'png' ? image.png({ compressionLevel: 9, adaptiveFiltering: true }) : webOutput(image, 'webp');
}

/**
 * The avatar set of issue #11: 512, 128 and 64 px squares in WebP and PNG, one destination each,
 * as writeSquare would write them. The source is decoded once, into the largest square (upright,
 * sRGB, cropped), and every file is encoded from those pixels: resizing 512 to 128 looks the same
 * as resizing the source, and one decode instead of six made a 24-megapixel JPEG's set take 1.1 s
 * instead of 3.1 s here. Throws as writeSquare does.
 */
export async function writeAvatarSizes(
  source: ImageSource,
  destinationFor: (size: number, format: 'png' | 'webp') => ImageDestination,
  options: { crop?: 'attention' | 'centre'; limits?: ImageLimits } = {},
): Promise<Array<EncodedImage & { size: number }>> {
  const maxInputPixels = options.limits?.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  await inspectImage(source, options.limits);
  const largest = Math.max(...AVATAR_SIZES);
  let square: { data: Buffer; info: OutputInfo };
  try {
    square = await upright(source, maxInputPixels)
      .resize(largest, largest, { fit: 'cover', position: options.crop === 'centre' ? 'centre' : sharp.strategy.attention })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw decodeError(error, maxInputPixels);
  }
  const { width, height, channels } = square.info;
  const written: Array<EncodedImage & { size: number }> = [];
  for (const size of AVATAR_SIZES) {
    for (const format of ['webp', 'png'] as const) {
      const image = encodeSquare(sharp(square.data, { raw: { width, height, channels } }).resize(size, size), format);
      const info = await write(image, destinationFor(size, format), maxInputPixels);
      written.push({ format, contentType: CONTENT_TYPES[format], extension: EXTENSIONS[format], width: info.width, height: info.height, bytes: info.size, size });
    }
  }
  return written;
}
