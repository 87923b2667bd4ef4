/**
 * Scratch buffers for a render's short-lived rows (the palette rows a PNG deflates, the
 * window of a thumbnail sharp resamples, a one-ink scene's coverage), reused from render to render.
 *
 * Why: each of those lives across an await (zlib or sharp works on it on libuv's threads), so
 * a scavenge finds it alive and V8 promotes it, and every render then adds about 1 MB of
 * ArrayBuffers to the old generation's count. V8 sizes that generation at a small multiple of
 * a live heap of 11-12 MB, so fresh buffers forced a full collection every 15 to 22 renders
 * (BENCHMARKS.md, "Live status", the tenth machine). Reused buffers are allocated once.
 *
 * A buffer is the caller's alone from take to release, zeroed when taken. Buffers of up to
 * MAX_POOLED_BYTES are kept, at most POOLED_PER_SIZE of each power-of-two size, so the pool
 * holds under 16 MB whatever the concurrency (6.7 MB after 400 renders of the seed's two PNGs, 8 at a time). Larger ones (a
 * large preview's or a print's rows) are plain allocations, left to the garbage collector.
 */

/** Largest buffer kept for reuse: a 600 px preview's rows are 0.36 MB; larger sizes are rare, and their buffers would be held for nothing. */
export const MAX_POOLED_BYTES = 1 << 20;
/** Buffers kept per size: renders run 8 at a time in the embedded worker, each holding one or two of a size. */
const POOLED_PER_SIZE = 8;

const free = new Map<number, ArrayBuffer[]>();
/** The buffers handed out and not yet released, so that a release can be checked. */
const taken = new WeakSet<ArrayBuffer>();

/** The power of two that holds `bytes` (the pool's size classes). */
function sizeClass(bytes: number): number {
  return bytes <= 64 ? 64 : 2 ** Math.ceil(Math.log2(bytes));
}

/**
 * A zeroed buffer of `bytes` bytes that is the caller's until releaseScratch: from the pool
 * when one of its size is free. Give it back exactly once, and keep nothing that views it.
 */
export function takeScratch(bytes: number): Buffer {
  if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`A scratch buffer needs a whole number of bytes, got ${bytes}`);
  if (bytes > MAX_POOLED_BYTES) return Buffer.alloc(bytes);
  const size = sizeClass(bytes);
  const reused = free.get(size)?.pop();
  const memory = reused ?? new ArrayBuffer(size);
  taken.add(memory);
  const buffer = Buffer.from(memory, 0, bytes);
  if (reused) buffer.fill(0);
  return buffer;
}

/**
 * Gives `buffer` (from takeScratch) back for the next render. Throws when it was not taken
 * or is already back: two owners of one buffer would write each other's pixels.
 */
export function releaseScratch(buffer: Buffer): void {
  if (buffer.length > MAX_POOLED_BYTES) return;
  const memory = buffer.buffer;
  if (!(memory instanceof ArrayBuffer) || !taken.has(memory) || buffer.byteOffset !== 0) {
    throw new Error('releaseScratch was given a buffer that takeScratch did not hand out, or one already released.');
  }
  taken.delete(memory);
  const list = free.get(memory.byteLength) ?? [];
  if (list.length < POOLED_PER_SIZE) list.push(memory);
  free.set(memory.byteLength, list);
}

/** `use` given a zeroed scratch buffer of `bytes` bytes, released when its promise settles, however it settles. */
export async function withScratch<T>(bytes: number, use: (buffer: Buffer) => Promise<T> | T): Promise<T> {
  const buffer = takeScratch(bytes);
  try {
    return await use(buffer);
  } finally {
    releaseScratch(buffer);
  }
}

/** The bytes the pool holds for reuse (the tests check its bound). */
export function pooledScratchBytes(): number {
  let total = 0;
  for (const [size, list] of free) total += size * list.length;
  return total;
}
