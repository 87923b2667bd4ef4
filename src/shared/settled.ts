/**
 * As Promise.all, but it settles only once every promise has: when one rejects, the others
 * may still be writing (an upload, a buffer that goes back to a pool), and the caller must not
 * release what they use until they are done. Rejects with the first rejection, in order.
 */
export async function allSettledOrThrow<T extends readonly unknown[] | []>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results: ReadonlyArray<PromiseSettledResult<unknown>> = await Promise.allSettled(promises);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}
