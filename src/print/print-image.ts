import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors.js';
import type { ImageFit } from '../rendering/design-spec.js';
import type { Rgb } from '../rendering/colors.js';
import type { Rect } from '../rendering/scene.js';
import type { PrintWarning } from './index.js';
import type { PrintDesign } from './print-scene.js';

/**
 * A design's image in print files: read once from the normalised original (full resolution),
 * placed by the preview's rule (designRegions, see print-scene.ts), composited into print.png
 * by the scene renderer, and embedded in print.pdf as an image at the same rectangle. Its
 * effective resolution at print size is what the LOW_RESOLUTION warning reports.
 */

/** Print-on-demand services warn under this many image pixels per printed inch. */
export const MIN_PRINT_DPI = 150;

/** The original of a design's upload, with what its header says. */
export interface PrintImage {
  readonly input: Buffer;
  /** Size as shown, after any EXIF orientation. */
  readonly width: number;
  readonly height: number;
  readonly hasAlpha: boolean;
  /** sharp's format name (`jpeg`, `png`, ...). */
  readonly format: string;
  /** True when the bytes can go into a PDF as they are: a baseline-or-progressive sRGB JPEG, upright, three channels. */
  readonly embeddableJpeg: boolean;
}

/** A floating-point rectangle in canvas pixels. */
export interface Box {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** The image placed on a print canvas. */
export interface PlacedPrintImage {
  readonly source: PrintImage;
  /** The area it is fitted into (the scene layer's rect), canvas pixels; a `cover` image is clipped to it. */
  readonly area: Rect;
  readonly fit: ImageFit;
  /** 1, or less behind text (the preview's toning down). */
  readonly opacity: number;
  /** Where the whole image lands, scaled and centred in `area` (larger than `area` for `cover`). */
  readonly drawn: Box;
  /** Canvas pixels per image pixel. */
  readonly scale: number;
}

/**
 * Reads the header of a design image's original. Throws AppError INVALID_IMAGE (field
 * design_data.image) when sharp cannot read it.
 */
export async function readPrintImage(input: Buffer): Promise<PrintImage> {
  let meta: Metadata;
  try {
    meta = await sharp(input).metadata();
  } catch (error) {
    throw new AppError('INVALID_IMAGE', `The design's image could not be read (${error instanceof Error ? error.message : String(error)}): upload it again and point design_data.image at the new upload.`, {
      field: 'design_data.image',
      cause: error,
    });
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) {
    throw new AppError('INVALID_IMAGE', 'The design\'s image has no size in its header: upload it again and point design_data.image at the new upload.', { field: 'design_data.image' });
  }
  const embeddableJpeg = meta.format === 'jpeg' && meta.channels === 3 && meta.space === 'srgb' && (meta.orientation ?? 1) === 1;
  return { input, width, height, hasAlpha: meta.hasAlpha === true, format: meta.format ?? 'unknown', embeddableJpeg };
}

/** `image` fitted into `area` as sharp fits it (`contain`: all of it inside; `cover`: the area filled), centred. */
export function placePrintImage(image: PrintImage, area: Rect, fit: ImageFit, opacity: number): PlacedPrintImage {
  const fitScale = fit === 'cover' ? Math.max : Math.min;
  const scale = fitScale(area.width / image.width, area.height / image.height);
  const width = image.width * scale;
  const height = image.height * scale;
  const drawn = { left: area.left + (area.width - width) / 2, top: area.top + (area.height - height) / 2, width, height };
  return { source: image, area, fit, opacity, drawn, scale };
}

/** The image's pixels per printed inch at `dpi` canvas pixels per inch. */
export function effectiveDpi(placed: PlacedPrintImage, dpi: number): number {
  return dpi / placed.scale;
}

/** The printed part of the image, canvas pixels: all of it (contain) or the area (cover). */
function visibleBox(placed: PlacedPrintImage): Box {
  const { drawn, area } = placed;
  const left = Math.max(drawn.left, area.left);
  const top = Math.max(drawn.top, area.top);
  return { left, top, width: Math.min(drawn.left + drawn.width, area.left + area.width) - left, height: Math.min(drawn.top + drawn.height, area.top + area.height) - top };
}

/**
 * A LOW_RESOLUTION warning when the design's image prints at fewer than MIN_PRINT_DPI image
 * pixels per inch (rounded), saying how large an image would do; none otherwise.
 */
export function printImageWarnings(print: PrintDesign): PrintWarning[] {
  const placed = print.image;
  if (!placed) return [];
  const exact = effectiveDpi(placed, print.spec.dpi);
  const dpi = Math.round(exact);
  if (dpi >= MIN_PRINT_DPI) return [];
  const visible = visibleBox(placed);
  const inches = (px: number) => (px / print.spec.dpi).toFixed(1);
  const { width, height } = placed.source;
  // Pixels for MIN_PRINT_DPI over the same printed size (less a hair, so 1080.0000001 asks for 1080).
  const needed = (px: number) => Math.ceil((px * placed.scale * MIN_PRINT_DPI) / print.spec.dpi - 1e-9);
  return [
    {
      code: 'LOW_RESOLUTION',
      field: 'design_data.image',
      dpi,
      message:
        `The image (${width}x${height} px) prints at about ${dpi} DPI over ${inches(visible.width)} x ${inches(visible.height)} in, under the ${MIN_PRINT_DPI} DPI ` +
        `print services ask for: it will look blurry or blocky. Upload a larger version (at least ${needed(width)}x${needed(height)} px) ` +
        'or make it smaller on the design (design_data.image.placement.size).',
    },
  ];
}

/** The image as print.pdf embeds it: encoded bytes, where they go and what clips them (canvas pixels). */
export type PdfImage = (
  | { readonly kind: 'jpg'; readonly bytes: Buffer }
  /** 8-bit PNGs from sharp: the colour (RGB), and the alpha (grey) when some pixel is not opaque; their zlib data goes into the PDF as is. */
  | { readonly kind: 'png'; readonly rgb: Buffer; readonly alpha?: Buffer }
) & {
  readonly box: Box;
  /** The area a `cover` image is clipped to. */
  readonly clip?: Rect;
};

/**
 * The image of `print` ready for print.pdf, at the original's full resolution: only the
 * pixels that print (a `cover` image cropped to whole pixels around its area, then clipped
 * to it exactly), the opacity applied as print.png applies it, and on paper products
 * (printed background, no transparency in the PDF) flattened onto the background colour.
 * A photo (JPEG original) stays JPEG: as it came when nothing changes, else quality 95,
 * 4:4:4; any other image is lossless (PNG data: a logo keeps its edges). Undefined when the
 * design has no image.
 */
export async function pdfImage(print: PrintDesign): Promise<PdfImage | undefined> {
  const placed = print.image;
  if (!placed) return undefined;
  const { source, drawn, scale, opacity } = placed;
  const visible = visibleBox(placed);
  // Whole image pixels around the visible part.
  const left = Math.max(0, Math.floor((visible.left - drawn.left) / scale + 1e-6));
  const top = Math.max(0, Math.floor((visible.top - drawn.top) / scale + 1e-6));
  const right = Math.min(source.width, Math.ceil((visible.left + visible.width - drawn.left) / scale - 1e-6));
  const bottom = Math.min(source.height, Math.ceil((visible.top + visible.height - drawn.top) / scale - 1e-6));
  const crop = { left, top, width: right - left, height: bottom - top };
  const box = { left: drawn.left + left * scale, top: drawn.top + top * scale, width: crop.width * scale, height: crop.height * scale };
  const clip = placed.fit === 'cover' ? { clip: placed.area } : {};
  const whole = crop.width === source.width && crop.height === source.height;
  if (whole && opacity === 1 && source.embeddableJpeg) return { kind: 'jpg', bytes: source.input, box, ...clip };

  let pipeline = sharp(source.input, { limitInputPixels: false }).rotate();
  if (!whole) pipeline = pipeline.extract(crop);
  const transparent = source.hasAlpha || opacity < 1;
  pipeline = pipeline.toColourspace('srgb');
  pipeline = transparent ? pipeline.ensureAlpha() : pipeline.removeAlpha();
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  let pixels: Buffer = data;
  let channels: 3 | 4 = transparent ? 4 : 3;
  if (transparent) {
    ({ pixels, channels } = print.spec.printBackground ? flattenOnto(data, opacity, print.background) : withOpacity(data, opacity));
  }
  const raw = () => sharp(pixels, { raw: { width, height, channels }, limitInputPixels: false });
  if (source.format === 'jpeg' && channels === 3) {
    return { kind: 'jpg', bytes: await raw().jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer(), box, ...clip };
  }
  const [rgb, alpha] = await Promise.all([
    raw().removeAlpha().png({ compressionLevel: 6, adaptiveFiltering: true }).toBuffer(),
    channels === 4 ? raw().extractChannel(3).png({ compressionLevel: 6, adaptiveFiltering: true }).toBuffer() : undefined,
  ]);
  return { kind: 'png', rgb, ...(alpha ? { alpha } : {}), box, ...clip };
}

/**
 * RGBA pixels at `opacity` over an opaque `background`, blended as the scene renderer blends
 * (straight alpha, rounded to nearest): RGB pixels.
 */
function flattenOnto(data: Buffer, opacity: number, background: Rgb): { pixels: Buffer; channels: 3 } {
  const { r, g, b } = background;
  const count = data.length >>> 2;
  const out = Buffer.allocUnsafe(count * 3);
  for (let p = 0, i = 0, o = 0; p < count; p++, i += 4, o += 3) {
    const alpha = Math.round((data[i + 3] as number) * opacity);
    out[o] = r + Math.round((((data[i] as number) - r) * alpha) / 255);
    out[o + 1] = g + Math.round((((data[i + 1] as number) - g) * alpha) / 255);
    out[o + 2] = b + Math.round((((data[i + 2] as number) - b) * alpha) / 255);
  }
  return { pixels: out, channels: 3 };
}

/** RGBA pixels with their alpha scaled by `opacity`; RGB when every pixel is then opaque (no soft mask needed). */
function withOpacity(data: Buffer, opacity: number): { pixels: Buffer; channels: 3 | 4 } {
  let opaque = true;
  for (let i = 3; i < data.length; i += 4) {
    const alpha = opacity === 1 ? (data[i] as number) : Math.round((data[i] as number) * opacity);
    data[i] = alpha;
    if (alpha !== 255) opaque = false;
  }
  if (!opaque) return { pixels: data, channels: 4 };
  const count = data.length >>> 2;
  const rgb = Buffer.allocUnsafe(count * 3);
  for (let p = 0, i = 0, o = 0; p < count; p++, i += 4, o += 3) {
    rgb[o] = data[i] as number;
    rgb[o + 1] = data[i + 1] as number;
    rgb[o + 2] = data[i + 2] as number;
  }
  return { pixels: rgb, channels: 3 };
}
