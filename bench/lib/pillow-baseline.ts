/**
 * The seed's own stack with no HTTP, database or queue: bench/pillow_flow.py --store (render,
 * thumbnail, write both files) in one process per core, all at once, each pinned to its
 * core. Designs per second = all designs over the slowest process's timed loop.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { deferCleanup } from './cleanup.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'pillow_flow.py');

interface FlowResult { n: number; seconds: number }

export async function pillowStoreThroughput(perProcess: number, processes = availableParallelism()): Promise<number> {
  const out = mkdtempSync(path.join(tmpdir(), 'customify-bench-pillow-'));
  const remove = deferCleanup(`remove ${out}`, () => rmSync(out, { recursive: true, force: true }));
  try {
    const results = await Promise.all(
      Array.from({ length: processes }, async (_, cpu) => {
        const { stdout } = await promisify(execFile)('taskset', ['-c', String(cpu), PYTHON, SCRIPT, '--n', String(perProcess), '--store', path.join(out, String(cpu))], { maxBuffer: 1 << 20 });
        return JSON.parse(stdout.trim().split('\n').pop()!) as FlowResult;
      }),
    );
    return (perProcess * processes) / Math.max(...results.map((r) => r.seconds));
  } finally {
    await remove();
  }
}
