import { validateDesignSpec, type DesignSpec, type ProductType } from './design-spec.js';
import { DEFAULT_PRINT_SPECS } from '../print/print-specs.js';
import { designScene, type PrintArea } from './scene.js';
import { encodeScene, withPreparedScene } from './scene-renderer.js';
import { allSettledOrThrow } from '../shared/settled.js';
import { assertIntegerOption, DEFAULT_COMPRESSION_LEVEL, sceneThumbnail, THUMBNAIL_MAX_SIZE } from './thumbnail.js';

export const PREVIEW_SIZE = 600;
/** Largest canvas a render may ask for: 4096² pixels stay far below sharp's input pixel limit. */
export const MAX_PREVIEW_SIZE = 4096;
const MIN_PREVIEW_SIZE = 16;

export interface RenderOptions {
  /** zlib level of the PNGs, 0 (fastest, largest) to 9 (slowest, smallest). Default 6. */
  compressionLevel?: number;
  /** Width and height of the square preview in pixels. Default 600; the layout scales with it. */
  size?: number;
  /**
   * Each product type's print area (trim width and height, in any one unit): the preview
   * lays the design out in the largest rectangle of that shape, as the print files lay it
   * out in the trim (see designScene). Pass the deployment's print specs
   * (settings.printSpecs, PRINT_SPECS_FILE included); default the built-in table.
   */
  printAreas?: Readonly<Record<ProductType, PrintArea>>;
}

export interface AssetRenderOptions extends RenderOptions {
  /** The thumbnail fits inside this square. Default 200. */
  thumbnailMaxSize?: number;
}

export interface DesignAssets {
  /**
   * size × size PNG without alpha: a palette PNG when the text is one colour (its 256
   * blends over the background), else RGB. Either decodes to the same RGB pixels.
   */
  preview: Buffer;
  /**
   * The preview scaled to fit thumbnailMaxSize × thumbnailMaxSize with Lanczos-3 (see
   * sceneThumbnail): a palette PNG when the text is one colour, else RGB.
   */
  thumbnail: Buffer;
}

/**
 * The design's preview: a size × size PNG (see DesignAssets.preview) filled with `color`,
 * the design laid out in the product's print area (the largest rectangle of its trim's
 * shape, centred: options.printAreas) as its print files lay it out: the text centred in
 * `text_color` (or white/black, whichever contrasts more), as large as fits up to 200 px
 * per 600 px of the area's shorter side, wrapped to the area less a margin (40 px per
 * 600): never cut off. A design with `design_data.image` needs `image`, the encoded bytes
 * of that upload (see designScene for where it goes).
 *
 * Throws ValidationError (the codes of validateDesignSpec) for a design that is not valid,
 * AppError INVALID_RENDER_OPTION for bad options, and AppError TEXT_RENDER_FAILED or
 * FONT_FILE_MISSING when the text cannot be drawn; none of them is retryable.
 */
export async function renderDesign(spec: DesignSpec, options: RenderOptions = {}, image?: Buffer): Promise<Buffer> {
  const { size, compressionLevel, printAreas } = renderOptions(options);
  const design = validateDesignSpec(spec);
  return withPreparedScene(designScene(design, size, image, printAreas[design.product_type]), (scene) => encodeScene(scene, { compressionLevel }));
}

/**
 * The preview (as renderDesign) and its thumbnail (sceneThumbnail: makeThumbnail of the
 * preview, or of its text's coverage when the text is one colour) from one layout, without
 * decoding the preview again. The thumbnail's resampling runs on sharp's thread pool while
 * the preview is encoded. Throws what renderDesign throws.
 */
export async function renderDesignAssets(spec: DesignSpec, options: AssetRenderOptions = {}, image?: Buffer): Promise<DesignAssets> {
  const { size, compressionLevel, printAreas } = renderOptions(options);
  const thumbnailMaxSize = options.thumbnailMaxSize ?? THUMBNAIL_MAX_SIZE;
  const design = validateDesignSpec(spec);
  return withPreparedScene(designScene(design, size, image, printAreas[design.product_type]), async (scene) => {
    const thumbnail = sceneThumbnail(scene, { maxSize: thumbnailMaxSize, compressionLevel });
    const preview = encodeScene(scene, { compressionLevel });
    const [previewPng, thumbnailPng] = await allSettledOrThrow([preview, thumbnail]);
    return { preview: previewPng, thumbnail: thumbnailPng };
  });
}

function renderOptions(options: RenderOptions): { size: number; compressionLevel: number; printAreas: Readonly<Record<ProductType, PrintArea>> } {
  const size = options.size ?? PREVIEW_SIZE;
  const compressionLevel = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  assertIntegerOption('size', size, MIN_PREVIEW_SIZE, MAX_PREVIEW_SIZE);
  assertIntegerOption('compressionLevel', compressionLevel, 0, 9);
  return { size, compressionLevel, printAreas: options.printAreas ?? DEFAULT_PRINT_SPECS };
}
