import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { designScene, FONT_NAMES, makeThumbnail, PRODUCT_TYPES, renderScene, validateDesignSpec, type Scene, type TextLayer } from '../../src/rendering/index.js';
import { encodeFlatScene, encodeScene, encodeThroughSharp, isFlat, paintCanvas, prepareScene, scenePixels, type PreparedScene } from '../../src/rendering/scene-renderer.js';
import { sceneThumbnail } from '../../src/rendering/thumbnail.js';
import { decode, expectPngcheckPasses, hex, pixelAt, pngColorType, type Color } from '../fixtures/rendering/images.js';
import { expectOneInkThumbnail } from '../fixtures/rendering/thumbnails.js';

/** Decoded to raw RGBA by sharp, as the issue asks the two paths be compared. */
async function rgba(image: Buffer): Promise<Buffer> {
  return sharp(image).ensureAlpha().raw().toBuffer();
}

/** A PNG whose left half is `left` and right half is `right`. */
async function twoHalves(width: number, height: number, left: Color, right: Color): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(x < width / 2 ? left : right, (y * width + x) * 3);
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const RED: Color = [255, 0, 0];
const BLUE: Color = [0, 0, 255];
const WHITE: Color = [255, 255, 255];
const BLACK: Color = [0, 0, 0];

describe('the flat fast path gives the general path\'s pixels', () => {
  const texts = [
    'A',
    'Custom Text 42',
    'A long line of text that has to wrap over several lines because it is far wider than the canvas allows for',
    'First line\nSecond line\nand a third, longer line',
    'Ünïcödé & <markup> "quotes" 😀',
  ];
  const colors: Array<[string, string | undefined]> = [
    ['#FF0000', undefined],
    ['#FFFFFF', undefined],
    ['#0055AA', '#FFEE00'],
    ['#222222', '#808080'],
    ['#33CC66', '#000000'],
  ];
  // Every font with every text; colours, product types and sizes cycle through the cases.
  const corpus = FONT_NAMES.flatMap((font, f) =>
    texts.map((text, t) => {
      const i = f * texts.length + t;
      const [color, textColor] = colors[i % colors.length]!;
      const productType = PRODUCT_TYPES[i % PRODUCT_TYPES.length]!;
      const size = [600, 600, 250, 1000][i % 4]!;
      return { font, text, color, textColor, productType, size };
    }),
  );

  it.each(corpus)('$font, $productType, $color on $size px: "$text"', async ({ font, text, color, textColor, productType, size }) => {
    const spec = validateDesignSpec({ product_type: productType, design_data: { text, font, color, ...(textColor ? { text_color: textColor } : {}) } });
    const scene = await prepareScene(designScene(spec, size));
    expect(isFlat(scene)).toBe(true);
    const flat = await encodeFlatScene(scene, 6);
    const general = await encodeThroughSharp(scene, { format: 'png', compressionLevel: 6 });
    expect(flat.equals(general)).toBe(false);
    const [flatPixels, generalPixels] = await Promise.all([rgba(flat), rgba(general)]);
    expect(flatPixels.length).toBe(size * size * 4);
    expect(flatPixels.equals(generalPixels)).toBe(true);
    // And the renderer picks the fast path for it.
    expect((await encodeScene(scene, { compressionLevel: 6 })).equals(flat)).toBe(true);
  });
  it('holds for a flat scene of several text layers, one of them a semi-transparent overlay', async () => {
    const scene = await prepareScene({
      width: 400, height: 300, background: { r: 20, g: 120, b: 220 },
      layers: [
        { kind: 'text', text: 'Under', font: 'Oswald-Bold', color: { r: 255, g: 255, b: 255 }, box: { left: 0, top: 20, width: 400, height: 120 }, fontSize: 90, minFontSize: 10 },
        { kind: 'text', text: 'OVER 😀', font: 'Pacifico-Regular', color: { r: 255, g: 40, b: 0 }, box: { left: -50, top: 60, width: 500, height: 200 }, fontSize: 120, minFontSize: 10, opacity: 0.4 },
      ],
    });
    expect(isFlat(scene)).toBe(true);
    const [flatPixels, generalPixels] = await Promise.all([encodeFlatScene(scene, 6).then(rgba), encodeThroughSharp(scene).then(rgba)]);
    expect(flatPixels.equals(generalPixels)).toBe(true);
  });
});

describe('one text colour: the palette fast path, pixel for pixel, and the thumbnail from the coverage', () => {
  const big = (text: string, font = 'Roboto-Bold', extra: Partial<TextLayer> = {}): TextLayer => ({
    kind: 'text' as const, text, font, color: { r: 255, g: 255, b: 255 }, box: { left: 40, top: 40, width: 520, height: 520 }, fontSize: 200, minFontSize: 8, ...extra,
  });
  const scenes: Array<[string, Scene]> = [
    ['"Hi" at the largest size', { width: 600, height: 600, background: { r: 0, g: 85, b: 170 }, layers: [big('Hi')] }],
    ['three lines filling the box', { width: 600, height: 600, background: { r: 255, g: 0, b: 0 }, layers: [big('one\ntwo\nthree', 'Oswald-Bold')] }],
    ['a long text wrapped over many lines', { width: 600, height: 600, background: { r: 34, g: 34, b: 34 }, layers: [big('Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt', 'Lobster-Regular')] }],
    ['emoji among the words (the bundled emoji font is monochrome)', { width: 600, height: 600, background: { r: 51, g: 204, b: 102 }, layers: [big('Party 😀🎉 time', 'Pacifico-Regular', { color: { r: 0, g: 0, b: 0 } })] }],
    ['a semi-transparent text (fewer than 256 coverages)', { width: 600, height: 600, background: { r: 20, g: 120, b: 220 }, layers: [big('Ghost\nwords', 'Roboto-Bold', { opacity: 0.37 })] }],
    ['a text colour one step from the background', { width: 600, height: 600, background: { r: 128, g: 128, b: 128 }, layers: [big('Faint', 'Bebas-Bold', { color: { r: 129, g: 127, b: 128 } })] }],
    ['text cut by the canvas edge', { width: 600, height: 600, background: { r: 255, g: 255, b: 255 }, layers: [big('Edge', 'Roboto-Bold', { color: { r: 0, g: 0, b: 0 }, box: { left: -200, top: 300, width: 520, height: 520 } })] }],
    ['a 1000 px canvas', { width: 1000, height: 1000, background: { r: 250, g: 240, b: 10 }, layers: [big('Big one', 'Oswald-Bold', { color: { r: 10, g: 10, b: 10 }, box: { left: 67, top: 67, width: 866, height: 866 }, fontSize: 333 })] }],
  ];

  it.each(scenes)('%s', async (_name, scene) => {
    const prepared = await prepareScene(scene);
    const flat = await encodeFlatScene(prepared, 6);
    expect(pngColorType(flat)).toBe(3);
    expectPngcheckPasses(flat);
    const general = await encodeThroughSharp(prepared, { format: 'png', compressionLevel: 6 });
    expect((await rgba(flat)).equals(await rgba(general))).toBe(true);
    // The thumbnail's fast path (a crop of the text's coverage, resampled) against the whole canvas's.
    await expectOneInkThumbnail(prepared, await sceneThumbnail(prepared));
  });

  it('at the default level writes a smaller file than the general path\'s RGB PNG; level 0 stores', async () => {
    // Not the barely visible text: there the RGB rows differ from the background by one
    // step, which libpng's filters turn into near-zeros, while the palette keeps every coverage.
    for (const [_name, scene] of scenes.filter(([name]) => !name.includes('one step'))) {
      const prepared = await prepareScene(scene);
      const general = await encodeThroughSharp(prepared, { format: 'png', compressionLevel: 6 });
      expect((await encodeFlatScene(prepared, 6)).length, _name).toBeLessThan(general.length);
      expect((await encodeFlatScene(prepared, 0)).length).toBeGreaterThan(scene.width * scene.height);
    }
  });

  it('writes RGB when a pixel is not a blend of the one ink (a colour glyph), with the same pixels as the general path', async () => {
    const prepared = await prepareScene(scenes[0]![1]);
    const [layer] = prepared.layers;
    const data = Buffer.from(layer!.data);
    // A coloured, half-covered pixel in the middle of the text's box, as a colour emoji leaves.
    data.set([250, 40, 90, 128], (Math.floor(layer!.rect.height / 2) * layer!.rect.width + Math.floor(layer!.rect.width / 2)) * 4);
    const coloured: PreparedScene = { ...prepared, layers: [{ ...layer!, data }] };
    const flat = await encodeFlatScene(coloured, 6);
    expect(pngColorType(flat)).toBe(2);
    expectPngcheckPasses(flat);
    expect((await rgba(flat)).equals(await encodeThroughSharp(coloured).then(rgba))).toBe(true);
    const [thumbnail, expected] = await Promise.all([sceneThumbnail(coloured), makeThumbnail(paintCanvas(coloured))]);
    expect((await rgba(thumbnail)).equals(await rgba(expected))).toBe(true);
  });
});

describe('the general path: image layers and overlays', () => {
  it('places an image at its rectangle, stretched with fit "fill"', async () => {
    const input = await twoHalves(40, 20, RED, BLUE);
    const scene: Scene = { width: 300, height: 200, background: { r: 255, g: 255, b: 255 }, layers: [{ kind: 'image', input, rect: { left: 100, top: 50, width: 80, height: 40 }, fit: 'fill' }] };
    const image = await decode(await renderScene(scene));
    expect({ width: image.width, height: image.height, channels: image.channels }).toEqual({ width: 300, height: 200, channels: 3 });
    expect(pixelAt(image, 100, 50)).toEqual(RED);
    expect(pixelAt(image, 130, 70)).toEqual(RED);
    expect(pixelAt(image, 150, 70)).toEqual(BLUE);
    expect(pixelAt(image, 179, 89)).toEqual(BLUE);
    for (const [x, y] of [[99, 60], [180, 60], [140, 49], [140, 90], [0, 0], [299, 199]] as const) expect(pixelAt(image, x, y)).toEqual(WHITE);
  });

  it('letterboxes with fit "contain" (the background shows around) and crops the middle with fit "cover"', async () => {
    const input = await twoHalves(40, 20, RED, BLUE);
    const contain = await decode(await renderScene({
      width: 100, height: 100, background: { r: 0, g: 0, b: 0 },
      layers: [{ kind: 'image', input, rect: { left: 20, top: 20, width: 60, height: 60 }, fit: 'contain' }],
    }));
    // 40x20 fitted into 60x60 is 60x30, centred: rows 35 to 64.
    expect(pixelAt(contain, 30, 30)).toEqual(BLACK);
    expect(pixelAt(contain, 30, 36)).toEqual(RED);
    expect(pixelAt(contain, 70, 63)).toEqual(BLUE);
    expect(pixelAt(contain, 30, 70)).toEqual(BLACK);

    const cover = await decode(await renderScene({
      width: 100, height: 100, background: { r: 0, g: 0, b: 0 },
      layers: [{ kind: 'image', input, rect: { left: 20, top: 20, width: 20, height: 20 }, fit: 'cover' }],
    }));
    // 40x20 covering 20x20 is scaled to 40x20 and its middle 20 columns kept: half red, half blue.
    expect(pixelAt(cover, 20, 20)).toEqual(RED);
    expect(pixelAt(cover, 28, 39)).toEqual(RED);
    expect(pixelAt(cover, 31, 20)).toEqual(BLUE);
    expect(pixelAt(cover, 39, 39)).toEqual(BLUE);
    expect(pixelAt(cover, 40, 30)).toEqual(BLACK);
    expect(pixelAt(cover, 19, 30)).toEqual(BLACK);
  });

  it('cuts an image that reaches past the canvas at its edges', async () => {
    const input = await twoHalves(40, 20, RED, BLUE);
    const image = await decode(await renderScene({
      width: 50, height: 50, background: { r: 255, g: 255, b: 255 },
      layers: [{ kind: 'image', input, rect: { left: -40, top: 40, width: 80, height: 20 }, fit: 'fill' }],
    }));
    // Only the blue right half, columns 0 to 39, rows 40 to 49, is on the canvas (its first
    // columns blend into the red half that is cut off).
    expect(pixelAt(image, 4, 40)).toEqual(BLUE);
    expect(pixelAt(image, 39, 49)).toEqual(BLUE);
    expect(pixelAt(image, 40, 45)).toEqual(WHITE);
    expect(pixelAt(image, 10, 39)).toEqual(WHITE);
  });

  it('blends a semi-transparent overlay over what is under it, and text over an image', async () => {
    const input = await twoHalves(20, 20, WHITE, WHITE);
    const scene: Scene = {
      width: 200, height: 200, background: { r: 0, g: 0, b: 0 },
      layers: [
        { kind: 'image', input: await twoHalves(200, 200, BLUE, BLUE), rect: { left: 0, top: 0, width: 200, height: 100 }, fit: 'fill' },
        { kind: 'image', input, rect: { left: 50, top: 50, width: 100, height: 100 }, fit: 'fill', opacity: 0.5 },
        { kind: 'text', text: 'WATERMARK', font: 'Roboto-Bold', color: { r: 255, g: 255, b: 0 }, box: { left: 0, top: 0, width: 200, height: 200 }, fontSize: 30, minFontSize: 8 },
      ],
    };
    const prepared = await prepareScene(scene);
    expect(isFlat(prepared)).toBe(false);
    const image = await decode(await encodeScene(prepared));
    // Half-opaque white over blue and over black: 255 × 128/255 more of each channel.
    expect(pixelAt(image, 60, 60)).toEqual([128, 128, 255]);
    expect(pixelAt(image, 60, 140)).toEqual([128, 128, 128]);
    expect(pixelAt(image, 40, 40)).toEqual(BLUE);
    expect(pixelAt(image, 40, 160)).toEqual(BLACK);
    // The text lies across the middle row, over both: some of its pixels are pure yellow.
    const yellow = [...Array(200).keys()].flatMap((x) => [98, 99, 100, 101, 102].map((y) => pixelAt(image, x, y))).filter((c) => c[0] === 255 && c[1] === 255 && c[2] === 0);
    expect(yellow.length).toBeGreaterThan(10);
  });

  it('keeps a transparent background transparent, in RGBA', async () => {
    const input = await twoHalves(10, 10, RED, RED);
    const png = await renderScene({ width: 40, height: 40, background: 'transparent', layers: [{ kind: 'image', input, rect: { left: 10, top: 10, width: 20, height: 20 }, fit: 'fill', opacity: 0.5 }] });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(4);
    const at = (x: number, y: number) => [...data.subarray((y * 40 + x) * 4, (y * 40 + x) * 4 + 4)];
    expect(at(0, 0)).toEqual([0, 0, 0, 0]);
    expect(at(15, 15)).toEqual([255, 0, 0, 128]);
  });

  it('encodes WebP, AVIF and JPEG, and resamples to the size asked for', async () => {
    const input = await twoHalves(40, 20, RED, BLUE);
    const scene: Scene = { width: 400, height: 200, background: { r: 255, g: 255, b: 255 }, layers: [{ kind: 'image', input, rect: { left: 0, top: 0, width: 400, height: 200 }, fit: 'fill' }] };
    for (const format of ['webp', 'avif', 'jpeg'] as const) {
      const encoded = await renderScene(scene, { format, width: 200 });
      const meta = await sharp(encoded).metadata();
      expect({ format: meta.format === 'heif' ? 'avif' : meta.format, width: meta.width, height: meta.height }).toEqual({ format, width: 200, height: 100 });
      const image = await decode(encoded);
      const [r, , b] = pixelAt(image, 20, 50);
      expect(r).toBeGreaterThan(200);
      expect(b).toBeLessThan(60);
    }
    const raw = await scenePixels(await prepareScene(scene), { width: 100 });
    expect({ width: raw.width, height: raw.height, channels: raw.channels }).toEqual({ width: 100, height: 50, channels: 3 });
  });

  it('gives a non-flat scene the thumbnail of its preview', async () => {
    const input = await twoHalves(40, 20, RED, BLUE);
    const prepared = await prepareScene({ width: 600, height: 600, background: hexRgb('#33CC66'), layers: [{ kind: 'image', input, rect: { left: 100, top: 100, width: 400, height: 400 }, fit: 'contain' }] });
    const preview = await encodeScene(prepared);
    const [thumbnail, expected] = await Promise.all([sceneThumbnail(prepared), makeThumbnail(preview)]);
    expect((await rgba(thumbnail)).equals(await rgba(expected))).toBe(true);
  });

  it('refuses an image it cannot decode, naming the layer', async () => {
    const scene: Scene = { width: 10, height: 10, background: 'transparent', layers: [{ kind: 'image', input: Buffer.from('not an image'), rect: { left: 0, top: 0, width: 5, height: 5 }, fit: 'cover' }] };
    const error = await renderScene(scene).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'INVALID_IMAGE', field: 'layers[0].input', retryable: false });
  });

  it('refuses a scene that breaks the model: fractional sizes, opacity outside 0–1, unknown fit', async () => {
    const input = await twoHalves(4, 4, RED, RED);
    const image = { kind: 'image' as const, input, rect: { left: 0, top: 0, width: 5, height: 5 }, fit: 'cover' as const };
    const cases: Array<[Scene, string]> = [
      [{ width: 10.5, height: 10, background: 'transparent', layers: [] }, 'width'],
      [{ width: 10, height: 10, background: 'transparent', layers: [{ ...image, opacity: 1.5 }] }, 'layers[0].opacity'],
      [{ width: 10, height: 10, background: 'transparent', layers: [image, { ...image, rect: { ...image.rect, width: 0 } }] }, 'layers[1].rect.width'],
      [{ width: 10, height: 10, background: 'transparent', layers: [{ ...image, fit: 'stretch' as never }] }, 'layers[0].fit'],
    ];
    for (const [scene, field] of cases) await expect(renderScene(scene)).rejects.toMatchObject({ code: 'INVALID_SCENE', field });
  });
});

function hexRgb(color: string) {
  const [r, g, b] = hex(color);
  return { r, g, b };
}
