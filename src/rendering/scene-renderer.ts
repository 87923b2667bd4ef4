import sharp, { type Sharp } from 'sharp';
import { AppError } from '../errors.js';
import type { Rgb } from './colors.js';
import { encodeBandedPng, encodeFlatPng, encodeIndexedPng, type IndexedImage } from './flat-png.js';
import { resolveFont } from './fonts.js';
import type { ImageLayer, Rect, Scene, TextLayer } from './scene.js';
import { FIT_MODES } from './scene.js';
import { releaseScratch, takeScratch } from './scratch.js';
import { layoutDesignText } from '../print/preview-lines.js';
import { layoutText } from './text-layout.js';
import type { RawImage } from './thumbnail.js';

/**
 * Turns a Scene into pixels. Every scene takes one path: its layers are turned into RGBA
 * pixels (text laid out by Pango, images decoded and fitted by sharp), composited here in
 * order over the background, and encoded by sharp in the format asked for. Compositing is
 * ours rather than libvips' because libvips' `over` truncates (it is one below the rounded
 * value for about half of all partial alphas), and the fast path below must give the very
 * same pixels.
 *
 * The fast path: a flat scene (an opaque background with only text on it) is a background
 * plus one band of rows, which flat-png.ts encodes as a PNG about twice as fast as sharp and
 * smaller. It paints only that band, with the same compositing, so its pixels are the
 * general path's (test/unit/rendering-scene.test.ts checks that on a corpus of designs).
 * The banded path (encodeBandedScene) encodes any scene as a PNG at its own size with the
 * same band encoder, the band painted a strip at a time, so that a 3600 x 4800 print never
 * holds its 69 MB canvas: print.png always takes it, and encodeScene does for text on a
 * transparent canvas (test/unit/rendering-banded-png.test.ts checks its pixels against the
 * general path's for every product's print).
 */

/** A layer as pixels: straight (not premultiplied) RGBA over `rect`, which lies within the canvas. */
export interface PaintedLayer {
  readonly kind: 'text' | 'image';
  readonly rect: Rect;
  /** rect.width × rect.height × 4 bytes, opacity already applied to alpha. */
  readonly data: Buffer;
  /** Pure black pixels take this colour: Pango draws plain glyphs black, coverage in alpha. */
  readonly ink?: Rgb;
}

/** A scene with its layers turned into pixels: paint it as often as needed without laying it out again. */
export interface PreparedScene {
  readonly width: number;
  readonly height: number;
  readonly background: Rgb | 'transparent';
  readonly layers: readonly PaintedLayer[];
}

export const SCENE_FORMATS = ['png', 'webp', 'avif', 'jpeg'] as const;
export type SceneFormat = (typeof SCENE_FORMATS)[number];

export interface SceneOutput {
  /** Default png. */
  format?: SceneFormat;
  /**
   * Resample the rendered canvas (Lanczos-3) to fit inside width × height, keeping its
   * aspect ratio; one of them alone sets that side. Default: the scene's own size. For a
   * sharper large rendition, build the scene at that size instead.
   */
  width?: number;
  height?: number;
  /** PNG zlib level, 0 to 9. Default 6. */
  compressionLevel?: number;
  /**
   * PNG: may one-colour text be written as a palette image (same pixels, a third of the
   * bytes)? Default true. Print files say false: print workflows expect truecolour (RGB/RGBA).
   */
  palette?: boolean;
  /** WebP, AVIF and JPEG quality, 1 to 100. Default: sharp's (80, 50, 80). */
  quality?: number;
}

/**
 * Largest canvas side: a print file is 3600 × 4800, and print specs may ask for up to 20000 px
 * a side (MAX_PRINT_SIDE_PX in src/print/print-specs.ts); sharp refuses more than 268 M pixels anyway.
 */
export const MAX_SCENE_SIDE = 20_000;

/**
 * Lays out the text and decodes, fits and crops the images of `scene`.
 * Throws AppError INVALID_SCENE for a scene that breaks the model's rules (a size or
 * rectangle that is not a whole number, an opacity outside 0–1, an unknown fit), AppError
 * INVALID_IMAGE when an image layer cannot be decoded, and what resolveFont and layoutText
 * throw (UNKNOWN_FONT, TEXT_RENDER_FAILED, FONT_FILE_MISSING). None is retryable.
 */
export async function prepareScene(scene: Scene): Promise<PreparedScene> {
  const { width, height, background } = scene;
  checkInteger('width', width, 1, MAX_SCENE_SIDE);
  checkInteger('height', height, 1, MAX_SCENE_SIDE);
  const canvas: Rect = { left: 0, top: 0, width, height };
  const layers = await Promise.all(
    scene.layers.map((layer, index) => {
      const opacity = layer.opacity ?? 1;
      if (!(opacity >= 0 && opacity <= 1)) invalid(`layers[${index}].opacity`, `must be from 0 to 1, got ${opacity}`);
      return layer.kind === 'text' ? prepareText(layer, index, canvas, opacity) : prepareImage(layer, index, canvas, opacity);
    }),
  );
  return { width, height, background, layers: layers.filter((layer): layer is PaintedLayer => layer !== null) };
}

/** An opaque background with nothing but text on it: the flat PNG encoder can write it. */
export function isFlat(scene: PreparedScene): boolean {
  return scene.background !== 'transparent' && scene.layers.every((layer) => layer.kind === 'text');
}

/** The scene encoded as `output` asks, through the flat fast path when it applies. Throws what prepareScene throws. */
export async function renderScene(scene: Scene, output: SceneOutput = {}): Promise<Buffer> {
  return withPreparedScene(scene, (prepared) => encodeScene(prepared, output));
}

/** As renderScene, for a prepared scene. */
export async function encodeScene(scene: PreparedScene, output: SceneOutput = {}): Promise<Buffer> {
  const { format = 'png', compressionLevel = 6, palette = true } = output;
  checkInteger('compressionLevel', compressionLevel, 0, 9);
  const sameSize = (output.width ?? scene.width) === scene.width && (output.height ?? scene.height) === scene.height;
  if (format === 'png' && sameSize && isFlat(scene)) return encodeFlatScene(scene, compressionLevel, { palette });
  // Text alone on a transparent canvas: the band encoder, which is faster than sharp there.
  // With an image sharp stays faster (its zlib-ng deflates photo rows about a fifth faster),
  // and only a print's size makes the band encoder's memory worth that: print.png calls it.
  if (format === 'png' && sameSize && scene.layers.every((layer) => layer.kind === 'text')) return encodeBandedScene(scene, compressionLevel);
  return encodeThroughSharp(scene, output);
}

/**
 * The general path: the whole canvas painted, then resampled and encoded by sharp.
 * RGB when the background is opaque, RGBA when it is transparent (JPEG, which has no
 * alpha, then shows white where nothing was painted).
 */
export async function encodeThroughSharp(scene: PreparedScene, output: SceneOutput = {}): Promise<Buffer> {
  const { format = 'png', compressionLevel = 6, quality } = output;
  checkInteger('compressionLevel', compressionLevel, 0, 9);
  if (quality !== undefined) checkInteger('quality', quality, 1, 100);
  let image = resampled(scene, output);
  switch (format) {
    case 'png':
      return image.png({ compressionLevel }).toBuffer();
    case 'webp':
      return image.webp({ quality }).toBuffer();
    case 'avif':
      return image.avif({ quality }).toBuffer();
    case 'jpeg':
      if (scene.background === 'transparent') image = image.flatten({ background: '#ffffff' });
      return image.jpeg({ quality }).toBuffer();
    default:
      return invalid('format', `must be one of ${SCENE_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  }
}

/** The scene's raw pixels (RGB, or RGBA on a transparent background), at the size `output` asks for. */
export async function scenePixels(scene: PreparedScene, output: Pick<SceneOutput, 'width' | 'height'> = {}): Promise<RawImage> {
  if ((output.width ?? scene.width) === scene.width && (output.height ?? scene.height) === scene.height) return paintCanvas(scene);
  const { data, info } = await resampled(scene, output).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * The flat fast path: only the rows that hold layers are painted; the rest is background.
 * One text layer in one colour (no colour glyphs) has at most 256 colours, the blends of
 * its ink over the background at each coverage: it is written as a palette PNG whose
 * indices are the coverage itself, so nothing is painted at all; its deflate, most of a flat
 * render's CPU outside sharp, runs on libuv's thread pool (encodeIndexedPng).
 */
export async function encodeFlatScene(scene: PreparedScene, compressionLevel: number, options: { palette?: boolean } = {}): Promise<Buffer> {
  const { width, height, background, layers } = scene;
  if (background === 'transparent' || !isFlat(scene)) throw new AppError('INVALID_SCENE', 'Only a flat scene (an opaque background with text only) has a flat PNG.');
  const rows = rowSpan(layers);
  if (!rows) return encodeFlatPng({ width, height, background }, compressionLevel);
  const indexed = options.palette !== false ? indexedScene(scene) : undefined;
  if (indexed) return encodeIndexedPng(indexed, compressionLevel);
  return encodeBandedScene(scene, compressionLevel);
}

/**
 * The scene as a palette image when it is one (encodeFlatScene's palette PNG, flat-webp.ts's
 * WebP): an opaque background with nothing on it, or with one text layer in one colour.
 * Undefined for any other scene.
 */
export function indexedScene(scene: PreparedScene): IndexedImage | undefined {
  const coverage = sceneCoverage(scene);
  if (!coverage) return undefined;
  const { width, height, background, ink, band } = coverage;
  if (!band) return { width, height, palette: inkPalette(background, ink, 0) };
  return { width, height, palette: inkPalette(background, ink, band.most), band: { top: band.top, rows: band.rows } };
}

/**
 * An opaque background under one ink: each pixel is the ink over the background at its
 * coverage (0 to 255), index 0 the background itself. `band` holds the rows the ink covers,
 * one coverage byte per pixel across the whole width, and the largest coverage in them;
 * absent when nothing is drawn.
 */
export interface CoverageImage {
  readonly width: number;
  readonly height: number;
  readonly background: Rgb;
  readonly ink: Rgb;
  readonly band?: CoverageBand;
}

/** Rows `top` onwards of a CoverageImage, `width` coverage bytes each; `most` the largest. */
export interface CoverageBand {
  readonly top: number;
  readonly rows: Buffer;
  readonly most: number;
}

const coverages = new WeakMap<PreparedScene, CoverageImage | null>();

/**
 * The scene as a CoverageImage when it is one: an opaque background with nothing on it
 * (its ink is then the background), or with one text layer in one colour and no colour
 * glyphs. Undefined for any other scene. Worked out once per scene: the preview, the
 * thumbnail and the WebP renditions all read it.
 */
export function sceneCoverage(scene: PreparedScene): CoverageImage | undefined {
  let coverage = coverages.get(scene);
  if (coverage === undefined) coverages.set(scene, (coverage = computeCoverage(scene) ?? null));
  return coverage ?? undefined;
}

/**
 * Gives back the scratch memory `scene` borrowed (its coverage's rows: scratch.ts) once
 * nothing reads the scene, its coverage or an image made from it (indexedScene) any more:
 * call it after every encode of the scene has settled. Optional: a scene never released
 * leaves its rows to the garbage collector. A scene used after it works its coverage out again.
 */
export function releaseScene(scene: PreparedScene): void {
  const coverage = coverages.get(scene);
  coverages.delete(scene);
  if (coverage?.band) releaseScratch(coverage.band.rows);
}

/**
 * `scene` prepared (prepareScene) and handed to `use`; released (releaseScene) once `use`
 * settles, so `use` must settle only after all of its encodes have (allSettledOrThrow).
 */
export async function withPreparedScene<T>(scene: Scene, use: (prepared: PreparedScene) => Promise<T>): Promise<T> {
  const prepared = await prepareScene(scene);
  try {
    return await use(prepared);
  } finally {
    releaseScene(prepared);
  }
}

function computeCoverage(scene: PreparedScene): CoverageImage | undefined {
  const { width, height, background, layers } = scene;
  if (background === 'transparent' || !isFlat(scene)) return undefined;
  if (layers.length === 0) return { width, height, background, ink: background };
  const [layer] = layers;
  if (layers.length !== 1 || !layer?.ink) return undefined;
  const band = coverageBand(layer, width);
  return band && { width, height, background, ink: layer.ink, band };
}

/** The colours of coverages 0 to `most`: the ink over the background at each, as paintWindow blends them. */
export function inkPalette(background: Rgb, ink: Rgb, most: number): Buffer {
  const { r, g, b } = inkTables(background, ink);
  const palette = Buffer.allocUnsafe((most + 1) * 3);
  for (let alpha = 0; alpha <= most; alpha++) {
    palette[alpha * 3] = r[alpha] as number;
    palette[alpha * 3 + 1] = g[alpha] as number;
    palette[alpha * 3 + 2] = b[alpha] as number;
  }
  return palette;
}

/**
 * Any scene as a PNG at its own size (RGB, or RGBA on a transparent background), through
 * flat-png.ts's band encoder: the rows outside its layers are background, written for
 * nearly nothing; the rows they span are painted (paintWindow, so the general path's very
 * pixels) a strip at a time into one reused buffer. Rows with an image are deflated at the
 * level asked for, as sharp would; text-only rows with the flat path's faster settings.
 * `options.dpi` is recorded in a pHYs chunk.
 */
export function encodeBandedScene(scene: PreparedScene, compressionLevel: number, options: { dpi?: number } = {}): Buffer {
  const { width, height, background, layers } = scene;
  checkInteger('compressionLevel', compressionLevel, 0, 9);
  const rows = rowSpan(layers);
  const band = rows
    ? {
        top: rows.top,
        height: rows.bottom - rows.top,
        paint: (top: number, count: number, into: Buffer) => {
          paintWindow(scene, { left: 0, top, width, height: count }, into);
        },
      }
    : undefined;
  const bandContent = layers.some((layer) => layer.kind === 'image') ? 'asked' : 'text';
  return encodeBandedPng({ width, height, background, band, bandContent, ...(options.dpi === undefined ? {} : { dpi: options.dpi }) }, compressionLevel);
}

/** The whole canvas painted, as raw pixels. */
export function paintCanvas(scene: PreparedScene): RawImage {
  const channels = scene.background === 'transparent' ? 4 : 3;
  const data = paintWindow(scene, { left: 0, top: 0, width: scene.width, height: scene.height });
  return { data, width: scene.width, height: scene.height, channels };
}

/**
 * The scene's pixels inside `window` (which must lie within the canvas): raw RGB when the
 * background is opaque, RGBA when it is transparent. Each layer is blended over what is
 * under it with its alpha (`over`, straight alpha, rounded to nearest). Painted into `into`
 * when given (exactly the window's bytes; its contents are overwritten), else a new buffer.
 */
export function paintWindow(scene: PreparedScene, window: Rect, into?: Buffer): Buffer {
  const { background } = scene;
  const channels = background === 'transparent' ? 4 : 3;
  const bytes = window.width * window.height * channels;
  if (into && into.length !== bytes) throw new AppError('INVALID_SCENE', `A ${window.width}x${window.height} window takes ${bytes} bytes, not the ${into.length} given.`);
  const pixels = into ?? Buffer.allocUnsafe(bytes);
  if (background === 'transparent') pixels.fill(0);
  else pixels.fill(Buffer.from([background.r, background.g, background.b]));
  for (const [index, layer] of scene.layers.entries()) {
    // The first layer lies on the plain background: its plain glyph pixels differ only in
    // alpha, so their colours are looked up instead of blended one by one.
    if (index === 0 && layer.ink && background !== 'transparent') paintFirstInkLayer(pixels, window, layer, inkTables(background, layer.ink));
    else if (index === 0 && background === 'transparent' && pixels.byteOffset % 4 === 0) paintFirstLayerOnTransparent(pixels, window, layer);
    else paintLayer(pixels, channels, window, layer);
  }
  return pixels;
}

/**
 * paintLayer for a text layer lying on the plain opaque background (RGB pixels): a plain
 * glyph pixel's colour is its coverage's entry in `tables`; a colour glyph's is blended.
 * The same pixels as paintLayer, in a loop with nothing else in it: it runs over every
 * pixel of the text's box.
 */
function paintFirstInkLayer(pixels: Buffer, window: Rect, layer: PaintedLayer, tables: InkTables): void {
  const { rect } = layer;
  const { r: red, g: green, b: blue } = tables;
  const src = pixelWords(layer.data);
  const { x0, x1, y0, y1 } = overlap(rect, window);
  for (let y = y0; y < y1; y++) {
    let i = (y - rect.top) * rect.width + (x0 - rect.left);
    let o = ((y - window.top) * window.width + (x0 - window.left)) * 3;
    for (let x = x0; x < x1; x++, i++, o += 3) {
      const pixel = src[i] as number;
      if (pixel === 0) continue;
      const alpha = (pixel >>> ALPHA_SHIFT) & 0xff;
      if (alpha === 0) continue;
      if ((pixel & COLOR_BITS) === 0) {
        pixels[o] = red[alpha] as number;
        pixels[o + 1] = green[alpha] as number;
        pixels[o + 2] = blue[alpha] as number;
      } else {
        const bytes = layer.data;
        pixels[o] = blend(pixels[o] as number, bytes[i * 4] as number, alpha);
        pixels[o + 1] = blend(pixels[o + 1] as number, bytes[i * 4 + 1] as number, alpha);
        pixels[o + 2] = blend(pixels[o + 2] as number, bytes[i * 4 + 2] as number, alpha);
      }
    }
  }
}

/**
 * paintLayer for the first layer on a transparent canvas (RGBA pixels, all zero, `pixels`
 * starting on a multiple of 4 bytes): `over` onto nothing is the layer's own pixel (its
 * colour, and its alpha, exactly: the blend's weights for what is under are all zero), or
 * for a plain glyph pixel the ink with the glyph's alpha; a pixel with no alpha leaves the
 * canvas (0, 0, 0, 0). One 32-bit store per pixel: this loop runs over every pixel of an
 * apparel print's text, millions of them.
 */
function paintFirstLayerOnTransparent(pixels: Buffer, window: Rect, layer: PaintedLayer): void {
  const { rect, ink } = layer;
  const src = pixelWords(layer.data);
  const out = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.length >>> 2);
  const inkWord = ink ? (new Uint32Array(new Uint8Array([ink.r, ink.g, ink.b, 0]).buffer)[0] as number) : 0;
  const { x0, x1, y0, y1 } = overlap(rect, window);
  for (let y = y0; y < y1; y++) {
    let i = (y - rect.top) * rect.width + (x0 - rect.left);
    let o = (y - window.top) * window.width + (x0 - window.left);
    for (let x = x0; x < x1; x++, i++, o++) {
      const pixel = src[i] as number;
      if (((pixel >>> ALPHA_SHIFT) & 0xff) === 0) continue;
      out[o] = ink && (pixel & COLOR_BITS) === 0 ? pixel | inkWord : pixel;
    }
  }
}

/** Where `rect` and `window` overlap, as the first and past-the-last column and row (empty when x1 <= x0 or y1 <= y0). */
function overlap(rect: Rect, window: Rect): { x0: number; x1: number; y0: number; y1: number } {
  return {
    x0: Math.max(rect.left, window.left),
    x1: Math.min(rect.left + rect.width, window.left + window.width),
    y0: Math.max(rect.top, window.top),
    y1: Math.min(rect.top + rect.height, window.top + window.height),
  };
}

/**
 * RGBA pixels as one 32-bit number each (a copy when `data` does not start on a multiple
 * of 4 bytes): the loops over a text's box read each pixel once instead of four times.
 * Read alpha with ALPHA_SHIFT and the colour with COLOR_BITS, which follow the byte order.
 */
function pixelWords(data: Buffer): Uint32Array {
  const aligned = data.byteOffset % 4 === 0 ? data : new Uint8Array(data);
  return new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length >>> 2);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const ALPHA_SHIFT = LITTLE_ENDIAN ? 24 : 0;
const COLOR_BITS = LITTLE_ENDIAN ? 0x00ffffff : 0xffffff00 | 0;

function paintLayer(pixels: Buffer, channels: 3 | 4, window: Rect, layer: PaintedLayer): void {
  const { rect, data: src, ink } = layer;
  const { x0, x1, y0, y1 } = overlap(rect, window);
  for (let y = y0; y < y1; y++) {
    let i = ((y - rect.top) * rect.width + (x0 - rect.left)) * 4;
    let o = ((y - window.top) * window.width + (x0 - window.left)) * channels;
    for (let x = x0; x < x1; x++, i += 4, o += channels) {
      const alpha = src[i + 3] as number;
      if (alpha === 0) continue;
      let r = src[i] as number;
      let g = src[i + 1] as number;
      let b = src[i + 2] as number;
      if (ink && (r | g | b) === 0) ({ r, g, b } = ink);
      const under = channels === 4 ? (pixels[o + 3] as number) : 255;
      if (under === 255) {
        pixels[o] = blend(pixels[o] as number, r, alpha);
        pixels[o + 1] = blend(pixels[o + 1] as number, g, alpha);
        pixels[o + 2] = blend(pixels[o + 2] as number, b, alpha);
      } else {
        // Porter-Duff `over` onto a pixel that is itself (partly) transparent, in 255ths of 255ths.
        const weightOver = alpha * 255;
        const weightUnder = under * (255 - alpha);
        const total = weightOver + weightUnder;
        pixels[o] = Math.round((r * weightOver + (pixels[o] as number) * weightUnder) / total);
        pixels[o + 1] = Math.round((g * weightOver + (pixels[o + 1] as number) * weightUnder) / total);
        pixels[o + 2] = Math.round((b * weightOver + (pixels[o + 2] as number) * weightUnder) / total);
        pixels[o + 3] = Math.round(total / 255);
      }
    }
  }
}

/**
 * A one-colour layer's coverage (alpha) as one byte per pixel, over the layer's rows and the
 * canvas's full width, and the largest coverage in it. Undefined when the layer has colour
 * glyphs: those pixels are not blends of the ink.
 */
function coverageBand(layer: PaintedLayer, width: number): CoverageBand | undefined {
  const { rect } = layer;
  const pixels = pixelWords(layer.data);
  // Scratch memory, given back by releaseScene once the scene's encodes (the preview, the thumbnail, the renditions) have all settled.
  const rows = takeScratch(width * rect.height);
  let most = 0;
  for (let y = 0, i = 0; y < rect.height; y++) {
    for (let o = y * width + rect.left, end = o + rect.width; o < end; o++, i++) {
      const pixel = pixels[i] as number;
      if (pixel === 0) continue;
      const alpha = (pixel >>> ALPHA_SHIFT) & 0xff;
      if (alpha === 0) continue;
      // A coloured pixel (an emoji's): this layer is not one ink's blends.
      if ((pixel & COLOR_BITS) !== 0) {
        releaseScratch(rows);
        return undefined;
      }
      rows[o] = alpha;
      if (alpha > most) most = alpha;
    }
  }
  return { top: rect.top, rows, most };
}

interface InkTables {
  r: Uint8Array;
  g: Uint8Array;
  b: Uint8Array;
}

function inkTables(under: Rgb, ink: Rgb): InkTables {
  return { r: blendTable(under.r, ink.r), g: blendTable(under.g, ink.g), b: blendTable(under.b, ink.b) };
}

function blendTable(under: number, over: number): Uint8Array {
  const table = new Uint8Array(256);
  for (let alpha = 0; alpha < 256; alpha++) table[alpha] = blend(under, over, alpha);
  return table;
}

/** `under` covered by `over` at `alpha`/255, rounded to nearest. */
function blend(under: number, over: number, alpha: number): number {
  return under + Math.round(((over - under) * alpha) / 255);
}

async function prepareText(layer: TextLayer, index: number, canvas: Rect, opacity: number): Promise<PaintedLayer | null> {
  const { box } = layer;
  checkRect(`layers[${index}].box`, box);
  const textBox = { fontSize: layer.fontSize, minFontSize: layer.minFontSize, maxWidth: box.width, maxHeight: box.height };
  const font = resolveFont(layer.font);
  const mask = layer.followsPrint ? await layoutDesignText(layer.text, font, textBox) : await layoutText(layer.text, font, textBox);
  if (!mask) return null;
  // Centred on the ink, not on line boxes, so the visible text sits in the middle.
  const rect = {
    left: box.left + Math.floor((box.width - mask.width) / 2),
    top: box.top + Math.floor((box.height - mask.height) / 2),
    width: mask.width,
    height: mask.height,
  };
  const visible = intersect(rect, canvas);
  if (!visible) return null;
  return { kind: 'text', rect: visible, data: withOpacity(crop(mask.data, rect, visible), opacity), ink: layer.color };
}

async function prepareImage(layer: ImageLayer, index: number, canvas: Rect, opacity: number): Promise<PaintedLayer | null> {
  const { rect, fit } = layer;
  checkRect(`layers[${index}].rect`, rect);
  if (!(FIT_MODES as readonly string[]).includes(fit)) invalid(`layers[${index}].fit`, `must be one of ${FIT_MODES.join(', ')}, got ${JSON.stringify(fit)}`);
  const visible = intersect(rect, canvas);
  if (!visible) return null;
  let pipeline = sharp(layer.input)
    // Photos say which way is up in their EXIF orientation.
    .rotate()
    .resize(rect.width, rect.height, { fit, position: 'centre', kernel: 'lanczos3', background: { r: 0, g: 0, b: 0, alpha: 0 } });
  if (visible.width !== rect.width || visible.height !== rect.height) {
    pipeline = pipeline.extract({ left: visible.left - rect.left, top: visible.top - rect.top, width: visible.width, height: visible.height });
  }
  let data: Buffer;
  try {
    const result = await pipeline.toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (result.info.channels !== 4 || result.info.width !== visible.width || result.info.height !== visible.height) {
      throw new Error(`decoded to ${result.info.width}x${result.info.height} with ${result.info.channels} channels`);
    }
    data = result.data;
  } catch (error) {
    throw new AppError('INVALID_IMAGE', `The image of layer ${index} could not be decoded: ${error instanceof Error ? error.message : String(error)}. Use a PNG, JPEG, WebP, AVIF, GIF or TIFF file.`, {
      field: `layers[${index}].input`,
      cause: error,
    });
  }
  // The decoded pixels are this layer's own: scaled in place (a photo behind a print's text is 69 MB).
  return { kind: 'image', rect: visible, data: withOpacity(data, opacity, { inPlace: true }) };
}

function resampled(scene: PreparedScene, output: Pick<SceneOutput, 'width' | 'height'>): Sharp {
  const { data, width, height, channels } = paintCanvas(scene);
  const image = sharp(data, { raw: { width, height, channels } });
  if ((output.width ?? width) === width && (output.height ?? height) === height) return image;
  if (output.width !== undefined) checkInteger('output width', output.width, 1, MAX_SCENE_SIDE);
  if (output.height !== undefined) checkInteger('output height', output.height, 1, MAX_SCENE_SIDE);
  return image.resize(output.width, output.height, { fit: 'inside', kernel: 'lanczos3' });
}

/** The rows from the first layer's top to the last layer's bottom, or null without layers. */
function rowSpan(layers: readonly PaintedLayer[]): { top: number; bottom: number } | null {
  if (layers.length === 0) return null;
  return {
    top: Math.min(...layers.map((layer) => layer.rect.top)),
    bottom: Math.max(...layers.map((layer) => layer.rect.top + layer.rect.height)),
  };
}

function intersect(a: Rect, b: Rect): Rect | null {
  const left = Math.max(a.left, b.left);
  const top = Math.max(a.top, b.top);
  const right = Math.min(a.left + a.width, b.left + b.width);
  const bottom = Math.min(a.top + a.height, b.top + b.height);
  return right > left && bottom > top ? { left, top, width: right - left, height: bottom - top } : null;
}

/** The `part` of RGBA pixels covering `whole`. */
function crop(data: Buffer, whole: Rect, part: Rect): Buffer {
  if (part.width === whole.width && part.height === whole.height) return data;
  const out = Buffer.allocUnsafe(part.width * part.height * 4);
  for (let y = 0; y < part.height; y++) {
    const start = ((part.top - whole.top + y) * whole.width + (part.left - whole.left)) * 4;
    data.copy(out, y * part.width * 4, start, start + part.width * 4);
  }
  return out;
}

/** `data` with its alpha scaled by `opacity`: a copy, or `data` itself changed when `inPlace`. */
function withOpacity(data: Buffer, opacity: number, options: { inPlace?: boolean } = {}): Buffer {
  if (opacity === 1) return data;
  const out = options.inPlace ? data : Buffer.from(data);
  for (let i = 3; i < out.length; i += 4) out[i] = Math.round((out[i] as number) * opacity);
  return out;
}

function checkRect(field: string, rect: Rect): void {
  for (const side of ['left', 'top'] as const) checkInteger(`${field}.${side}`, rect[side], -MAX_SCENE_SIDE, MAX_SCENE_SIDE);
  for (const side of ['width', 'height'] as const) checkInteger(`${field}.${side}`, rect[side], 1, MAX_SCENE_SIDE);
}

function checkInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) invalid(field, `must be a whole number from ${min} to ${max}, got ${value}`);
}

/** Scenes are built by code, so a broken one is a bug to report, not a user's input to echo. */
function invalid(field: string, problem: string): never {
  throw new AppError('INVALID_SCENE', `The scene's ${field} ${problem}.`, { field });
}
