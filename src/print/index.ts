/**
 * Print files (issue #12): a design at its product's physical print size, as print.png
 * (300 DPI raster through the preview's scene renderer) and print.pdf (real text, embedded
 * subset fonts, trim and bleed boxes), both drawn from one layout. Pure work: no storage,
 * no database, no settings read here; the specs come from configuration.
 */
import { validateDesignSpec, type DesignSpec } from '../rendering/design-spec.js';
import { renderPrintPdf } from './print-pdf.js';
import { renderPrintPng } from './print-png.js';
import { designPrintScene } from './print-scene.js';
import type { PrintSpec } from './print-specs.js';

export { DEFAULT_PRINT_SPECS, MAX_PRINT_PIXELS, MAX_PRINT_SIDE_PX, PRINT_FILE_KINDS, parsePrintSpecsJson, printGeometry } from './print-specs.js';
export type { PrintFileKind, PrintGeometry, PrintSpec, PrintSpecs } from './print-specs.js';
export { designPrintScene, MIN_LEGIBLE_POINTS } from './print-scene.js';
export type { PrintDesign } from './print-scene.js';
export { renderPrintPdf, PDF_PRODUCER } from './print-pdf.js';
export { renderPrintPng } from './print-png.js';

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
 * The print files `printSpec` asks for, from one layout of `spec`. Throws ValidationError
 * for an invalid design, AppError PRINT_TEXT_TOO_LARGE when the text cannot fit the print
 * area at the smallest legible size, and what the renderers throw (TEXT_RENDER_FAILED,
 * FONT_FILE_MISSING); none is retryable.
 */
export async function renderPrintFiles(spec: DesignSpec, printSpec: PrintSpec, options: PrintFileOptions): Promise<PrintFiles> {
  const print = designPrintScene(validateDesignSpec(spec), printSpec);
  const [png, pdf] = await Promise.all([
    printSpec.files.includes('png') ? renderPrintPng(print, { compressionLevel: options.compressionLevel ?? 6 }) : undefined,
    printSpec.files.includes('pdf') ? renderPrintPdf(print, { title: options.title, ...(options.creationDate ? { creationDate: options.creationDate } : {}) }) : undefined,
  ]);
  return { ...(png ? { png } : {}), ...(pdf ? { pdf } : {}), warnings: [] };
}
