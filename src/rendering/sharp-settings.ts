import sharp from 'sharp';

/**
 * Turns off libvips' operation cache for the whole process. libvips keeps recent operations
 * and their results (by default up to 100 operations, 50 MB and 20 open files) in case the
 * same one runs again; renders and uploads here are each unique, so nothing is reused while
 * the memory stays taken: about 40 MB of a server's peak RSS with two render threads
 * (BENCHMARKS.md, memory). sharp sets the cache back to its defaults whenever a thread loads
 * it, so every thread that loads sharp calls this.
 */
export function disableSharpCache(): void {
  sharp.cache(false);
}
