import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past the live heap before its next full collection,
 * in percent: 300 makes the limit 4 times the live heap (V8's own largest factor) instead of
 * the 1.4 to 2.3 times it picks for this service.
 *
 * Why: a render's encoders hold sharp's text masks across awaits, so every render promotes
 * about 0.7 MB of them (scratch.ts keeps its own buffers out), and V8, which finds its marking
 * cheap on a heap of 11-12 MB, still ran a full collection every 20 to 25 renders: 18 % of
 * the embedded server's CPU went to marking and sweeping on V8's helper threads. At 300, 8
 * renders at a time ran 3 or 4 full collections per 1,000 renders instead of 40 to 50
 * (BENCHMARKS.md, "Fewer full collections"). The cost is memory: the server's peak RSS under the
 * memory benchmark's 2,000 designs rose from 259-272 MB to 279-297 MB, under its 300 MB target.
 */
export const HEAP_GROWING_PERCENT = 300;

/**
 * Sets V8's heap growing factor for this process to `percent` (default HEAP_GROWING_PERCENT),
 * unless the process was started with its own `--heap-growing-percent` (`node
 * --heap-growing-percent=0 bin/customify.js serve` restores V8's default): the operator's flag
 * wins. Call it at start: the factor applies from the next full collection on, to every
 * thread's heap.
 */
export function tuneHeapGrowth(percent = HEAP_GROWING_PERCENT, execArgv: readonly string[] = process.execArgv): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`The heap growing percent must be a whole number from 0, got ${percent}`);
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
