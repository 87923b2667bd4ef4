import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { DEFAULT_PRINT_SPECS, designPrintScene, readPrintImage, renderPrintPng, type PrintImage, type PrintSpec } from '../../src/print/index.js';
import { encodeBandedPng, subFilterRgba, type BandedImage } from '../../src/rendering/flat-png.js';
import { PRODUCT_TYPES, validateDesignSpec, type ProductType } from '../../src/rendering/index.js';
import { encodeBandedScene, encodeScene, encodeThroughSharp, paintWindow, prepareScene } from '../../src/rendering/scene-renderer.js';
import { expectPngcheckPasses, pngColorType } from '../fixtures/rendering/images.js';
import { noise } from '../helpers/noise.js';
import { idat } from '../helpers/png.js';

/**
 * The banded path (print.png and every PNG that is not a flat preview) must give exactly the
 * general path's pixels, painted whole and encoded by sharp; and it must paint no more than a
 * strip at a time, which is what keeps a print worker's memory down (issue #12).
 */

/** Decoded to raw pixels (RGB or RGBA, as encoded), with the channel count. */
async function raw(png: Buffer): Promise<{ data: Buffer; channels: number; width: number; height: number }> {
  const { data, info } = await sharp(png, { limitInputPixels: false }).raw().toBuffer({ resolveWithObject: true });
  return { data, channels: info.channels, width: info.width, height: info.height };
}

/** A photo-like image with a transparent left edge and a half-transparent strip, so alpha blending is exercised. */
async function testImage(): Promise<PrintImage> {
  const width = 160;
  const height = 120;
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      pixels.set([(x * 7 + y) & 255, (y * 3) & 255, (x ^ y) & 255, x < 10 ? 0 : x < 20 ? 128 : 255], o);
    }
  }
  return readPrintImage(await sharp(pixels, { raw: { width, height, channels: 4 } }).png().toBuffer());
}

const TEXTS = { 'one line': 'Custom Print Text', 'several lines with an emoji': 'First line\nSecond line here\nand a third 😀' } as const;
const design = (type: ProductType, text: string, placement?: { position: 'behind' | 'above'; fit: 'cover' | 'contain' }) =>
  validateDesignSpec({
    product_type: type,
    design_data: { text, font: 'Roboto-Bold', color: '#0055AA', text_color: '#FFD700', ...(placement ? { image: { upload_id: '0b5c4a4e-8a8f-4c1e-9d55-3f7c1c2a9b10', placement } } : {}) },
  });

/** Each product's spec at a lower resolution: its shape, bleed and background as printed, a fraction of the pixels. */
const lowRes = (type: ProductType): PrintSpec => ({ ...DEFAULT_PRINT_SPECS[type], dpi: 60 });

describe('print scenes: the banded path gives the general path\'s pixels', () => {
  const cases = PRODUCT_TYPES.flatMap((type) =>
    Object.entries(TEXTS).flatMap(([textName, text]) =>
      ([undefined, { position: 'behind', fit: 'cover' }, { position: 'above', fit: 'contain' }] as const).map((placement) => ({
        type,
        textName,
        text,
        placement,
        imageName: placement ? `an image ${placement.position}` : 'no image',
      })),
    ),
  );

  it.each(cases)('$type, $textName, $imageName', async ({ type, text, placement }) => {
    const spec = lowRes(type);
    const print = designPrintScene(design(type, text, placement), spec, placement ? await testImage() : undefined);
    const prepared = await prepareScene(print.scene);
    const banded = encodeBandedScene(prepared, 6);
    const [ours, general] = await Promise.all([raw(banded), encodeThroughSharp(prepared, { format: 'png', compressionLevel: 6 }).then(raw)]);
    expect(ours.channels).toBe(spec.printBackground ? 3 : 4);
    expect(pngColorType(banded)).toBe(spec.printBackground ? 2 : 6);
    expect({ width: ours.width, height: ours.height }).toEqual({ width: general.width, height: general.height });
    expect(ours.data.equals(general.data)).toBe(true);
    // print.png is the banded path's file, with its pHYs; encodeScene gives the same pixels too.
    expect((await raw(await renderPrintPng(print))).data.equals(general.data)).toBe(true);
    expect((await raw(await encodeScene(prepared, { format: 'png', palette: false }))).data.equals(general.data)).toBe(true);
    expectPngcheckPasses(banded);
    // Both paths paint with paintWindow, whose first layer on a transparent canvas takes a
    // word-at-a-time loop when the buffer allows: it must blend as the general loop does,
    // which a buffer at an odd offset gets.
    const window = { left: 0, top: 0, width: prepared.width, height: prepared.height };
    const bytes = prepared.width * prepared.height * (spec.printBackground ? 3 : 4);
    const odd = Buffer.alloc(bytes + 1).subarray(1);
    expect(paintWindow(prepared, window, odd).equals(paintWindow(prepared, window))).toBe(true);
  });

  // Full size: a band many strips tall, strip edges through the text and the image.
  it.each([
    ['text only', undefined],
    ['an image behind the text', { position: 'behind', fit: 'cover' }],
  ] as const)('a t-shirt at 300 DPI, %s', async (_name, placement) => {
    const print = designPrintScene(design('t-shirt', TEXTS['several lines with an emoji'], placement), DEFAULT_PRINT_SPECS['t-shirt'], placement ? await testImage() : undefined);
    const prepared = await prepareScene(print.scene);
    const png = encodeBandedScene(prepared, 6);
    const [ours, general] = await Promise.all([raw(png), encodeThroughSharp(prepared, { format: 'png', compressionLevel: 6 }).then(raw)]);
    expect({ width: ours.width, height: ours.height, channels: ours.channels }).toEqual({ width: 3600, height: 4800, channels: 4 });
    expect(ours.data.equals(general.data)).toBe(true);
    expectPngcheckPasses(png);
  }, 30_000);
});

describe('encodeBandedPng', () => {
  /** What `image` decodes to: zeros (transparent) or the background colour outside the band. */
  function expected(image: BandedImage, rows: Buffer): Buffer {
    const channels = image.background === 'transparent' ? 4 : 3;
    const pixels = Buffer.alloc(image.width * image.height * channels);
    if (image.background !== 'transparent') pixels.fill(Buffer.from([image.background.r, image.background.g, image.background.b]));
    rows.copy(pixels, (image.band?.top ?? 0) * image.width * channels);
    return pixels;
  }

  const width = 97;
  const height = 300;
  // A band from row 20, 250 rows: with 300 bytes a strip (below) that is many strips.
  const transparentRows = noise(width * 250 * 4, 7);
  const rgbRows = noise(width * 250 * 3, 8);

  describe.each([0, 1, 6, 9])('at compression level %i', (level) => {
    it.each([
      ['RGBA rows given whole', { width, height, background: 'transparent', band: { top: 20, rows: transparentRows } }, transparentRows],
      // Not on a multiple of 4 bytes: the byte-by-byte filter and checksum.
      ['RGBA rows at an odd offset', { width, height, background: 'transparent', band: { top: 20, rows: Buffer.concat([Buffer.alloc(1), transparentRows]).subarray(1) } }, transparentRows],
      ['RGB rows given whole', { width, height, background: { r: 1, g: 2, b: 3 }, band: { top: 20, rows: rgbRows } }, rgbRows],
      ['RGBA photo rows', { width, height, background: 'transparent', band: { top: 20, rows: transparentRows }, bandContent: 'asked' }, transparentRows],
      ['no band, transparent', { width, height, background: 'transparent' }, Buffer.alloc(0)],
    ] as Array<[string, BandedImage, Buffer]>)('encodes %s losslessly', async (_name, image, rows) => {
      const png = encodeBandedPng(image, level);
      const decoded = await raw(png);
      expect(decoded.data.equals(expected(image, rows))).toBe(true);
      // Inflating checks the adler32 that the encoder summed by itself.
      const channels = image.background === 'transparent' ? 4 : 3;
      expect(inflateSync(idat(png)).length).toBe(height * (width * channels + 1));
      expectPngcheckPasses(png);
    });
  });

  it('paints the band a strip at a time, never a row outside it, into buffers of at most 4 MiB', async () => {
    const wide = 3600;
    const top = 1000;
    const rows = 1500;
    const calls: Array<{ top: number; count: number; bytes: number }> = [];
    const png = encodeBandedPng(
      {
        width: wide,
        height: 4800,
        background: 'transparent',
        band: {
          top,
          height: rows,
          paint: (from, count, into) => {
            calls.push({ top: from, count, bytes: into.length });
            // A diagonal ramp, so that every strip has something of its own.
            into.fill(0);
            for (let y = 0; y < count; y++) into.writeUInt32BE(0xff8000ff, (y * wide + ((from + y) % wide)) * 4);
          },
        },
      },
      6,
    );
    expect(calls[0]?.top).toBe(top);
    expect(calls.reduce((sum, call) => sum + call.count, 0)).toBe(rows);
    for (const [i, call] of calls.entries()) {
      expect(call.bytes).toBe(call.count * wide * 4);
      expect(call.bytes).toBeLessThanOrEqual(4 << 20);
      if (i > 0) expect(call.top).toBe(calls[i - 1]!.top + calls[i - 1]!.count);
    }
    expect(calls.length).toBeGreaterThan(1);
    const decoded = await raw(png);
    const at = (x: number, y: number) => decoded.data.readUInt32BE((y * wide + x) * 4);
    expect(at(top % wide, top)).toBe(0xff8000ff);
    expect(at((top + rows - 1) % wide, top + rows - 1)).toBe(0xff8000ff);
    expect(at(0, top - 1)).toBe(0);
    expect(at(5, top + rows)).toBe(0);
  });

  it('refuses a band that does not fit the image', () => {
    const painted = () => encodeBandedPng({ width: 10, height: 10, background: 'transparent', band: { top: 5, height: 6, paint: () => {} } }, 6);
    const partialRow = () => encodeBandedPng({ width: 10, height: 10, background: 'transparent', band: { top: 0, rows: Buffer.alloc(30) } }, 6);
    for (const encode of [painted, partialRow]) {
      expect(encode).toThrow(AppError);
      expect(encode).toThrow(/does not fit a 10x10 RGBA image/);
    }
  });
});

describe('subFilterRgba', () => {
  it('gives PNG\'s Sub filter, a word at a time or a byte at a time', () => {
    const width = 13;
    const rows = noise(width * 5 * 4, 3);
    // Rows with runs of equal pixels, where Sub gives zeros.
    rows.fill(0x7f, 0, width * 4);
    const aligned = subFilterRgba(rows, width, Buffer.alloc(rows.length));
    const odd = subFilterRgba(Buffer.concat([Buffer.alloc(1), rows]).subarray(1), width, Buffer.alloc(rows.length));
    expect(odd.equals(aligned)).toBe(true);
    for (let i = 0; i < rows.length; i++) {
      const left = i % (width * 4) >= 4 ? (rows[i - 4] as number) : 0;
      expect((((aligned[i] as number) + left) & 0xff) === rows[i]).toBe(true);
    }
    expect([...aligned.subarray(4, width * 4)].every((byte) => byte === 0)).toBe(true);
  });
});

