import { LANCZOS_WASM_BASE64 } from './lanczos-wasm.js';

/**
 * Lanczos-3 reduction of one grey channel by a whole factor of 2 or 3, with libvips' own
 * arithmetic, so the bytes are those sharp's `resize(..., { kernel: 'lanczos3' })` gives
 * (test/unit/rendering-lanczos.test.ts compares the two on random images, the thumbnail and
 * scene tests on real designs' coverage).
 *
 * Why not sharp: a thumbnail's resample is a few hundred thousand multiply-adds, and a sharp
 * pipeline costs about a millisecond of CPU before it touches a pixel (setting up libvips'
 * operations, handing the work to its threads and back), more than the pixels here. Why not
 * plain TypeScript: its loops took 1.0-1.3 ms a thumbnail, on the main thread, where sharp
 * takes 0.2. The passes are WebAssembly SIMD (lanczos.wat): 16 pixels a vector in the vertical
 * pass, a 24-tap dot product a pixel in the horizontal one (BENCHMARKS.md, "A thumbnail's resample without a sharp pipeline").
 *
 * libvips 8.18's reduction, for factors under 4 (larger ones box-shrink first, by
 * floor(factor / 2), which this does not do): vertical, then horizontal, each a kernel of
 * 2·round(3·factor) + 1 taps centred on (i + 0.5)·factor − 0.5, its weights normalised to a
 * sum of 1 and truncated to 4096ths; rows and columns past the edge repeat the edge; each
 * pass rounds (+2048 >> 12) and clamps to 0-255.
 */

/** The factors lanczos3Reduce gives sharp's bytes for. */
export const EXACT_FACTORS: readonly number[] = [2, 3];

/**
 * The most bytes of the source image's rows a reduction copies (the window's height times the
 * image's row length): a WebAssembly memory only grows, so one large thumbnail would keep its
 * size for the life of the thread. A 600 px preview's text takes under 0.4 MB, a whole 1200 px
 * canvas 1.44 MB; larger windows are left to sharp.
 */
export const MAX_REDUCED_BYTES = 4 << 20;

/** A grey window of a larger image: window row y is `data`'s row y + rowOffset (rows `data` does not have are zero), column x is column left + x. */
export interface GreyWindow {
  readonly data: Uint8Array;
  /** Bytes from one row of `data` to the next. */
  readonly stride: number;
  readonly left: number;
  readonly rowOffset: number;
  readonly width: number;
  readonly height: number;
}

/** Whether lanczos3Reduce takes `window` and `factor`: a factor of 2 or 3, sides whole multiples of it, inside `data`'s rows, and at most MAX_REDUCED_BYTES of them. */
export function reducible(window: Omit<GreyWindow, 'data' | 'rowOffset'>, factor: number): boolean {
  const { stride, left, width, height } = window;
  return (
    EXACT_FACTORS.includes(factor) &&
    width >= factor &&
    height >= factor &&
    width % factor === 0 &&
    height % factor === 0 &&
    left >= 0 &&
    left + width <= stride &&
    height * stride <= MAX_REDUCED_BYTES
  );
}

/**
 * `window` reduced by `factor` with Lanczos-3, as sharp would: (width / factor) ×
 * (height / factor) bytes, row by row. Throws RangeError unless reducible(window, factor).
 */
export function lanczos3Reduce(window: GreyWindow, factor: number): Buffer {
  const { data, stride, left, rowOffset, width, height } = window;
  if (!reducible(window, factor)) {
    throw new RangeError(
      `lanczos3Reduce takes a window inside its image's rows, its sides whole multiples of a factor of 2 or 3, at most ${MAX_REDUCED_BYTES} bytes of rows; got ${width}x${height} at ${left} of ${stride} by ${factor}.`,
    );
  }
  const outWidth = width / factor;
  const outHeight = height / factor;
  const { vertical, horizontal } = kernelFor(factor);
  // The rows of `data` the window spans (window rows from..to-1), copied whole: one copy, not one a row.
  const dataRows = Math.floor(data.length / stride);
  const from = Math.min(height, Math.max(0, -rowOffset));
  const to = Math.max(from, Math.min(height, dataRows - rowOffset));
  const copied = (to - from) * stride;
  // The memory, in order: the tables, the copied rows, a row of zeros, the vertical pass's
  // rows, the result. A pass may read or write up to SLACK bytes past a row.
  const midStride = PAD + roundUp(width, 16) + PAD;
  const src = TABLES_BYTES;
  const zeroRow = roundUp(src + copied + SLACK, 16);
  const mid = roundUp(zeroRow + roundUp(width, 16) + SLACK, 16);
  const out = roundUp(mid + midStride * outHeight + SLACK, 16);
  const { exports, bytes } = instance(out + outWidth * outHeight + SLACK);

  const tables = new Int32Array(bytes.buffer, 0, TAPS_BYTES / 4);
  vertical.taps.forEach((tap, i) => {
    tables[i * 2] = tap.offset;
    tables[i * 2 + 1] = tap.weight;
  });
  new Int16Array(bytes.buffer, HORIZONTAL_WEIGHTS, HORIZONTAL_TAPS).set(horizontal.weights);
  if (copied > 0) bytes.set(data.subarray((from + rowOffset) * stride, (to + rowOffset) * stride), src);
  bytes.fill(0, zeroRow, mid);

  exports.vertical(src, stride, left, from, to, zeroRow, width, height, factor, vertical.first, 0, vertical.taps.length, ROWS_TABLE, mid, midStride, PAD, outHeight);
  exports.horizontal(mid, midStride, PAD, outWidth, outHeight, factor, horizontal.start, HORIZONTAL_WEIGHTS, out);
  return Buffer.from(bytes.subarray(out, out + outWidth * outHeight));
}

/** Bytes each side of a row of the vertical pass's output, repeating its edge pixel: at least the kernel's reach (9 for a factor of 3). */
const PAD = 16;
/** Bytes a pass may touch past its last row: 16-byte vectors and the horizontal pass's 24 taps. */
const SLACK = 32;
/** Up to 32 vertical taps (offset, weight): 2·round(3·3) + 1 = 19 for a factor of 3. */
const MAX_TAPS = 32;
const TAPS_BYTES = MAX_TAPS * 8;
/** Where the vertical pass keeps each tap's row address and weight while it makes one row. */
const ROWS_TABLE = TAPS_BYTES;
/** The horizontal kernel as 24 weights (i16), read as three vectors of 8. */
const HORIZONTAL_TAPS = 24;
const HORIZONTAL_WEIGHTS = ROWS_TABLE + MAX_TAPS * 8;
const TABLES_BYTES = HORIZONTAL_WEIGHTS + HORIZONTAL_TAPS * 2 + 16;

/** The part of the WebAssembly API used here: TypeScript declares it in the DOM library, which this project does not load. */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: unknown };
}
const { Module, Instance } = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

interface LanczosExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  vertical(src: number, stride: number, left: number, from: number, to: number, zeroRow: number, width: number, height: number, factor: number, first: number, taps: number, tapCount: number, rows: number, mid: number, midStride: number, pad: number, outHeight: number): void;
  horizontal(mid: number, midStride: number, pad: number, outWidth: number, outHeight: number, factor: number, start: number, weights: number, out: number): void;
}

let loaded: { exports: LanczosExports; bytes: Uint8Array } | undefined;

/** The module's instance (one per thread: renders on a thread are synchronous here), its memory at least `size` bytes. */
function instance(size: number): { exports: LanczosExports; bytes: Uint8Array } {
  if (!loaded) {
    const exports = new Instance(new Module(Buffer.from(LANCZOS_WASM_BASE64, 'base64'))).exports as LanczosExports;
    loaded = { exports, bytes: new Uint8Array(exports.memory.buffer) };
  }
  const { memory } = loaded.exports;
  if (memory.buffer.byteLength < size) {
    memory.grow(Math.ceil((size - memory.buffer.byteLength) / 65_536));
    loaded.bytes = new Uint8Array(memory.buffer);
  }
  return loaded;
}

interface Kernel {
  /** Output row y sums source rows factor·y + first + offset (clamped to the image). */
  readonly vertical: { readonly first: number; readonly taps: ReadonlyArray<{ offset: number; weight: number }> };
  /** Output column x sums HORIZONTAL_TAPS columns from factor·x + start, times these weights. */
  readonly horizontal: { readonly start: number; readonly weights: Int16Array };
}

const kernels = new Map<number, Kernel>();

function kernelFor(factor: number): Kernel {
  const cached = kernels.get(factor);
  if (cached) return cached;
  const points = 2 * Math.round(3 * factor) + 1;
  const half = (points - 1) / 2;
  // Centres at (i + 0.5)·factor − 0.5: whole for an odd factor, halfway for an even one.
  const first = Math.floor((factor - 1) / 2);
  const phase = (factor - 1) / 2 - first;
  const weights = kernelWeights(points, factor, phase);
  const taps = Array.from(weights, (weight, i) => ({ offset: i - half, weight })).filter((tap) => tap.weight !== 0);
  const firstTap = taps[0]?.offset ?? 0;
  const lastTap = taps[taps.length - 1]?.offset ?? 0;
  if (taps.length > MAX_TAPS || lastTap - firstTap >= HORIZONTAL_TAPS || first + firstTap < -PAD || first + lastTap - factor + 1 > PAD) {
    throw new RangeError(`A Lanczos-3 kernel for a factor of ${factor} does not fit lanczos.wat's tables.`);
  }
  const horizontal = new Int16Array(HORIZONTAL_TAPS);
  for (const tap of taps) horizontal[tap.offset - firstTap] = tap.weight;
  const kernel = { vertical: { first, taps }, horizontal: { start: first + firstTap, weights: horizontal } };
  kernels.set(factor, kernel);
  return kernel;
}

/** libvips' integer kernel: Lanczos-3 stretched by `factor`, normalised, truncated to 4096ths. */
function kernelWeights(points: number, factor: number, phase: number): Int32Array {
  const raw = new Float64Array(points);
  let sum = 0;
  for (let i = 0; i < points; i++) {
    raw[i] = lanczos3((i - (points - 1) / 2 - phase) / factor);
    sum += raw[i] as number;
  }
  return Int32Array.from(raw, (value) => Math.trunc((value / sum) * 4096));
}

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  return (3 * Math.sin(Math.PI * x) * Math.sin((Math.PI * x) / 3)) / (Math.PI * Math.PI * x * x);
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}
