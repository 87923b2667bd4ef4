import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { encodeFlatPng, encodeIndexedPng, type FlatImage, type IndexedImage } from '../../src/rendering/flat-png.js';
import { decode, expectPngcheckPasses, pngColorType } from '../fixtures/rendering/images.js';
import { noise } from '../helpers/noise.js';
import { idat } from '../helpers/png.js';

const BACKGROUND = { r: 12, g: 200, b: 99 };

/** What the image should decode to: background everywhere, the band's bytes in its rows. */
function expectedPixels({ width, height, background, band }: FlatImage): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  pixels.fill(Buffer.from([background.r, background.g, background.b]));
  band?.rows.copy(pixels, band.top * width * 3);
  return pixels;
}

/** The decoded PNG is RGB (a palette PNG decodes to RGB too) at the image's size. */
function expectRgbPngOfSize(decoded: { format: string; width: number; height: number; channels: number }, image: { width: number; height: number }): void {
  expect({ format: decoded.format, width: decoded.width, height: decoded.height, channels: decoded.channels }).toEqual({
    format: 'png',
    width: image.width,
    height: image.height,
    channels: 3,
  });
}

describe('encodeFlatPng', () => {
  const cases: Array<[string, FlatImage]> = [
    ['no band', { width: 600, height: 600, background: BACKGROUND }],
    ['a band in the middle', { width: 600, height: 600, background: BACKGROUND, band: { top: 280, rows: noise(600 * 40 * 3, 1) } }],
    ['a band at the top', { width: 70, height: 90, background: BACKGROUND, band: { top: 0, rows: noise(70 * 5 * 3, 2) } }],
    ['a band at the bottom', { width: 70, height: 90, background: BACKGROUND, band: { top: 89, rows: noise(70 * 3, 3) } }],
    ['a band filling the image', { width: 33, height: 17, background: BACKGROUND, band: { top: 0, rows: noise(33 * 17 * 3, 4) } }],
    ['an empty band', { width: 40, height: 100, background: BACKGROUND, band: { top: 50, rows: Buffer.alloc(0) } }],
    ['a one-pixel image', { width: 1, height: 1, background: BACKGROUND }],
    ['more rows than one cached run', { width: 5, height: 1000, background: BACKGROUND, band: { top: 33, rows: noise(5 * 3 * 3, 5) } }],
  ];

  describe.each([0, 1, 6, 9])('at compression level %i', (level) => {
    it.each(cases)('encodes %s losslessly as an RGB PNG', async (_case, image) => {
      const png = encodeFlatPng(image, level);
      const decoded = await decode(png);
      expectRgbPngOfSize(decoded, image);
      expect(decoded.data.equals(expectedPixels(image))).toBe(true);
      // One filter byte per row, then the row: a wrong adler32 would make this throw.
      expect(inflateSync(idat(png)).length).toBe(image.height * (image.width * 3 + 1));
      expectPngcheckPasses(png);
    });
  });

  it('compresses more at higher levels', () => {
    const image = cases[1]?.[1] as FlatImage;
    const sizes = [0, 1, 9].map((level) => encodeFlatPng(image, level).length);
    expect(sizes[0]).toBeGreaterThan(sizes[1] ?? 0);
    expect(sizes[1]).toBeGreaterThan(sizes[2] ?? 0);
  });

  it('refuses a band that does not fit the image', () => {
    const tooLow = () => encodeFlatPng({ width: 10, height: 10, background: BACKGROUND, band: { top: 8, rows: Buffer.alloc(10 * 3 * 3) } }, 6);
    const partialRow = () => encodeFlatPng({ width: 10, height: 10, background: BACKGROUND, band: { top: 0, rows: Buffer.alloc(10) } }, 6);
    for (const encode of [tooLow, partialRow]) {
      expect(encode).toThrow(AppError);
      expect(encode).toThrow(/does not fit/);
    }
  });
});

/** What a palette image should decode to: each index looked up in the palette, index 0 outside the band. */
function expectedIndexedPixels({ width, height, palette, band }: IndexedImage): Buffer {
  const indices = Buffer.alloc(width * height);
  band?.rows.copy(indices, band.top * width);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < indices.length; i++) palette.copy(pixels, i * 3, (indices[i] as number) * 3, (indices[i] as number) * 3 + 3);
  return pixels;
}

/** `colors` colours that differ from each other. */
function palette(colors: number): Buffer {
  return Buffer.from(Array.from({ length: colors }, (_, i) => [i, (i * 7) & 255, 255 - i]).flat());
}

/** Indices as text coverage looks: runs of 0 and of the last index, with ramps between. */
function coverage(width: number, rows: number, colors: number, seed: number): Buffer {
  const data = Buffer.alloc(width * rows);
  const noisy = noise(width * rows, seed);
  for (let i = 0; i < data.length; i++) {
    const phase = (i % width) % 23;
    data[i] = phase < 8 ? 0 : phase < 16 ? colors - 1 : (noisy[i] as number) % colors;
  }
  return data;
}

describe('encodeIndexedPng', () => {
  const cases: Array<[string, IndexedImage]> = [
    ['no band', { width: 600, height: 600, palette: palette(1) }],
    ['text-like coverage in the middle', { width: 600, height: 600, palette: palette(256), band: { top: 160, rows: coverage(600, 280, 256, 1) } }],
    ['random indices at the top', { width: 70, height: 90, palette: palette(256), band: { top: 0, rows: noise(70 * 5, 2) } }],
    ['a band at the bottom, a short palette', { width: 70, height: 90, palette: palette(17), band: { top: 89, rows: coverage(70, 1, 17, 3) } }],
    ['a band filling the image', { width: 33, height: 17, palette: palette(200), band: { top: 0, rows: coverage(33, 17, 200, 4) } }],
    ['an empty band', { width: 40, height: 100, palette: palette(2), band: { top: 50, rows: Buffer.alloc(0) } }],
    ['a one-pixel image', { width: 1, height: 1, palette: palette(1) }],
  ];

  describe.each([0, 1, 6, 7, 9])('at compression level %i', (level) => {
    it.each(cases)('encodes %s losslessly as a palette PNG that pngcheck passes', async (_case, image) => {
      const png = await encodeIndexedPng(image, level);
      expect(pngColorType(png)).toBe(3);
      const decoded = await decode(png);
      expectRgbPngOfSize(decoded, image);
      expect(decoded.data.equals(expectedIndexedPixels(image))).toBe(true);
      expect(inflateSync(idat(png)).length).toBe(image.height * (image.width + 1));
      expectPngcheckPasses(png);
    });
  });

  it('stores at level 0 and compresses at levels 6 and 9', async () => {
    const image = cases[1]?.[1] as IndexedImage;
    const [stored, six, nine] = (await Promise.all([0, 6, 9].map((level) => encodeIndexedPng(image, level)))).map((png) => png.length) as [number, number, number];
    expect(stored).toBeGreaterThan(600 * 600);
    expect(six).toBeLessThan(stored / 3);
    expect(nine).toBeLessThan(stored / 3);
  });

  it('refuses a palette of no colour, of more than 256, or of partial colours, and a band that does not fit', async () => {
    const encodes = [
      () => encodeIndexedPng({ width: 4, height: 4, palette: Buffer.alloc(0) }, 6),
      () => encodeIndexedPng({ width: 4, height: 4, palette: palette(257) }, 6),
      () => encodeIndexedPng({ width: 4, height: 4, palette: Buffer.alloc(4) }, 6),
      () => encodeIndexedPng({ width: 10, height: 10, palette: palette(2), band: { top: 8, rows: Buffer.alloc(10 * 3) } }, 6),
      () => encodeIndexedPng({ width: 10, height: 10, palette: palette(2), band: { top: 0, rows: Buffer.alloc(15) } }, 6),
    ];
    for (const encode of encodes) {
      await expect(encode()).rejects.toThrow(AppError);
      await expect(encode()).rejects.toThrow(/palette|does not fit/);
    }
  });
});
