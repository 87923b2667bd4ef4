/**
 * Runs the benchmarks in sequence, prints each report, and writes bench/results/latest.md
 * (gitignored) with the machine, date, Node version, command and load.
 *   npm run bench                          everything, full size (about 20 minutes)
 *   npm run bench -- --quick               a short smoke run of everything
 *   npm run bench -- --only e2e,reads      a subset: render, storage, e2e, reads, memory, upload, tus, print, renditions, previews, sse
 *   npm run bench -- --profile             also CPU-profile the service (e2e, reads) and show where it goes
 *   npm run bench -- --wait-quiet 1.5      before each benchmark, wait (up to 10 min) for the 1-min load average to drop below 1.5
 *   BENCH_NODE_FLAGS='--heap-growing-percent=0' npm run bench -- --only sse
 *                                          node options for the service processes (an A/B of V8's settings)
 * Never part of `npm test`: figures are ratios against baselines measured in the same run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runApiReadsBench } from './api-reads.bench.js';
import { runE2eBench } from './e2e.bench.js';
import { runAllCleanups } from './lib/cleanup.js';
import { describeMachine, loadAverages, waitForQuiet } from './lib/machine.js';
import { targetsTable, type BenchReport, type TargetCheck } from './lib/report.js';
import { buildService } from './lib/service-processes.js';
import { runMemoryBench } from './memory.bench.js';
import { runPrintBench } from './print.bench.js';
import { runPreviewsBench } from './previews.bench.js';
import { runRenderBench } from './render.bench.js';
import { runRenditionsBench } from './renditions.bench.js';
import { runSseBench } from './sse.bench.js';
import { run as runStorageBench } from './storage.bench.js';
import { runUploadBench } from './upload.bench.js';
import { runTusBench } from './tus.bench.js';

// The SDK's "Node 22 from 2027" notice, once per process, says nothing about these figures.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const here = path.dirname(fileURLToPath(import.meta.url));

type Name = 'render' | 'storage' | 'e2e' | 'reads' | 'memory' | 'upload' | 'tus' | 'print' | 'renditions' | 'previews' | 'sse';
const ALL: Name[] = ['render', 'storage', 'e2e', 'reads', 'memory', 'upload', 'tus', 'print', 'renditions', 'previews', 'sse'];

interface Flags { profile: boolean }

const BENCHES: Record<Name, { title: string; full: (f: Flags) => Promise<BenchReport>; quick: (f: Flags) => Promise<BenchReport> }> = {
  render: {
    title: 'render (sharp vs the seed\'s Pillow flow)',
    full: async () => ({ markdown: await runRenderBench(), targets: [] }),
    quick: async () => ({ markdown: await runRenderBench({ runs: 1, n: 30 }), targets: [] }),
  },
  storage: {
    title: 'storage (local and S3 writes)',
    full: async () => ({ markdown: await runStorageBench(), targets: [] }),
    quick: async () => ({ markdown: await runStorageBench({ runs: 3, warmup: 1 }), targets: [] }),
  },
  e2e: {
    title: 'end to end (HTTP → queue → render → store → PUBLISHED)',
    full: (f) => runE2eBench({ profile: f.profile }),
    quick: (f) => runE2eBench({ designs: 200, repeats: 1, warmup: 50, singleRuns: 5, baselinePerProcess: 60, profile: f.profile }),
  },
  reads: {
    title: 'API reads (autocannon)',
    full: (f) => runApiReadsBench({ profile: f.profile }),
    quick: (f) => runApiReadsBench({ durationSeconds: 2, rounds: 1, warmupSeconds: 1, profile: f.profile }),
  },
  print: {
    title: 'print files (print.png vs Pillow at 3600x4800, print.pdf)',
    full: () => runPrintBench(),
    quick: () => runPrintBench({ runs: 1, n: 2 }),
  },
  renditions: {
    title: 'web renditions (WebP and AVIF quality x effort on our previews; the default set vs Pillow)',
    // Full: every quality and effort at 600 px, 3 repeats (5-10 minutes, most of it AVIF's higher efforts).
    full: () => runRenditionsBench({ repeats: 3, designs: 40, runs: 3 }),
    quick: () => runRenditionsBench({ repeats: 1, designs: 8, runs: 1, full: false }),
  },
  memory: {
    title: 'memory (server under load, 1 GiB streaming upload)',
    full: () => runMemoryBench(),
    quick: () => runMemoryBench({ designs: 200, bytes: 128 * 1024 ** 2, uploadRepeats: 1 }),
  },
  upload: {
    title: 'upload pipeline (10 MB JPEG: sniff + clamd scan + re-encode + store, vs clamdscan + Pillow)',
    full: () => runUploadBench(),
    quick: () => runUploadBench({ runs: 1, repeats: 2 }),
  },
  previews: {
    title: 'instant previews (POST /api/v1/previews, PNG and WebP, vs Pillow on one process per core)',
    full: () => runPreviewsBench(),
    quick: () => runPreviewsBench({ runs: 1, sequential: 40, requests: 80, warmup: 10 }),
  },
  sse: {
    title: 'idle event streams (1,000 SSE connections held by one API process)',
    full: () => runSseBench(),
    quick: () => runSseBench({ connections: 200, designs: 5 }),
  },
  tus: {
    title: 'resumable uploads (200 MB tus upload into S3 mode vs lib-storage)',
    full: () => runTusBench(),
    quick: () => runTusBench({ mb: 50, repeats: 1 }),
  },
};

function parseOnly(value: string | undefined): Name[] {
  if (!value) return ALL;
  const names = value.split(',').map((n) => n.trim()).filter(Boolean);
  const unknown = names.filter((n) => !ALL.includes(n as Name));
  if (unknown.length > 0) throw new Error(`--only: unknown benchmark(s) ${unknown.join(', ')}; choose from ${ALL.join(', ')}`);
  return ALL.filter((n) => names.includes(n));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, quick: { type: 'boolean', default: false }, profile: { type: 'boolean', default: false }, 'wait-quiet': { type: 'string' } },
    strict: true,
  });
  const quietBelow = values['wait-quiet'] === undefined ? undefined : Number(values['wait-quiet']);
  if (quietBelow !== undefined && !(quietBelow > 0)) throw new Error('--wait-quiet takes a load average, e.g. 1.5');
  const selected = parseOnly(values.only);
  const quick = values.quick ?? false;
  const machine = describeMachine();
  const args = process.argv.slice(2).join(' ');
  const command = process.env.npm_lifecycle_event === 'bench' ? `npm run bench${args ? ` -- ${args}` : ''}` : `tsx bench/run.ts${args ? ` ${args}` : ''}`;
  const started = new Date();
  const header = [
    `# Benchmark results${quick ? ' (--quick smoke run: small sizes, not for quoting)' : ''}`,
    '',
    `- date: ${started.toISOString()}`,
    `- command: \`${command}\``,
    `- machine: ${machine.cores} cores (nproc), ${machine.cpu}, ${machine.memory} RAM, ${machine.kernel}`,
    `- node: ${machine.node}`,
    `- load average (1/5/15 min) at start: ${loadAverages()}`,
    '',
  ];
  const sections: string[] = [];
  const targets: TargetCheck[] = [];
  const failures: string[] = [];
  const outFile = path.join(here, 'results', 'latest.md');
  const write = (finished: boolean) => {
    const summary = targets.length > 0 ? ['## Targets', '', targetsTable(targets), ''] : [];
    const failed = failures.length > 0 ? ['## Failed', '', ...failures.map((f) => `- ${f}`), ''] : [];
    const status = finished ? [`Finished ${new Date().toISOString()} (${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min).`] : ['(running…)'];
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, [...header, ...summary, ...failed, ...sections, ...status, ''].join('\n'));
  };

  console.log(header.join('\n'));
  if (selected.some((n) => n === 'e2e' || n === 'reads' || n === 'memory' || n === 'previews' || n === 'sse')) {
    const build = await buildService();
    if (build.warning) console.warn(build.warning);
  }
  for (const name of selected) {
    const bench = BENCHES[name];
    const load = quietBelow === undefined ? loadAverages() : await waitForQuiet(quietBelow, 10, (line) => console.log(line));
    const t0 = performance.now();
    console.log(`\n>>> ${bench.title} (load average ${load})`);
    try {
      const flags = { profile: values.profile ?? false };
      const report = await (quick ? bench.quick(flags) : bench.full(flags));
      const minutes = (performance.now() - t0) / 60_000;
      const section = [`<!-- ${name}: load average at start ${load}, took ${minutes.toFixed(1)} min -->`, report.markdown, ''].join('\n');
      console.log(report.markdown);
      sections.push(section);
      targets.push(...report.targets);
    } catch (error) {
      const message = `${name}: ${(error as Error).stack ?? String(error)}`;
      console.error(`\n${name} failed: ${message}`);
      failures.push(message.split('\n').slice(0, 6).join(' ⏎ '));
    }
    write(false);
  }
  if (targets.length > 0) console.log(`\n## Targets\n\n${targetsTable(targets)}`);
  write(true);
  console.log(`\nWrote ${path.relative(process.cwd(), outFile)}`);
  return failures.length > 0 ? 1 : 0;
}

try {
  process.exitCode = await main();
} finally {
  await runAllCleanups();
}
