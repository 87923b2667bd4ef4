/**
 * End-to-end benchmark: designs created over HTTP by many concurrent clients and polled
 * until PUBLISHED, against the service running as real processes, in both modes:
 *   embedded    one `customify serve`: SQLite file, local storage, in-process worker
 *   production  `customify serve` + one `customify worker`: PostgreSQL, Redis/BullMQ, S3 on Ceph
 * Reports sustained designs/s (first POST to last PUBLISHED seen), creation-to-PUBLISHED
 * latency, single-design latency on an idle service, each process's peak RSS (VmHWM), and
 * where the CPU went. The sustained run is repeated per way of polling: polling is load too.
 * Baseline, in the same run and interleaved with the sustained runs (one sample before the
 * first and after each): the seed's own stack without HTTP, database or queue
 * (bench/pillow_flow.py --store, one process per core). Each run's ratio is against the mean
 * of the samples just before and just after it, so slow drifts in machine load cancel out.
 *   npx tsx bench/e2e.bench.ts [--designs 1000] [--repeats 3] [--clients 50] [--polling each:50,batch:50,sse] [--single 30] [--warmup 2000]
 *                              [--modes embedded,production] [--profile] [--env RENDER_CONCURRENCY=8 ...]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { deferCleanup, runAllCleanups } from './lib/cleanup.js';
import { profileTables, summarizeProfile } from './lib/cpu-profile.js';
import { ApiClient, benchToken, describePolling, runDesignLoad, singleDesignLatency, type LoadResult, type Polling } from './lib/design-load.js';
import { cpuWindow, handOffCosts, loadAverages, type CpuWindow } from './lib/machine.js';
import { pillowStoreThroughput } from './lib/pillow-baseline.js';
import { isEntryPoint, type BenchReport, type TargetCheck } from './lib/report.js';
import { buildService } from './lib/service-processes.js';
import { startStack, type Mode } from './lib/stacks.js';
import { fixed, median, percentile, table } from './lib/stats.js';

export interface E2eOptions {
  /** Designs per sustained run (default 1,000). */
  designs?: number;
  /** Sustained runs per way of polling, interleaved; the median run is reported (default 3). */
  repeats?: number;
  /** Concurrent clients (default 50). */
  clients?: number;
  /**
   * One sustained run per way of polling (default: each client polls its own design every
   * 50 ms; then one batch poller lists the newest designs every 50 ms). The target is
   * checked on every one; the difference between them is what polling costs the service.
   */
  polling?: Polling[];
  /**
   * Designs pushed through before measuring, to warm up JIT, fonts, pools (default 2,000): V8
   * optimises the per-design code over the first 1,250-1,750 designs, which run at 45-75 % of
   * the speed after (BENCHMARKS.md, "Warm-up"); 100, the earlier default, measured that in the
   * first sustained run.
   */
  warmup?: number;
  /** Idle single-design runs (default 30), polled every `singlePollMs` (default 2 ms). */
  singleRuns?: number;
  singlePollMs?: number;
  /** Designs per Pillow process per baseline sample (default 300). */
  baselinePerProcess?: number;
  modes?: Mode[];
  /** Run the service processes under `node --cpu-prof` and report where their main threads went (adds overhead). */
  profile?: boolean;
  /** Extra environment for the service processes (e.g. RENDER_CONCURRENCY); default: none, the shipped defaults. */
  env?: Record<string, string>;
}

type CpuUse = ReturnType<CpuWindow['end']>;

interface SustainedRun {
  load: LoadResult;
  cpu: CpuUse;
  loadAvg: string;
  /** The seed baseline's designs/s measured just before and just after this run. */
  seed: [number, number];
}

const ratioOf = (run: SustainedRun) => run.load.designsPerSecond / ((run.seed[0] + run.seed[1]) / 2);

interface ModeResult {
  mode: Mode;
  description: string;
  /** Per way of polling (in the order of `polling`), every repeat. */
  runs: SustainedRun[][];
  single: { observedMs: number[]; serverMs: number[] };
  memory: Array<{ name: string; peakRssMb: number; rssMb: number }>;
  profiles: string[];
  /** Warnings and errors in the service processes' logs. */
  logIssues: string[];
}

const THROUGHPUT_TARGET = 1.2;
/** Issue #14: clients told by the event stream, not by polling, at least 1.5x the seed in embedded mode. */
const SSE_THROUGHPUT_TARGET = 1.5;
const targetFor = (mode: Mode, polling: Polling) => (polling.kind === 'sse' && mode === 'embedded' ? SSE_THROUGHPUT_TARGET : THROUGHPUT_TARGET);
const SINGLE_P50_TARGET_MS = 50;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runMode(mode: Mode, o: Required<E2eOptions>, sampleSeed: () => Promise<number>): Promise<ModeResult> {
  const profileDir = o.profile ? mkdtempSync(path.join(tmpdir(), 'customify-bench-prof-')) : undefined;
  const removeProfiles = deferCleanup('remove CPU profiles', () => {
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });
  try {
    const stack = await startStack(mode, { cpuProfileDir: profileDir, env: o.env });
    const api = new ApiClient(stack.url, await benchToken(), o.clients + 8);
    let result: Omit<ModeResult, 'profiles' | 'logIssues'>;
    try {
      // Warm-up: proves the whole pipeline works and warms JIT, fonts, connection pools, until V8 has optimised the per-design code.
      await runDesignLoad(api, { designs: o.warmup, clients: Math.min(o.clients, o.warmup), polling: o.polling[0]!, offset: 1_000_000 });
      await sleep(500);
      const single = await singleDesignLatency(api, { runs: o.singleRuns, pollMs: o.singlePollMs, offset: 2_000_000 });
      const runs: SustainedRun[][] = o.polling.map(() => []);
      // The service sits idle while the baseline runs.
      let seedBefore = await sampleSeed();
      // Interleaved (each, batch, each, batch, ...) so that noise on the machine hits every way alike.
      for (let repeat = 0; repeat < o.repeats; repeat++) {
        for (const [i, polling] of o.polling.entries()) {
          await sleep(500);
          const loadAvg = loadAverages();
          const window = cpuWindow(Object.fromEntries(stack.processes.map((p) => [p.name, p.pid])));
          const load = await runDesignLoad(api, { designs: o.designs, clients: o.clients, polling, offset: (repeat * o.polling.length + i + 1) * 10_000_000 });
          const cpu = window.end();
          const seedAfter = await sampleSeed();
          runs[i]!.push({ load, cpu, loadAvg, seed: [seedBefore, seedAfter] });
          seedBefore = seedAfter;
        }
      }
      const memory = stack.processes.map((p) => ({ name: p.name, ...p.memory() }));
      // A design's preview really is where the service says it is.
      const check = await api.createDesign({ product_type: 't-shirt', design_data: { text: 'check', font: 'Bebas-Bold', color: '#FF0000' } });
      await stack.checkPreview(await api.waitForPublished(check.id, 5, 30_000));
      result = { mode, description: stack.description, runs, single, memory };
    } finally {
      api.close();
      await stack.stop();
    }
    const profiles = profileDir
      ? stack.processes.map((p) => {
        const file = path.join(profileDir, `${p.name}.cpuprofile`);
        return existsSync(file) ? profileTables(`${mode} ${p.name}`, summarizeProfile(file)) : `**${mode} ${p.name}**: no profile written (the process did not exit on its own).`;
      })
      : [];
    return { ...result, profiles, logIssues: stack.logIssues() };
  } finally {
    await removeProfiles();
  }
}

const ms = (values: number[], p: number) => fixed(percentile(values, p), 0);
const triple = (values: number[]) => `${ms(values, 50)} / ${ms(values, 95)} / ${ms(values, 99)}`;

export async function runE2eBench(options: E2eOptions = {}): Promise<BenchReport> {
  const o: Required<E2eOptions> = {
    designs: options.designs ?? 1000,
    repeats: options.repeats ?? 3,
    clients: options.clients ?? 50,
    polling: options.polling?.length ? options.polling : [{ kind: 'each', everyMs: 50 }, { kind: 'batch', everyMs: 50 }, { kind: 'sse', everyMs: 0 }],
    warmup: options.warmup ?? 2000,
    singleRuns: options.singleRuns ?? 30,
    singlePollMs: options.singlePollMs ?? 2,
    baselinePerProcess: options.baselinePerProcess ?? 300,
    modes: options.modes ?? ['embedded', 'production'],
    profile: options.profile ?? false,
    env: options.env ?? {},
  };
  const build = await buildService();
  const cores = availableParallelism();
  // Before anything runs: the service's ratio to Pillow moves with these (see handOffCosts).
  const handOff = await handOffCosts();
  const baseline: number[] = [];
  const sampleSeed = async () => {
    const sample = await pillowStoreThroughput(o.baselinePerProcess, cores);
    baseline.push(sample);
    return sample;
  };
  const results: ModeResult[] = [];
  for (const mode of o.modes) results.push(await runMode(mode, o, sampleSeed));
  const seed = median(baseline);

  const targets: TargetCheck[] = [];
  const sustainedRows: string[][] = [];
  const cpuRows: string[][] = [];
  for (const r of results) {
    r.runs.forEach((repeats) => {
      // The median run by ratio to the seed: its figures are shown; the lists are of every run, in order.
      const sorted = [...repeats].sort((a, b) => ratioOf(a) - ratioOf(b));
      const run = sorted[Math.floor((sorted.length - 1) / 2)]!;
      const all = (f: (x: SustainedRun) => string) => (repeats.length > 1 ? ` (${repeats.map(f).join(', ')})` : '');
      const { load, cpu } = run;
      const ratio = ratioOf(run);
      const target = targetFor(r.mode, load.polling);
      targets.push({
        benchmark: `e2e ${r.mode}`,
        target: `sustained designs/s >= ${target}x seed's Pillow flow (${cores} procs); ${o.clients} clients, ${describePolling(load.polling)}`,
        measured: `${fixed(ratio)}x (${fixed(load.designsPerSecond, 0)}/s vs ${fixed((run.seed[0] + run.seed[1]) / 2, 0)}/s)`,
        met: ratio >= target,
      });
      sustainedRows.push([
        r.mode, describePolling(load.polling), `${repeats.length} x ${load.designs}`,
        `**${fixed(load.designsPerSecond, 0)}**${all((x) => fixed(x.load.designsPerSecond, 0))}`,
        `**${fixed(ratio)}x**${all((x) => fixed(ratioOf(x)))}`,
        triple(load.observedMs), triple(load.serverMs), fixed(load.polls / load.wallSeconds, 0), fixed(load.polls / load.designs, 1),
      ]);
      const total = cpu.wallSeconds * cores;
      const service = Object.values(cpu.perProcess).reduce((a, b) => a + b, 0);
      cpuRows.push([
        r.mode, describePolling(load.polling), fixed(cpu.wallSeconds, 1),
        Object.entries(cpu.perProcess).map(([name, s]) => `${name} ${fixed(s, 1)} s (${fixed((100 * s) / total, 0)}%)`).join(', '),
        fixed((1000 * service) / load.designs, 1),
        `${fixed(cpu.self, 1)} s (${fixed((100 * cpu.self) / total, 0)}%)`,
        `${fixed(cpu.services, 1)} s (${fixed((100 * cpu.services) / total, 0)}%)`,
        `${fixed(Math.max(0, (cpu.machineBusyPct / 100) * total - service - cpu.self - cpu.services), 1)} s (${fixed(Math.max(0, cpu.machineBusyPct - (100 * (service + cpu.self + cpu.services)) / total), 0)}%)`,
        `${fixed(cpu.machineBusyPct, 0)}%`,
        run.loadAvg,
      ]);
    });
  }
  const singleRows = results.map((r) => {
    const p50 = percentile(r.single.observedMs, 50);
    targets.push({ benchmark: `e2e ${r.mode}`, target: `idle single design, POST sent to PUBLISHED seen, p50 < ${SINGLE_P50_TARGET_MS} ms`, measured: `${fixed(p50, 1)} ms`, met: p50 < SINGLE_P50_TARGET_MS });
    return [
      r.mode, String(r.single.observedMs.length), `${o.singlePollMs} ms`,
      fixed(p50, 1), fixed(percentile(r.single.observedMs, 95), 1), fixed(Math.min(...r.single.observedMs), 1),
      fixed(percentile(r.single.serverMs, 50), 0), `${fixed(2500 / p50, 0)}x`,
    ];
  });
  const memoryRows = results.flatMap((r) => r.memory.map((m) => [r.mode, m.name, fixed(m.peakRssMb, 0), fixed(m.rssMb, 0)]));

  const markdown = [
    `## End to end: designs over HTTP until PUBLISHED (${o.clients} concurrent clients)`,
    '',
    ...results.map((r) => `- **${r.mode}**: ${r.description}`),
    `- seed baseline: bench/pillow_flow.py --store, ${cores} processes (one per core, pinned), no HTTP/DB/queue, ${o.baselinePerProcess} designs per process, sampled before the first sustained run of each mode and after every run: ${baseline.map((b) => fixed(b, 0)).join(', ')} designs/s (median ${fixed(seed, 0)})`,
    `- every process runs compiled JavaScript (tsc, tsconfig.build.json) with ${Object.keys(o.env).length ? `default settings except ${Object.entries(o.env).map(([k, v]) => `${k}=${v}`).join(', ')}` : `default settings (RENDER_CONCURRENCY=${4 * cores}, RENDER_THREADS=0, LOG_LEVEL=info)`}, logs to a file; ${o.warmup} warm-up designs first; the client is this process (node:http, keep-alive)`,
    `- this machine, idle: a system call (fstat through Node) ${fixed(handOff.syscallUs, 1)} µs, a thread woken and answering (futex each way) ${fixed(handOff.roundTripUs, 1)} µs round trip; the service crosses threads a few hundred times per design, Pillow's flow not at all, so the ratios fall where these are dear`,
    ...(build.warning ? [`- ${build.warning}`] : []),
    '',
    '### Sustained throughput and latency (closed loop: each client creates a design, polls it until PUBLISHED, creates the next)',
    '',
    table(['mode', 'polling', 'runs x designs', 'designs/s: median run (all runs)', 'vs seed: median run (all runs)', 'POST→PUBLISHED seen p50/p95/p99 ms', 'created_at→published_at p50/p95/p99 ms', 'poll requests/s', 'poll requests per design'], sustainedRows),
    '',
    `designs/s: N over first POST sent to last PUBLISHED seen; "vs seed": over the mean of the baseline samples just before and after that run. "seen" latencies include up to one poll interval; created_at→published_at are the service's own timestamps (ms). With ${o.clients} clients in a closed loop about ${o.clients} designs are always queued, so latency is mostly queueing (Little's law: ${o.clients} / throughput). Target: >= ${THROUGHPUT_TARGET}x the seed baseline; >= ${SSE_THROUGHPUT_TARGET}x in embedded mode for clients on the event stream (issue #14). For SSE clients "poll requests" counts the event streams opened (one per design).`,
    '',
    '### Idle service, one design at a time',
    '',
    table(['mode', 'runs', 'poll every', 'p50 ms', 'p95 ms', 'min ms', 'created_at→published_at p50 ms', "vs seed's \"wait 2-3 s\" (2.5 s / p50)"], singleRows),
    '',
    `Target: p50 < ${SINGLE_P50_TARGET_MS} ms from POST sent to PUBLISHED seen.`,
    '',
    '### Peak memory per process (whole life: start-up, warm-up, single runs, every sustained run)',
    '',
    table(['mode', 'process', 'peak RSS MB (VmHWM)', 'RSS at the end MB'], memoryRows),
    '',
    ...results.map((r) => `Service logs (${r.mode}): ${r.logIssues.length === 0 ? 'no warnings or errors.' : r.logIssues.join('; ')}`),
    '',
    '### Where the CPU went during the median sustained run',
    '',
    table(['mode', 'polling', 'wall s', 'service processes (share of all cores)', 'service CPU ms per design', 'bench client (this process)', 'PostgreSQL, Redis, Ceph processes', 'everything else (other users)', 'machine busy', 'load avg at start'], cpuRows),
    '',
    'Shares are of all cores over the run. PostgreSQL, Redis and Ceph are counted by process name, so other users\' use of them during the run is included; in embedded mode it is all someone else\'s.',
    ...(o.profile ? ['', '### CPU profiles of the service processes (node --cpu-prof, whole life; profiling slows them down)', '', ...results.flatMap((r) => r.profiles.flatMap((p) => [p, '']))] : []),
  ].join('\n');
  return { markdown, targets };
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      designs: { type: 'string' }, repeats: { type: 'string' }, clients: { type: 'string' }, polling: { type: 'string' }, single: { type: 'string' },
      warmup: { type: 'string' }, baseline: { type: 'string' }, modes: { type: 'string' }, profile: { type: 'boolean' },
      env: { type: 'string', multiple: true },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  try {
    const report = await runE2eBench({
      designs: num(values.designs), repeats: num(values.repeats), clients: num(values.clients), singleRuns: num(values.single),
      polling: values.polling?.split(',').map((p) => ({ kind: p.split(':')[0] as Polling['kind'], everyMs: Number(p.split(':')[1] ?? 50) })),
      warmup: num(values.warmup), baselinePerProcess: num(values.baseline), modes: values.modes?.split(',') as Mode[] | undefined,
      profile: values.profile,
      env: Object.fromEntries((values.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    });
    console.log(report.markdown);
  } finally {
    await runAllCleanups();
  }
}
