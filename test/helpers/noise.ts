/** `bytes` pseudo-random bytes from `seed` (a linear congruential generator): the same for the same seed, incompressible to zlib. */
export function noise(bytes: number, seed: number): Buffer {
  const data = Buffer.alloc(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}
