/**
 * Render benchmark (issue: render pipeline): designs rendered, thumbnailed (and stored) per
 * second, ours (sharp) against the seed's own stack (Pillow, bench/pillow_flow.py), side by side
 * in the same run, alternating so machine noise hits both. One core: both pinned to CPU 0 with
 * taskset. All cores: one process per core for both. Figures are medians of RUNS runs.
 * Both draw text as large as fits (issue 9.8); --fixed makes both draw the seed's 48 px type.
 *   npx tsx bench/render.bench.ts [--runs 10] [--n 200] [--fixed]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { fixed, median, table } from './lib/stats.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';

interface FlowResult { n: number; seconds: number; preview_bytes: number; thumbnail_bytes: number }

type Store = 'none' | 'fsync' | 'no-fsync';

async function flow(kind: 'pillow' | 'sharp', n: number, store: Store, cpu: string | undefined, fixedSize: boolean): Promise<FlowResult> {
  const out = store !== 'none' ? mkdtempSync(path.join(tmpdir(), `bench-${kind}-`)) : undefined;
  const size = fixedSize ? ['--fixed'] : [];
  const cmd = kind === 'pillow'
    ? [PYTHON, path.join(here, 'pillow_flow.py'), '--n', String(n), ...size, ...(out ? ['--store', out] : [])]
    : [process.execPath, '--import', 'tsx', path.join(here, 'render-flow.ts'), '--n', String(n), ...size, ...(out ? ['--store', out, '--fsync', String(store === 'fsync')] : [])];
  const argv = cpu === undefined ? cmd : ['taskset', '-c', cpu, ...cmd];
  try {
    const { stdout } = await run(argv[0]!, argv.slice(1), { maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as FlowResult;
  } finally {
    if (out) rmSync(out, { recursive: true, force: true });
  }
}

/** Designs per second for `procs` processes running at once (each pinned to its own core when procs > 1). */
async function throughput(kind: 'pillow' | 'sharp', n: number, store: Store, procs: number, fixedSize: boolean): Promise<{ perSecond: number; previewBytes: number }> {
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: procs }, (_, i) => flow(kind, n, store, procs === 1 ? '0' : String(i), fixedSize)));
  const wall = (performance.now() - started) / 1000;
  // One process: its own timed loop (no interpreter start-up). Several: designs over the slowest loop.
  const perSecond = procs === 1 ? n / results[0]!.seconds : (n * procs) / Math.max(...results.map((r) => r.seconds), 0) || (n * procs) / wall;
  return { perSecond, previewBytes: results[0]!.preview_bytes };
}

export async function runRenderBench(options: { runs?: number; n?: number; fixed?: boolean } = {}): Promise<string> {
  const runs = options.runs ?? 10;
  const n = options.n ?? 200;
  const fixedSize = options.fixed ?? false;
  const cores = availableParallelism();
  const rows: Array<Array<string | number>> = [];
  for (const store of ['none', 'fsync', 'no-fsync'] as const) {
    for (const procs of [1, cores]) {
      const pillow: number[] = [];
      const sharp: number[] = [];
      let pillowBytes = 0;
      let sharpBytes = 0;
      for (let r = 0; r < runs; r++) {
        const p = await throughput('pillow', n, store, procs, fixedSize);
        const s = await throughput('sharp', n, store, procs, fixedSize);
        pillow.push(p.perSecond);
        sharp.push(s.perSecond);
        pillowBytes = p.previewBytes;
        sharpBytes = s.previewBytes;
      }
      const flowName = { none: 'render + thumbnail', fsync: 'render + thumbnail + store (atomic, fsync; default)', 'no-fsync': 'render + thumbnail + store (atomic, LOCAL_STORAGE_FSYNC=false)' }[store];
      rows.push([
        flowName,
        procs === 1 ? '1 core' : `${procs} cores`,
        fixed(median(pillow), 0),
        fixed(1000 / median(pillow)),
        fixed(median(sharp), 0),
        fixed(1000 / median(sharp)),
        `${fixed(median(sharp) / median(pillow))}x`,
        `${fixed(sharpBytes / pillowBytes)}x`,
      ]);
    }
  }
  return [
    `Render benchmark: ${runs} runs of ${n} designs each, medians; Pillow = the seed's flow (bench/pillow_flow.py, DejaVu Sans Bold), sharp = ours (bench/render-flow.ts); ${fixedSize ? 'both at the seed\'s fixed 48 px type (--fixed)' : 'both draw text as large as fits (up to 200 px)'}.`,
    table(['flow', 'cores', 'Pillow designs/s', 'Pillow ms/design', 'ours designs/s', 'ours ms/design', 'speed vs Pillow', 'PNG size vs Pillow'], rows),
    'Pillow stores with plain open().write() (the seed\'s local storage): no temp file, no rename, no fsync.',
    'Targets: render + thumbnail >= 2.3x Pillow per core; with storing >= 1.6x; PNG no larger than 1.5x Pillow\'s.',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, n: { type: 'string', default: '200' }, fixed: { type: 'boolean', default: false } } });
  console.log(await runRenderBench({ runs: Number(values.runs), n: Number(values.n), fixed: values.fixed }));
}
