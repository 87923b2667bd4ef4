import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { renderCommand } from '../../src/cli/render.js';
import { configFrom } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import { DEFAULT_PRINT_SPECS, designPrintScene, printGeometry } from '../../src/print/index.js';
import { designScene, renderDesign, renderDesignAssets, RenderPool, validateDesignSpec, type ImageLayer, type TextLayer } from '../../src/rendering/index.js';
import { designFrame, previewTrim } from '../../src/rendering/scene.js';
import { decode, hex, inkBox } from '../fixtures/rendering/images.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

const ID = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';
const design = (productType: string, data: Record<string, unknown> = {}) =>
  validateDesignSpec({ product_type: productType, design_data: { text: 'Hello', font: 'Roboto-Bold', color: '#1E90FF', ...data } });
const textLayer = (layers: readonly unknown[]) => layers.find((layer) => (layer as { kind: string }).kind === 'text') as TextLayer;
const imageLayer = (layers: readonly unknown[]) => layers.find((layer) => (layer as { kind: string }).kind === 'image') as ImageLayer;
/** An image behind the text at size 1 covers the whole design area: its rectangle is the preview's trim. */
const behindAll = { image: { upload_id: ID, placement: { position: 'behind', size: 1, fit: 'cover' } } };

describe('the preview is laid out in the product\'s print area', () => {
  it('t-shirt (12 x 16 in, 3:4): a 450 x 600 trim centred in the 600 px square, margin and sizes scaled by its 450 px side', () => {
    const scene = designScene(design('t-shirt', behindAll), 600, Buffer.alloc(1));
    expect({ width: scene.width, height: scene.height }).toEqual({ width: 600, height: 600 });
    expect(imageLayer(scene.layers).rect).toEqual({ left: 75, top: 0, width: 450, height: 600 });
    // margin 40 x 450 / 600 = 30; largest text 200 x 0.75 = 150 px, smallest 8 x 0.75 = 6 px.
    const text = textLayer(designScene(design('t-shirt'), 600).layers);
    expect(text.box).toEqual({ left: 105, top: 30, width: 390, height: 540 });
    expect({ fontSize: text.fontSize, minFontSize: text.minFontSize }).toEqual({ fontSize: 150, minFontSize: 6 });
  });

  it('mug (9 x 3.5 in): a 600 x 234 trim (edges 183.33 and 416.67, rounded) centred, margin 15.6 px', () => {
    const scene = designScene(design('mug', behindAll), 600, Buffer.alloc(1));
    expect(imageLayer(scene.layers).rect).toEqual({ left: 0, top: 183, width: 600, height: 234 });
    const text = textLayer(designScene(design('mug'), 600).layers);
    // 600 x 3.5 / 9 = 233.33 high; margin 40 x 233.33 / 600 = 15.56: inner edges 15.56, 584.44, 198.89, 401.11.
    expect(text.box).toEqual({ left: 16, top: 199, width: 568, height: 202 });
    expect(text.fontSize).toBeCloseTo((200 * 3.5) / 9, 9);
  });

  it('poster (18 x 24 in) has the t-shirt\'s shape; the image band and the text follow it', () => {
    const scene = designScene(design('poster', { image: { upload_id: ID, placement: { position: 'above' } } }), 600, Buffer.alloc(1));
    // Inner 390 x 540 at (105, 30); band 0.5 x 540 = 270; gap 20 x 0.75 = 15.
    expect(imageLayer(scene.layers).rect).toEqual({ left: 105, top: 30, width: 390, height: 270 });
    expect(textLayer(scene.layers).box).toEqual({ left: 105, top: 315, width: 390, height: 255 });
  });

  it.each(['hoodie', 'tote-bag', 'sticker'] as const)('%s (square): the whole canvas, as before (margin 40, inner 520, 200 px text)', (type) => {
    const text = textLayer(designScene(design(type), 600).layers);
    expect(text.box).toEqual({ left: 40, top: 40, width: 520, height: 520 });
    expect({ fontSize: text.fontSize, minFontSize: text.minFontSize }).toEqual({ fontSize: 200, minFontSize: 8 });
    expect(imageLayer(designScene(design(type, behindAll), 600, Buffer.alloc(1)).layers).rect).toEqual({ left: 0, top: 0, width: 600, height: 600 });
  });

  it('square products\' previews are pixel for pixel those main rendered before the print-area change (stored hashes)', async () => {
    // Generated with main's renderDesign (commit c45d498) for these designs; see the fixture.
    const cases = JSON.parse(readFileSync(new URL('../fixtures/rendering/square-previews.json', import.meta.url), 'utf8')) as Array<{ product_type: string; design_data: Record<string, unknown>; width: number; height: number; rgbSha256: string }>;
    expect(cases.length).toBe(12);
    const photo = await sharp({ create: { width: 80, height: 60, channels: 3, background: { r: 224, g: 48, b: 30 } } })
      .composite([{ input: { create: { width: 40, height: 60, channels: 3, background: { r: 32, g: 160, b: 64 } } }, left: 40, top: 0 }])
      .png()
      .toBuffer();
    for (const { product_type: productType, design_data: data, width, height, rgbSha256 } of cases) {
      const png = await renderDesign(validateDesignSpec({ product_type: productType, design_data: data }), {}, data.image ? photo : undefined);
      const { data: rgb, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect({ width: info.width, height: info.height }).toEqual({ width, height });
      expect(createHash('sha256').update(rgb).digest('hex'), `${productType} ${JSON.stringify(data.text)}`).toBe(rgbSha256);
    }
  });

  it('the whole square keeps the design\'s colour; the text stays inside the t-shirt\'s trim less its margin', async () => {
    const image = await decode(await renderDesign(design('t-shirt', { text: 'A much longer design text that wraps', color: '#FF0000', text_color: '#FFFFFF' })));
    for (const [x, y] of [[0, 0], [599, 599], [10, 300], [590, 300]] as const) expect(image.data.subarray((y * 600 + x) * 3, (y * 600 + x) * 3 + 3)).toEqual(Buffer.from([255, 0, 0]));
    const box = inkBox(image, hex('#FF0000'))!;
    expect(box.left).toBeGreaterThanOrEqual(105);
    expect(box.right).toBeLessThanOrEqual(495);
    // As large as fits: the block reaches the inner box on one axis, within a few percent.
    expect(Math.max((box.right - box.left) / 390, (box.bottom - box.top) / 540)).toBeGreaterThan(0.85);
  });

  it('the same geometry as the print: designFrame of the preview\'s trim is the print\'s frame scaled, within a pixel', () => {
    for (const type of ['t-shirt', 'mug', 'poster', 'sticker'] as const) {
      const spec = DEFAULT_PRINT_SPECS[type];
      const { bleedPx, trimWidthPx } = printGeometry(spec);
      const trim = previewTrim(600, spec);
      const preview = designFrame(trim).inner;
      const print = designPrintScene(design(type), spec).textBox!;
      const k = trimWidthPx / trim.width;
      expect(Math.abs((print.left - bleedPx) / k - (preview.left - trim.left)), type).toBeLessThanOrEqual(1);
      expect(Math.abs((print.top - bleedPx) / k - (preview.top - trim.top)), type).toBeLessThanOrEqual(1);
      expect(Math.abs(print.width / k - preview.width), type).toBeLessThanOrEqual(1);
      expect(Math.abs(print.height / k - preview.height), type).toBeLessThanOrEqual(1);
    }
  });
});

describe('options.printAreas: the deployment\'s print specs (PRINT_SPECS_FILE) reach the preview', () => {
  const pools: RenderPool[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
  });
  /** A deployment that prints posters landscape, 24 x 12 in. */
  const printAreas = { ...DEFAULT_PRINT_SPECS, poster: { ...DEFAULT_PRINT_SPECS.poster, width: 24, height: 12 } };

  it('a poster printed 24 x 12 previews in a 600 x 300 trim: the text stays between y 150 and 450', async () => {
    const spec = design('poster', { text: 'Landscape poster text', color: '#FF0000', text_color: '#FFFFFF' });
    const box = inkBox(await decode(await renderDesign(spec, { printAreas })), hex('#FF0000'))!;
    // Trim 150..450; margin 40 x 300 / 600 = 20.
    expect(box.top).toBeGreaterThanOrEqual(170);
    expect(box.bottom).toBeLessThanOrEqual(430);
    // Wider than the built-in portrait trim's inner box (390 px) could hold.
    expect(box.right - box.left).toBeGreaterThan(390);
    const portrait = inkBox(await decode(await renderDesign(spec)), hex('#FF0000'))!;
    expect(portrait.right - portrait.left).toBeLessThanOrEqual(390);
  });

  it('render threads get them with the other render options: the same bytes as in-process', async () => {
    const spec = design('poster', { text: 'Landscape', color: '#0055AA' });
    const pool = new RenderPool({ threads: 1, renderOptions: { compressionLevel: 6, printAreas } });
    pools.push(pool);
    const [threaded, inline, builtIn] = await Promise.all([pool.render(spec).then((images) => ({ preview: images.find((image) => image.name === 'preview' && image.format === 'png')!.data })), renderDesignAssets(spec, { compressionLevel: 6, printAreas }), renderDesignAssets(spec, { compressionLevel: 6 })]);
    expect(threaded.preview.equals(inline.preview)).toBe(true);
    expect(threaded.preview.equals(builtIn.preview)).toBe(false);
  });

  it('customify render reads them from PRINT_SPECS_FILE: a t-shirt made 10 x 10 in previews square, as the render path given the same settings does', async () => {
    const dir = await createTempDir('preview-print-area');
    try {
      const specs = path.join(dir, 'specs.json');
      await writeFile(specs, JSON.stringify({ 't-shirt': { width: 10, height: 10 } }));
      const settings = configFrom({ PRINT_SPECS_FILE: specs });
      const out = path.join(dir, 'out');
      expect(await renderCommand(settings, { text: 'Tee', out, color: '#FF0000', font: 'Roboto-Bold' }, () => {})).toBe(0);
      const preview = await readFile(path.join(out, 'preview.png'));
      const spec = validateDesignSpec({ product_type: 't-shirt', design_data: { text: 'Tee', font: 'Roboto-Bold', color: '#FF0000' } });
      // What the composition root's renderer (and its threads) makes with these settings.
      expect(preview.equals((await renderDesignAssets(spec, { compressionLevel: settings.pngCompressionLevel, printAreas: settings.printSpecs })).preview)).toBe(true);
      expect(preview.equals((await renderDesignAssets(spec, { compressionLevel: settings.pngCompressionLevel })).preview)).toBe(false);
      // Square now: the same pixels as the design on a hoodie (12 x 12 in).
      const hoodie = validateDesignSpec({ ...spec, product_type: 'hoodie' });
      expect(preview.equals((await renderDesignAssets(hoodie, { compressionLevel: settings.pngCompressionLevel })).preview)).toBe(true);
    } finally {
      await removeTempDir(dir);
    }
  });

  it('a print area with no shape is refused as a render option (INVALID_RENDER_OPTION), not drawn', async () => {
    const broken = { ...DEFAULT_PRINT_SPECS, poster: { ...DEFAULT_PRINT_SPECS.poster, height: 0 } };
    const error = await renderDesign(design('poster'), { printAreas: broken }).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'INVALID_RENDER_OPTION', field: 'printAreas' });
  });
});
