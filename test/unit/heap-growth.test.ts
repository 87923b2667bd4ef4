import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tuneHeapGrowth } from '../../src/rendering/heap-growth.js';
import { PROJECT_ROOT } from '../helpers/isolated-cwd.js';

/**
 * The old generation's limit over its size after the first full collection (gc()) of a process
 * that keeps 100,000 objects alive, as V8 reports it with --trace-gc-verbose ("[HeapController]
 * Limit: old size: X KB, new limit: Y KB"). `tune` is what the process passes to tuneHeapGrowth
 * first (src/bin.ts passes nothing: 300 %), or false to leave it out. Read off V8, not timed: at
 * a process's first full collection V8 has no speed to go by and takes its largest factor (4),
 * so the same flags give the same limits.
 */
async function firstLimitRatio(tune: number | 'default' | false, nodeFlags: string[] = []): Promise<number> {
  const call = tune === false ? '' : `tuneHeapGrowth(${tune === 'default' ? '' : tune});`;
  const script = `
    const { tuneHeapGrowth } = await import('./src/rendering/heap-growth.ts');
    ${call}
    const keep = Array.from({ length: 100_000 }, (_, i) => ({ i }));
    gc();
    if (keep.length !== 100_000) process.exit(1);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--trace-gc-verbose', '--expose-gc', ...nodeFlags, '--import', 'tsx', '--input-type=module', '-e', script], {
    timeout: 60_000, cwd: PROJECT_ROOT, maxBuffer: 16 << 20,
  });
  // The collection gc() asked for ("testing") and the limit its isolate set with it: the nearest
  // such line, printed before it (Node 20, 22) or after its heap dump (24). tsx's loader thread
  // is an isolate of its own, with collections of its own.
  const lines = stdout.split('\n');
  const asked = lines.findIndex((line) => /Mark-Compact.*testing/.test(line));
  const isolate = lines[asked]?.match(/^\[\d+:0x[0-9a-f]+/)?.[0];
  const limits = lines.flatMap((line, i) => (isolate && line.startsWith(isolate) && line.includes('[HeapController] Limit:') ? [{ line, distance: Math.abs(i - asked) }] : []));
  const limit = limits.sort((a, b) => a.distance - b.distance)[0]?.line;
  const sizes = limit && limit.match(/old size: (\d+) KB, new limit: (\d+) KB/);
  if (!sizes) throw new Error(`V8 printed no old-generation limit for the requested collection:\n${stdout.slice(-3000)}`);
  return Number(sizes[2]) / Number(sizes[1]);
}

describe('tuneHeapGrowth: the heap growing factor, set at run time', () => {
  it('sets the factor as the command-line flag does, and leaves an operator\'s own flag alone', async () => {
    const [untuned, tuned, flagged, operator] = await Promise.all([
      firstLimitRatio(false),
      firstLimitRatio(50),
      firstLimitRatio(false, ['--heap-growing-percent=50']),
      // The service's call, in a process started with the operator's flag.
      firstLimitRatio('default', ['--heap-growing-percent=50']),
    ]);
    const ratios = `limit / size: V8's own ${untuned.toFixed(2)}, tuneHeapGrowth(50) ${tuned.toFixed(2)}, node --heap-growing-percent=50 ${flagged.toFixed(2)}, that and tuneHeapGrowth() ${operator.toFixed(2)}`;
    // Set after start (v8.setFlagsFromString), the factor takes, as the command-line flag's does.
    expect(tuned, ratios).toBeLessThan(untuned * 0.8);
    expect(Math.abs(tuned - flagged) / flagged, ratios).toBeLessThan(0.02);
    // The operator's flag stays: tuneHeapGrowth() does not override it with its 300 %.
    expect(Math.abs(operator - flagged) / flagged, ratios).toBeLessThan(0.02);
  });

  it('refuses a percent that is not a whole number from 0', () => {
    expect(() => tuneHeapGrowth(-1, [])).toThrow(RangeError);
    expect(() => tuneHeapGrowth(1.5, [])).toThrow(RangeError);
  });
});
