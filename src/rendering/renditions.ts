import sharp, { type Sharp } from 'sharp';
import { AppError } from '../errors.js';
import { DEFAULT_PRINT_SPECS } from '../print/print-specs.js';
import { validateDesignSpec, type DesignSpec } from './design-spec.js';
import { IMAGE_CONTENT_TYPES, SEED_RENDITIONS, type ImageFormat, type Rendition } from './rendition-config.js';
import { designScene } from './scene.js';
import { encodeIndexedWebp, MAX_WEBP_SIDE } from './flat-webp.js';
import { encodeScene, indexedScene, isFlat, paintCanvas, prepareScene, releaseScene, type PreparedScene } from './scene-renderer.js';
import { allSettledOrThrow } from '../shared/settled.js';
import { assertIntegerOption, DEFAULT_COMPRESSION_LEVEL, sceneThumbnail, type RawImage } from './thumbnail.js';
import type { RenderOptions } from './render-design.js';
import { watermarks, withWatermark, type Watermark } from './watermark.js';

/**
 * Lossy encoders' settings, chosen by measurement (BENCHMARKS.md, "Web renditions: encoder
 * settings"). One place: design renditions and avatars (src/uploads/normalise.ts) use them.
 */
export const WEBP_OPTIONS = Object.freeze({ quality: 80, effort: 2 });
/** Text on a colour: lossless at effort 1 finds the palette, half the PNG's bytes, no blurred edges. */
export const WEBP_FLAT_OPTIONS = Object.freeze({ lossless: true, effort: 1 });
/** AVIF's effort 2 costs 4-7x effort 0 for a third fewer bytes: at 0 it costs about what our PNG does. */
export const AVIF_OPTIONS = Object.freeze({ quality: 50, effort: 0 });

export interface RenditionRenderOptions extends RenderOptions {
  /** The sizes to make; default the seed's (thumbnail 200, preview 600). `preview` is required. */
  renditions?: readonly Rendition[];
  /** The formats of each; default PNG only. */
  formats?: readonly ImageFormat[];
  /** The deployment's watermark (WATERMARK_*), drawn on renditions at least its minSize when `watermarked`. */
  watermark?: Watermark | null;
  /** This design's flag: carry the watermark (renditions big enough) or not. */
  watermarked?: boolean;
  /** Only these files (rendition name and format); default every rendition in every format. */
  subset?: ReadonlyArray<RenditionFileName>;
}

export interface RenditionFileName {
  readonly name: string;
  readonly format: ImageFormat;
}

/**
 * The files a render makes at once: the seed's two PNGs. Every other rendition is made on its
 * first request (RenditionMaker), as imgproxy and Active Storage make variants: a render costs
 * what the seed's did, and a size or format nobody asks for costs nothing.
 */
export const EAGER_FILES: ReadonlyArray<RenditionFileName> = Object.freeze([
  { name: 'thumbnail', format: 'png' },
  { name: 'preview', format: 'png' },
]);

/** Every file the settings ask for, in order: each rendition in each format, with its size. */
export function renditionPlan(renditions: readonly Rendition[], formats: readonly ImageFormat[]): Array<RenditionFileName & { size: number }> {
  return renditions.flatMap((rendition) => formats.map((format) => ({ name: rendition.name, format, size: rendition.size })));
}

/** One encoded image of a design: a rendition in one format. */
export interface RenderedImage {
  readonly name: string;
  readonly format: ImageFormat;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  readonly data: Buffer;
}

/**
 * Every rendition of the design in every format, from one layout per size class:
 *
 * - the preview's size is rendered (the seed's preview.png, through the flat PNG encoder
 *   when it applies); renditions smaller than it are resampled from it with Lanczos-3, as
 *   the seed's thumbnail is (PNG ones by sceneThumbnail, from the text's coverage when the
 *   text is one colour; the others from its painted pixels);
 * - renditions larger than the preview are rendered at their own size: the layout scales, so
 *   text is drawn sharp, never enlarged from 600 px.
 *
 * The watermark, when the design carries one, goes on the renditions of at least its minSize
 * only; smaller ones are resampled from a clean render, so a thumbnail stays clean.
 *
 * Returned in the order of `renditions`, formats in the order of `formats`. Throws what
 * renderDesign throws.
 */
export async function renderRenditions(spec: DesignSpec, options: RenditionRenderOptions = {}, image?: Buffer): Promise<RenderedImage[]> {
  const renditions = options.renditions ?? SEED_RENDITIONS;
  const formats = options.formats ?? ['png'];
  const compressionLevel = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  assertIntegerOption('compressionLevel', compressionLevel, 0, 9);
  const preview = renditions.find((r) => r.name === 'preview');
  if (!preview) throw new AppError('INVALID_RENDER_OPTION', 'The renditions must include preview: the others are made from its layout.', { field: 'renditions' });
  const design = validateDesignSpec(spec);
  const area = (options.printAreas ?? DEFAULT_PRINT_SPECS)[design.product_type];
  const watermark = options.watermarked ? options.watermark ?? null : null;

  // Each distinct scene is laid out once, and painted once if a non-PNG format needs its pixels.
  const scenes = new Map<string, Promise<PreparedScene>>();
  const canvases = new Map<string, RawImage>();
  const sceneFor = (size: number, marked: boolean): { id: string; scene: Promise<PreparedScene> } => {
    const id = `${size}:${marked}`;
    let scene = scenes.get(id);
    if (!scene) {
      const plain = designScene(design, size, image, area);
      scene = prepareScene(marked && watermark ? withWatermark(plain, watermark) : plain);
      scenes.set(id, scene);
    }
    return { id, scene };
  };
  const canvasOf = (id: string, scene: PreparedScene): RawImage => {
    let canvas = canvases.get(id);
    if (!canvas) canvases.set(id, (canvas = paintCanvas(scene)));
    return canvas;
  };

  const jobs: Array<Promise<RenderedImage>> = [];
  const wanted = (name: string, format: ImageFormat) => !options.subset || options.subset.some((file) => file.name === name && file.format === format);
  for (const rendition of renditions) {
    assertIntegerOption(`renditions.${rendition.name}`, rendition.size, 1, 4096);
    if (!formats.some((format) => wanted(rendition.name, format))) continue;
    const marked = watermarks(watermark, rendition.size);
    // Up to the preview's size: resampled from the preview's layout; above it, laid out at size.
    const source = sceneFor(Math.max(rendition.size, preview.size), marked);
    for (const format of formats) {
      if (!wanted(rendition.name, format)) continue;
      jobs.push(source.scene.then(async (scene) => {
        const data = await encodeRendition(scene, rendition.size, format, compressionLevel, () => canvasOf(source.id, scene));
        return { name: rendition.name, format, contentType: IMAGE_CONTENT_TYPES[format], width: rendition.size, height: rendition.size, data };
      }));
    }
  }
  try {
    // Every job settled before the scenes' scratch memory goes back (releaseScene).
    return await allSettledOrThrow(jobs);
  } finally {
    for (const scene of scenes.values()) scene.then(releaseScene, () => undefined);
  }
}

async function encodeRendition(scene: PreparedScene, size: number, format: ImageFormat, compressionLevel: number, canvas: () => RawImage): Promise<Buffer> {
  if (format === 'png') {
    return size === scene.width ? encodeScene(scene, { compressionLevel }) : sceneThumbnail(scene, { maxSize: size, compressionLevel });
  }
  // Text in one colour on a colour, at the scene's own size: our VP8L encoder writes the same
  // lossless pixels as sharp's effort 1 in a tenth of the time (BENCHMARKS.md, instant previews).
  const indexed = format === 'webp' && size === scene.width ? indexedScene(scene) : undefined;
  if (indexed && indexed.width <= MAX_WEBP_SIDE && indexed.height <= MAX_WEBP_SIDE) return encodeIndexedWebp(indexed);
  const { data, width, height, channels } = canvas();
  let pipeline = sharp(data, { raw: { width, height, channels } });
  if (size !== width) pipeline = pipeline.resize(size, size, { fit: 'inside', kernel: 'lanczos3' });
  return encodeWeb(pipeline, format, { flat: isFlat(scene) });
}

/**
 * WebP or AVIF with the measured settings: the one encoder call every web rendition goes
 * through, design renditions and avatars alike. `flat`: text on a colour, no photo.
 */
export function encodeWeb(pipeline: Sharp, format: Exclude<ImageFormat, 'png'>, options: { flat?: boolean } = {}): Promise<Buffer> {
  return webOutput(pipeline, format, options).toBuffer();
}

/** `pipeline` set to write WebP or AVIF with the measured settings (for callers that stream it to a file). */
export function webOutput(pipeline: Sharp, format: Exclude<ImageFormat, 'png'>, options: { flat?: boolean } = {}): Sharp {
  if (format === 'avif') return pipeline.avif(AVIF_OPTIONS);
  return pipeline.webp(options.flat ? WEBP_FLAT_OPTIONS : WEBP_OPTIONS);
}
