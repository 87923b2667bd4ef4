import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { EXACT_FACTORS, lanczos3Reduce, MAX_REDUCED_BYTES, reducible, type GreyWindow } from '../../src/rendering/lanczos.js';
import { assembledModule } from '../../scripts/build-wasm.js';

/** sharp's Lanczos-3 resize of a grey image to 1/factor of its size: what lanczos3Reduce must equal. */
async function sharpReduced(pixels: Uint8Array, width: number, height: number, factor: number): Promise<Buffer> {
  return sharp(Buffer.from(pixels), { raw: { width, height, channels: 1 } })
    .resize(width / factor, height / factor, { fit: 'fill', kernel: 'lanczos3' })
    .toColourspace('b-w')
    .raw()
    .toBuffer();
}

/** A repeatable generator, so that a failure names an image that can be made again. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
}

/** Noise, or mostly zero with 255s and greys as a text's coverage is. */
function image(next: () => number, width: number, height: number, sparse: boolean): Uint8Array {
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i++) {
    pixels[i] = !sparse ? Math.floor(next() * 256) : next() < 0.65 ? 0 : next() < 0.5 ? 255 : Math.floor(next() * 256);
  }
  return pixels;
}

/** The `index`th test's factor (each in turn) and a size of whole multiples of it, 4 to 3 + `spread` output pixels a side. */
function shape(next: () => number, index: number, spread: number): { factor: number; width: number; height: number } {
  const factor = EXACT_FACTORS[index % EXACT_FACTORS.length] as number;
  return { factor, width: factor * (4 + Math.floor(next() * spread)), height: factor * (4 + Math.floor(next() * spread)) };
}

/** `pixels` as a window of a wider image whose other columns are 77, holding only rows from..to-1 (the rest must count as zero). */
function embedded(pixels: Uint8Array, width: number, height: number, from: number, to: number): { window: GreyWindow; whole: Uint8Array } {
  const margin = 7;
  const stride = width + 2 * margin;
  const data = new Uint8Array(stride * (to - from)).fill(77);
  const whole = new Uint8Array(width * height);
  for (let y = from; y < to; y++) {
    const row = pixels.subarray(y * width, (y + 1) * width);
    data.set(row, (y - from) * stride + margin);
    whole.set(row, y * width);
  }
  return { window: { data, stride, left: margin, rowOffset: -from, width, height }, whole };
}

describe('lanczos3Reduce', () => {
  it.each(EXACT_FACTORS)('gives sharp\'s bytes for 120 random images reduced by %i, dense and sparse, from 1 to 70 output pixels a side', async (factor) => {
    const next = random(factor * 7919);
    const sizes = [
      [1, 1],
      [1, 70],
      [70, 1],
      ...Array.from({ length: 117 }, () => [1 + Math.floor(next() * 70), 1 + Math.floor(next() * 70)]),
    ];
    for (const [index, [outWidth, outHeight]] of sizes.entries()) {
      const width = (outWidth as number) * factor;
      const height = (outHeight as number) * factor;
      const pixels = image(next, width, height, index % 2 === 0);
      const ours = lanczos3Reduce({ data: pixels, stride: width, left: 0, rowOffset: 0, width, height }, factor);
      expect(ours.equals(await sharpReduced(pixels, width, height, factor)), `image ${index}: ${width}x${height}`).toBe(true);
    }
  });

  it('reads only its window of a wider image, and counts the rows the image does not have as zero', async () => {
    const next = random(31);
    for (let index = 0; index < 40; index++) {
      const { factor, width, height } = shape(next, index, 60);
      const from = Math.floor(next() * (height / 2));
      const to = from + 1 + Math.floor(next() * (height - from - 1));
      const { window, whole } = embedded(image(next, width, height, true), width, height, from, to);
      const ours = lanczos3Reduce(window, factor);
      expect(ours.equals(await sharpReduced(whole, width, height, factor)), `window ${index}: ${width}x${height}, rows ${from}-${to}`).toBe(true);
    }
  });

  it('ignores the rows of its image above and below the window', async () => {
    const next = random(77);
    for (let index = 0; index < 20; index++) {
      const { factor, width, height } = shape(next, index, 40);
      const above = 1 + Math.floor(next() * 12);
      const below = Math.floor(next() * 12);
      const pixels = image(next, width, height, index % 2 === 0);
      const data = new Uint8Array(width * (above + height + below)).fill(255);
      data.set(pixels, above * width);
      const ours = lanczos3Reduce({ data, stride: width, left: 0, rowOffset: above, width, height }, factor);
      expect(ours.equals(await sharpReduced(pixels, width, height, factor)), `window ${index}: ${width}x${height}, ${above} rows above, ${below} below`).toBe(true);
    }
  });

  it('gives the same bytes after a larger reduction has grown its memory, and after one that left pixels where the next has none', async () => {
    const next = random(5);
    const large = image(next, 1500, 1200, false);
    expect(lanczos3Reduce({ data: large, stride: 1500, left: 0, rowOffset: 0, width: 1500, height: 1200 }, 3).equals(await sharpReduced(large, 1500, 1200, 3))).toBe(true);
    // Only the middle third of the rows exist: the others must not be the large image's, still in memory.
    const { window, whole } = embedded(image(next, 600, 600, true), 600, 600, 200, 400);
    expect(lanczos3Reduce(window, 3).equals(await sharpReduced(whole, 600, 600, 3))).toBe(true);
    const none = lanczos3Reduce({ data: new Uint8Array(0), stride: 30, left: 0, rowOffset: 0, width: 30, height: 30 }, 3);
    expect(none.equals(Buffer.alloc(100))).toBe(true);
  });

  it.each([
    ['a factor of 4', { width: 12, height: 12, stride: 12, left: 0 }, 4],
    ['a factor of 1', { width: 12, height: 12, stride: 12, left: 0 }, 1],
    ['a width that is not a multiple of the factor', { width: 13, height: 12, stride: 13, left: 0 }, 3],
    ['a height that is not a multiple of the factor', { width: 12, height: 10, stride: 12, left: 0 }, 3],
    ['an empty window', { width: 0, height: 0, stride: 1, left: 0 }, 3],
    ['a window past the end of its rows', { width: 12, height: 12, stride: 20, left: 9 }, 3],
    ['a window left of its rows', { width: 12, height: 12, stride: 20, left: -1 }, 3],
    [`more than MAX_REDUCED_BYTES (${MAX_REDUCED_BYTES}) of rows`, { width: 2100, height: 2100, stride: 2100, left: 0 }, 3],
  ])('refuses %s, and reducible says so', (_case, shape, factor) => {
    const window = { ...shape, data: new Uint8Array(shape.stride * shape.height), rowOffset: 0 };
    expect(reducible(window, factor)).toBe(false);
    expect(() => lanczos3Reduce(window, factor)).toThrow(RangeError);
  });

  it('runs the module lanczos.wat assembles to (node scripts/build-wasm.js)', async () => {
    const committed = readFileSync(new URL('../../src/rendering/lanczos-wasm.ts', import.meta.url), 'utf8');
    expect(committed).toBe(await assembledModule());
  });
});
