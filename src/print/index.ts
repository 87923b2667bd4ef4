/**
 * Print files (issue #12): a design at its product's physical print size, as print.png
 * (300 DPI raster through the preview's scene renderer) and print.pdf (real text, embedded
 * subset fonts, trim and bleed boxes), both drawn from one layout. Pure work: no storage,
 * no database, no settings read here; the specs come from configuration.
 */
import { validateDesignSpec, type DesignSpec } from '../rendering/design-spec.js';
import { AppError } from '../errors.js';
import { printImageWarnings, readPrintImage, type PrintImage } from './print-image.js';
import { renderPrintPdf } from './print-pdf.js';
import { renderPrintPng } from './print-png.js';
import { designPrintScene, previewText } from './print-scene.js';
import type { PrintSpec } from './print-specs.js';

export { DEFAULT_PRINT_SPECS, MAX_PRINT_PIXELS, MAX_PRINT_SIDE_PX, PRINT_FILE_KINDS, parsePrintSpecsJson, printGeometry } from './print-specs.js';
export type { PrintFileKind, PrintGeometry, PrintSpec, PrintSpecs } from './print-specs.js';
export { designPrintScene, MIN_LEGIBLE_POINTS, previewText } from './print-scene.js';
export type { PreviewText, PrintDesign } from './print-scene.js';
export { renderPrintPdf, PDF_PRODUCER } from './print-pdf.js';
export { renderPrintPng } from './print-png.js';
export { MIN_PRINT_DPI, effectiveDpi, readPrintImage } from './print-image.js';
export type { PlacedPrintImage, PrintImage } from './print-image.js';

export interface PrintFiles {
  /** Present when the spec's files include it. */
  png?: Buffer;
  pdf?: Buffer;
  /** What a print-on-demand service would warn about (an image under 150 DPI at print size); empty when nothing. */
  warnings: PrintWarning[];
}

/** A reason the print may disappoint, reported with the files (the design's `print_warnings`). */
export interface PrintWarning {
  /** LOW_RESOLUTION: the design's image prints at fewer than 150 dots per inch. */
  code: 'LOW_RESOLUTION';
  /** The design field the warning is about, e.g. `design_data.image`. */
  field: string;
  /** What it means and what to do, for a person. */
  message: string;
  /** LOW_RESOLUTION: the image's effective resolution at print size. */
  dpi?: number;
}

/** The normalised original of a design's upload (what `uploads/{id}/original.*` holds), at full resolution. */
export type PrintImageLoader = (uploadId: string) => Promise<Buffer>;

export interface PrintFileOptions {
  /** print.pdf's title: the design's id. */
  title: string;
  compressionLevel?: number;
  creationDate?: Date;
  /** Reads a design image's original; required for designs with an image. */
  loadImage?: PrintImageLoader;
}

/**
 * The print files `printSpec` asks for, from one layout of `spec`, and their warnings (a
 * LOW_RESOLUTION entry when the design's image prints under 150 DPI). A design with an image
 * has it read through `options.loadImage` (the normalised original, at full resolution).
 * Throws ValidationError for an invalid design, AppError PRINT_TEXT_TOO_LARGE when the text
 * cannot fit the print area at the smallest legible size, AppError PRINT_IMAGE_MISSING for a
 * design with an image and no loadImage, AppError INVALID_IMAGE when the image cannot be
 * decoded, what loadImage throws (as it threw it: a storage failure may be retried), and
 * what the renderers throw (TEXT_RENDER_FAILED, FONT_FILE_MISSING); none of ours is retryable.
 */
export async function renderPrintFiles(spec: DesignSpec, printSpec: PrintSpec, options: PrintFileOptions): Promise<PrintFiles> {
  const design = validateDesignSpec(spec);
  const [image, preview] = await Promise.all([loadDesignImage(design, options.loadImage), previewText(design, printSpec)]);
  const print = designPrintScene(design, printSpec, image, { preview });
  const [png, pdf] = await Promise.all([
    printSpec.files.includes('png') ? renderPrintPng(print, { compressionLevel: options.compressionLevel ?? 6 }) : undefined,
    printSpec.files.includes('pdf') ? renderPrintPdf(print, { title: options.title, ...(options.creationDate ? { creationDate: options.creationDate } : {}) }) : undefined,
  ]);
  return { ...(png ? { png } : {}), ...(pdf ? { pdf } : {}), warnings: printImageWarnings(print) };
}

/** The design's image read through `loadImage`, or undefined for a design without one. */
async function loadDesignImage(design: DesignSpec, loadImage: PrintImageLoader | undefined): Promise<PrintImage | undefined> {
  const image = design.design_data.image;
  if (!image) return undefined;
  if (!loadImage) {
    throw new AppError('PRINT_IMAGE_MISSING', `The design has an image (upload ${image.upload_id}) but renderPrintFiles was called without options.loadImage to read it: pass a loader of the upload's normalised original.`, {
      field: 'design_data.image',
    });
  }
  return readPrintImage(await loadImage(image.upload_id));
}
