import { z } from 'zod';
import { PRODUCT_TYPES, type ProductType } from '../rendering/design-spec.js';

/**
 * What the factory prints for each product, as data: the trim size (the finished piece),
 * the resolution, the bleed (printed past the trim and cut off, so a cut that wanders a
 * little shows no white edge), whether the design's background colour is printed, and
 * which files are made. Apparel prints on a garment whose colour *is* the design's
 * `color`, so only the text is printed, on a transparent background; paper goods print
 * their background, bleed included.
 *
 * A deployment overrides entries with PRINT_SPECS_FILE (see parsePrintSpecsJson); the
 * limits below are checked at start so that no print job can ask for an impossible canvas.
 */

export const PRINT_FILE_KINDS = ['png', 'pdf'] as const;
export type PrintFileKind = (typeof PRINT_FILE_KINDS)[number];

export const LENGTH_UNITS = ['in', 'mm'] as const;
export type LengthUnit = (typeof LENGTH_UNITS)[number];

export interface PrintSpec {
  /** Trim size, in `unit`. */
  readonly width: number;
  readonly height: number;
  /** Printed past the trim on every side, in `unit`; 0 for none. */
  readonly bleed: number;
  readonly unit: LengthUnit;
  /** Pixels per inch of print.png (and of images placed in print.pdf). */
  readonly dpi: number;
  /** True for paper goods: the design's colour is printed, bleed included. False for apparel: transparent, text only. */
  readonly printBackground: boolean;
  readonly files: readonly PrintFileKind[];
}

export type PrintSpecs = Readonly<Record<ProductType, PrintSpec>>;

/** Largest side and area of a print canvas (trim plus bleed, in pixels): past them a spec is refused at start. */
export const MAX_PRINT_SIDE_PX = 20_000;
export const MAX_PRINT_PIXELS = 100_000_000;

const apparel = (width: number, height: number): PrintSpec => ({ width, height, bleed: 0, unit: 'in', dpi: 300, printBackground: false, files: ['png', 'pdf'] });
const paper = (width: number, height: number): PrintSpec => ({ width, height, bleed: 0.125, unit: 'in', dpi: 300, printBackground: true, files: ['png', 'pdf'] });

/** The built-in table: print-on-demand providers' usual print areas. */
export const DEFAULT_PRINT_SPECS: PrintSpecs = Object.freeze({
  't-shirt': apparel(12, 16),
  hoodie: apparel(12, 12),
  'tote-bag': apparel(14, 14),
  // An 11 oz mug's wrap-around print area.
  mug: paper(9, 3.5),
  poster: paper(18, 24),
  sticker: paper(4, 4),
});

const MM_PER_INCH = 25.4;
/** PDF user space units (points) per inch. */
export const POINTS_PER_INCH = 72;

/** A length of `spec` in inches. */
export function inches(spec: Pick<PrintSpec, 'unit'>, length: number): number {
  return spec.unit === 'mm' ? length / MM_PER_INCH : length;
}

/** A print canvas in pixels: trim plus bleed. Pixel edges of the trim may fall between pixels (a 1/8 in bleed is 37.5 px at 300 DPI). */
export interface PrintGeometry {
  /** The canvas: trim plus bleed on every side, rounded to whole pixels. */
  readonly widthPx: number;
  readonly heightPx: number;
  /** Bleed and trim, in (fractional) pixels. */
  readonly bleedPx: number;
  readonly trimWidthPx: number;
  readonly trimHeightPx: number;
  /** Bleed and trim, in PDF points. */
  readonly bleedPt: number;
  readonly trimWidthPt: number;
  readonly trimHeightPt: number;
}

export function printGeometry(spec: PrintSpec): PrintGeometry {
  const width = inches(spec, spec.width);
  const height = inches(spec, spec.height);
  const bleed = inches(spec, spec.bleed);
  return {
    widthPx: Math.round((width + 2 * bleed) * spec.dpi),
    heightPx: Math.round((height + 2 * bleed) * spec.dpi),
    bleedPx: bleed * spec.dpi,
    trimWidthPx: width * spec.dpi,
    trimHeightPx: height * spec.dpi,
    bleedPt: bleed * POINTS_PER_INCH,
    trimWidthPt: width * POINTS_PER_INCH,
    trimHeightPt: height * POINTS_PER_INCH,
  };
}

/** One entry of PRINT_SPECS_FILE: any field left out keeps the built-in value (or, for a unit change, must be given). */
const entrySchema = z.strictObject({
  width: z.number().positive().optional(),
  height: z.number().positive().optional(),
  bleed: z.number().min(0).optional(),
  unit: z.enum(LENGTH_UNITS).optional(),
  dpi: z.number().int().min(72).max(2400).optional(),
  print_background: z.boolean().optional(),
  files: z.array(z.enum(PRINT_FILE_KINDS)).min(1).optional(),
});

/** A problem with one entry of the file: `entry` is the product type (or '' for the file as a whole). */
export interface PrintSpecProblem {
  readonly entry: string;
  readonly field: string;
  readonly message: string;
}

/**
 * The built-in table with the entries of `json` (the text of PRINT_SPECS_FILE) merged over
 * it: `{ "poster": { "width": 24, "height": 36 }, "mug": { "width": 240, "height": 90, "unit": "mm" } }`.
 * Returns the problems instead when there are any: JSON that does not parse, a product
 * type that does not exist, a field that is unknown or out of range, a canvas over
 * MAX_PRINT_SIDE_PX on a side or MAX_PRINT_PIXELS in area.
 */
export function parsePrintSpecsJson(json: string): { specs: PrintSpecs } | { problems: PrintSpecProblem[] } {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (error) {
    return { problems: [{ entry: '', field: '', message: `is not valid JSON (${error instanceof Error ? error.message : String(error)})` }] };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { problems: [{ entry: '', field: '', message: 'must be a JSON object whose keys are product types' }] };
  }
  const problems: PrintSpecProblem[] = [];
  const specs: Record<ProductType, PrintSpec> = { ...DEFAULT_PRINT_SPECS };
  for (const [entry, value] of Object.entries(data)) {
    if (!(PRODUCT_TYPES as readonly string[]).includes(entry)) {
      problems.push({ entry, field: '', message: `is not a product type (known: ${PRODUCT_TYPES.join(', ')})` });
      continue;
    }
    const parsed = entrySchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.code === 'unrecognized_keys' ? issue.keys[0]! : issue.path.map(String).join('.');
      const message = issue.code === 'unrecognized_keys' ? `is not a known field (known: ${Object.keys(entrySchema.shape).join(', ')})` : issue.message;
      problems.push({ entry, field, message });
      continue;
    }
    const base = DEFAULT_PRINT_SPECS[entry as ProductType];
    const { print_background: printBackground, ...rest } = parsed.data;
    const unitChanged = rest.unit !== undefined && rest.unit !== base.unit;
    const missing = unitChanged ? (['width', 'height', 'bleed'] as const).find((field) => rest[field] === undefined) : undefined;
    if (missing) {
      problems.push({ entry, field: missing, message: `is required when unit changes to ${rest.unit} (lengths are not converted)` });
      continue;
    }
    const spec: PrintSpec = Object.freeze({ ...base, ...rest, ...(printBackground === undefined ? {} : { printBackground }) });
    const limit = checkLimits(spec);
    if (limit) {
      problems.push({ entry, ...limit });
      continue;
    }
    specs[entry as ProductType] = spec;
  }
  return problems.length > 0 ? { problems } : { specs: Object.freeze(specs) };
}

/** The field and message when `spec`'s canvas is larger than a print may be. */
export function checkLimits(spec: PrintSpec): { field: string; message: string } | undefined {
  const { widthPx, heightPx } = printGeometry(spec);
  const side = Math.max(widthPx, heightPx);
  if (side > MAX_PRINT_SIDE_PX) {
    const field = widthPx >= heightPx ? 'width' : 'height';
    return { field, message: `makes a canvas of ${widthPx}x${heightPx} px at ${spec.dpi} DPI (bleed included), over the limit of ${MAX_PRINT_SIDE_PX} px on a side` };
  }
  if (widthPx * heightPx > MAX_PRINT_PIXELS) {
    return { field: 'dpi', message: `makes a canvas of ${widthPx}x${heightPx} px (${((widthPx * heightPx) / 1e6).toFixed(1)} megapixels), over the limit of ${MAX_PRINT_PIXELS / 1e6} megapixels` };
  }
  return undefined;
}
