import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { encodeIndexedPng, type IndexedImage } from '../../src/rendering/flat-png.js';
import { encodeIndexedWebp, MAX_WEBP_SIDE } from '../../src/rendering/flat-webp.js';
import { FONT_NAMES } from '../../src/rendering/fonts.js';
import { renderRenditions } from '../../src/rendering/renditions.js';
import { designScene } from '../../src/rendering/scene.js';
import { indexedScene, paintCanvas, prepareScene } from '../../src/rendering/scene-renderer.js';
import { design } from '../fixtures/rendering/images.js';
import { noise } from '../helpers/noise.js';

const SHORT = 'Hi';
const LONG = 'The quick brown fox jumps over the lazy dog, again and again, until the whole box is full of words';
const dir = mkdtempSync(path.join(tmpdir(), 'flat-webp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What sharp (libwebp) decodes `webp` to: RGB, after checking it is a lossless WebP of the image's size. */
async function decodeWebp(webp: Buffer, image: { width: number; height: number }): Promise<Buffer> {
  const { data, info } = await sharp(webp).raw().toBuffer({ resolveWithObject: true });
  expect({ width: info.width, height: info.height, channels: info.channels }).toEqual({ width: image.width, height: image.height, channels: 3 });
  return data;
}

/** The pixels the PNG encoder's palette image of `image` decodes to. */
async function pngPixels(image: IndexedImage): Promise<Buffer> {
  return sharp(await encodeIndexedPng(image, 6)).removeAlpha().raw().toBuffer();
}

async function expectSamePixelsAsPng(image: IndexedImage): Promise<Buffer> {
  const webp = encodeIndexedWebp(image);
  expect(webp.subarray(0, 4).toString('latin1')).toBe('RIFF');
  expect(webp.subarray(8, 16).toString('latin1')).toBe('WEBPVP8L');
  const decoded = await decodeWebp(webp, image);
  expect(decoded.equals(await pngPixels(image))).toBe(true);
  return webp;
}

/** A palette of `colors` distinct colours, the background first. */
function palette(colors: number, seed = 1): Buffer {
  const bytes = noise(colors * 3, seed);
  // Distinct whatever the noise: the blue byte is the index for up to 256 colours.
  for (let i = 0; i < colors; i++) bytes[i * 3 + 2] = i;
  return bytes;
}

/** `width` × `rows` indices below `colors`, with runs as text has (half of them background). */
function indices(width: number, rows: number, colors: number, seed: number): Buffer {
  const random = noise(width * rows * 2, seed);
  const band = Buffer.alloc(width * rows);
  for (let i = 0; i < band.length; i++) {
    const run = random[2 * i]! & 7;
    band[i] = run < 4 && i > 0 ? band[i - 1]! : random[2 * i + 1]! % colors;
  }
  return band;
}

/** Indices whose frequencies follow the Fibonacci numbers, shuffled: a Huffman tree over them is deeper than 15. */
function fibonacciIndices(width: number, rows: number): Buffer {
  const band = Buffer.alloc(width * rows);
  let [a, b] = [1, 1];
  let filled = 0;
  for (let symbol = 1; filled < band.length; symbol++) {
    band.fill(symbol, filled, Math.min(band.length, filled + a));
    filled += a;
    [a, b] = [b, a + b];
  }
  const random = noise(band.length * 4, 9);
  for (let i = band.length - 1; i > 0; i--) {
    const j = random.readUInt32LE(i * 4) % (i + 1);
    [band[i], band[j]] = [band[j]!, band[i]!];
  }
  return band;
}

describe('encodeIndexedWebp: the same pixels as the palette PNG, as libwebp decodes them', () => {
  const cases: Array<[string, IndexedImage]> = [
    ['one colour, no band (600)', { width: 600, height: 600, palette: palette(1) }],
    ['one colour, 1 x 1', { width: 1, height: 1, palette: palette(1) }],
    ['2 colours, odd width (8 pixels a byte)', { width: 37, height: 20, palette: palette(2), band: { top: 7, rows: indices(37, 5, 2, 1) } }],
    ['3 colours (4 a byte)', { width: 41, height: 9, palette: palette(3), band: { top: 0, rows: indices(41, 9, 3, 2) } }],
    ['4 colours', { width: 3, height: 30, palette: palette(4), band: { top: 29, rows: indices(3, 1, 4, 3) } }],
    ['5 colours (2 a byte)', { width: 201, height: 200, palette: palette(5), band: { top: 80, rows: indices(201, 40, 5, 4) } }],
    ['16 colours', { width: 400, height: 400, palette: palette(16), band: { top: 100, rows: indices(400, 200, 16, 5) } }],
    ['17 colours (one a byte)', { width: 399, height: 11, palette: palette(17), band: { top: 3, rows: indices(399, 5, 17, 6) } }],
    ['exactly 256 colours, every index used', { width: 600, height: 600, palette: palette(256), band: { top: 250, rows: indices(600, 100, 256, 7) } }],
    ['256 colours of noise (incompressible)', { width: 256, height: 256, palette: palette(256), band: { top: 0, rows: noise(256 * 256, 8) } }],
    ['Fibonacci frequencies (codes limited to 15 bits)', { width: 600, height: 500, palette: palette(40), band: { top: 10, rows: fibonacciIndices(600, 480) } }],
    ['a band of no rows', { width: 50, height: 50, palette: palette(3), band: { top: 20, rows: Buffer.alloc(0) } }],
    ['a row wider than the longest copy (4096)', { width: 5000, height: 4, palette: palette(200), band: { top: 1, rows: indices(5000, 2, 200, 10) } }],
    ['a 1200 px canvas', { width: 1200, height: 1200, palette: palette(256, 3), band: { top: 500, rows: indices(1200, 150, 256, 11) } }],
  ];
  for (const [name, image] of cases) {
    it(name, async () => {
      await expectSamePixelsAsPng(image);
    });
  }

  it('refuses a palette, a band or a size it cannot write (INVALID_IMAGE)', () => {
    const refused = (image: IndexedImage) => {
      try {
        encodeIndexedWebp(image);
      } catch (error) {
        return error instanceof AppError ? error.code : error;
      }
      return 'written';
    };
    expect(refused({ width: 10, height: 10, palette: Buffer.alloc(0) })).toBe('INVALID_IMAGE');
    expect(refused({ width: 10, height: 10, palette: Buffer.alloc(257 * 3) })).toBe('INVALID_IMAGE');
    expect(refused({ width: 10, height: 10, palette: Buffer.alloc(4) })).toBe('INVALID_IMAGE');
    expect(refused({ width: 10, height: 10, palette: palette(2), band: { top: 8, rows: Buffer.alloc(30) } })).toBe('INVALID_IMAGE');
    expect(refused({ width: 10, height: 10, palette: palette(2), band: { top: 0, rows: Buffer.alloc(15) } })).toBe('INVALID_IMAGE');
    expect(refused({ width: MAX_WEBP_SIDE + 1, height: 1, palette: palette(1) })).toBe('INVALID_IMAGE');
    expect(refused({ width: 0, height: 1, palette: palette(1) })).toBe('INVALID_IMAGE');
  });
});

describe('encodeIndexedWebp on designs: the scene\'s own pixels, in about the bytes of libwebp at effort 1', () => {
  const designs: Array<{ text: string; font: string; color: string; size: number }> = [];
  FONT_NAMES.forEach((font, i) => {
    designs.push({ text: SHORT, font, color: i % 2 ? '#FFFFFF' : '#111111', size: 600 });
    designs.push({ text: LONG, font, color: i % 2 ? '#0055AA' : '#F5F5DC', size: 600 });
  });
  for (const size of [200, 400, 1200, 601]) designs.push({ text: 'Custom Text 7', font: 'Roboto-Bold', color: '#33CC66', size });
  designs.push({ text: 'Ünïcødé ÆØÅ', font: 'Lobster-Regular', color: '#FF0000', size: 333 });

  let ours = 0;
  let libwebp = 0;
  for (const { text, font, color, size } of designs) {
    it(`${font}, ${text.length} characters on ${color}, ${size} px`, async () => {
      const scene = await prepareScene(designScene(design({ text, font, color }), size));
      const image = indexedScene(scene);
      expect(image).toBeDefined();
      const webp = await expectSamePixelsAsPng(image!);
      const canvas = paintCanvas(scene);
      expect((await decodeWebp(webp, image!)).equals(canvas.data)).toBe(true);
      writeFileSync(path.join(dir, `${font}-${text.length}-${size}.webp`), webp);
      ours += webp.length;
      libwebp += (await sharp(canvas.data, { raw: { width: canvas.width, height: canvas.height, channels: 3 } }).webp({ lossless: true, effort: 1 }).toBuffer()).length;
    });
  }

  it('is, over these designs, within 1.5 times the bytes of libwebp lossless at effort 1', () => {
    expect(ours).toBeGreaterThan(0);
    expect(ours / libwebp).toBeLessThanOrEqual(1.5);
  });

  it('writes files Debian\'s dwebp decodes to the same pixels', async () => {
    let dwebp = true;
    try {
      execFileSync('which', ['dwebp'], { stdio: 'ignore' });
    } catch {
      if (process.env.CI) throw new Error('dwebp is not installed; .ci/run installs it (apt-get install webp).');
      console.warn('flat-webp: dwebp not installed, its check is skipped (apt-get install webp).');
      dwebp = false;
    }
    if (!dwebp) return;
    const images: IndexedImage[] = [
      { width: 37, height: 20, palette: palette(2), band: { top: 7, rows: indices(37, 5, 2, 1) } },
      { width: 201, height: 200, palette: palette(5), band: { top: 80, rows: indices(201, 40, 5, 4) } },
      { width: 600, height: 500, palette: palette(40), band: { top: 10, rows: fibonacciIndices(600, 480) } },
      { width: 5000, height: 4, palette: palette(200), band: { top: 1, rows: indices(5000, 2, 200, 10) } },
    ];
    for (const { text, font, color, size } of designs.slice(0, 4)) images.push(indexedScene(await prepareScene(designScene(design({ text, font, color }), size)))!);
    for (const [i, image] of images.entries()) {
      const input = path.join(dir, `dwebp-${i}.webp`);
      writeFileSync(input, encodeIndexedWebp(image));
      execFileSync('dwebp', [input, '-o', `${input}.png`], { stdio: 'pipe' });
      const decoded = await sharp(`${input}.png`).removeAlpha().raw().toBuffer();
      expect(decoded.equals(await pngPixels(image)), `image ${i}`).toBe(true);
    }
  });
});

describe('renderRenditions: a flat design\'s WebP at the preview\'s size comes from this encoder', () => {
  it('writes preview.webp with encodeIndexedWebp, the PNG\'s pixels; smaller sizes and photos stay with sharp', async () => {
    const spec = design({ text: 'Instant preview', color: '#222222' });
    const images = await renderRenditions(spec, { formats: ['png', 'webp'] });
    const preview = images.find((image) => image.name === 'preview' && image.format === 'webp')!;
    const png = images.find((image) => image.name === 'preview' && image.format === 'png')!;
    const scene = await prepareScene(designScene(spec, 600));
    expect(preview.data.equals(encodeIndexedWebp(indexedScene(scene)!))).toBe(true);
    const [a, b] = await Promise.all([sharp(png.data).removeAlpha().raw().toBuffer(), sharp(preview.data).removeAlpha().raw().toBuffer()]);
    expect(a.equals(b)).toBe(true);
    const thumbnail = images.find((image) => image.name === 'thumbnail' && image.format === 'webp')!;
    expect((await sharp(thumbnail.data).metadata()).width).toBe(200);
  });
});
