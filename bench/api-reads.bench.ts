/**
 * API reads: GET /api/v1/designs/{id} of a PUBLISHED design under 50 concurrent keep-alive
 * connections (autocannon, in this process), against `customify serve` in embedded mode in
 * its own process. Baselines in the same run, rotated through the same rounds: /healthz on
 * the same server (Fastify's floor: our per-request overhead is the gap) and a bare node:http
 * server answering a fixed body (Node's floor). Ratios are per round (targets measured
 * back to back), then the median over rounds: on this noisy machine one server process can
 * differ from an identical one by 30%, so absolute req/s move more than the ratios.
 *   npx tsx bench/api-reads.bench.ts [--duration 10] [--rounds 3] [--connections 50] [--profile]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { deferCleanup, runAllCleanups } from './lib/cleanup.js';
import { profileTables, summarizeProfile } from './lib/cpu-profile.js';
import { ApiClient, benchToken, designBody } from './lib/design-load.js';
import { cpuWindow, loadAverages } from './lib/machine.js';
import { isEntryPoint, type BenchReport } from './lib/report.js';
import { spawnProcess, waitForHttp, type ServiceProcess } from './lib/service-processes.js';
import { freePort, startEmbeddedStack, type Stack } from './lib/stacks.js';
import { fixed, median, table } from './lib/stats.js';

export interface ReadsOptions {
  /** Seconds per measurement (default 10). */
  durationSeconds?: number;
  /** Measurements per target, rotated so noise hits every target alike (default 2). */
  rounds?: number;
  connections?: number;
  /** Seconds of load on each target before the first round, discarded (default 3). */
  warmupSeconds?: number;
  /** Afterwards, profile a fresh server (node --cpu-prof) under the same design GET load and report where its main thread went. */
  profile?: boolean;
}

const TARGET_RPS = 5000;

// A bare node:http server: no routing, no validation, no auth, no logging.
const HELLO_SERVER = `require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  res.end('{"status":"ok"}');
}).listen(Number(process.env.PORT), '127.0.0.1');`;

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  expectBody: string;
  /** The process that serves it, for its CPU use. */
  pid: number;
}

interface Sample { rps: number; p50: number; p99: number; errors: number; non2xx: number; mismatches: number; serverCpuPct: number; clientCpuPct: number }

async function measure(target: Target, connections: number, duration: number): Promise<Sample> {
  const window = cpuWindow({ server: target.pid });
  const result: Result = await autocannon({ url: target.url, connections, duration, headers: target.headers, expectBody: target.expectBody });
  const cpu = window.end();
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
    serverCpuPct: (100 * cpu.perProcess.server!) / cpu.wallSeconds,
    clientCpuPct: (100 * cpu.self) / cpu.wallSeconds,
  };
}

async function bodyOf(url: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
  return res.text();
}

export async function runApiReadsBench(options: ReadsOptions = {}): Promise<BenchReport> {
  const duration = options.durationSeconds ?? 10;
  const rounds = options.rounds ?? 3;
  const connections = options.connections ?? 50;
  const warmup = options.warmupSeconds ?? 3;
  const stacks: Stack[] = [];
  let hello: ServiceProcess | undefined;
  try {
    const loud = await startEmbeddedStack();
    stacks.push(loud);
    const token = await benchToken();
    const auth = { authorization: `Bearer ${token}` };
    const published = async (stack: Stack) => {
      const api = new ApiClient(stack.url, token, 2);
      try {
        const created = await api.createDesign(designBody(0));
        return await api.waitForPublished(created.id, 5, 30_000);
      } finally {
        api.close();
      }
    };
    const design = await published(loud);

    const helloPort = await freePort();
    hello = spawnProcess('node:http hello', ['-e', HELLO_SERVER], { PORT: String(helloPort) }, path.join(path.dirname(loud.processes[0]!.logFile), 'hello.log'));
    await waitForHttp(hello, `http://127.0.0.1:${helloPort}/`);

    const server = loud.processes[0]!;
    const designUrl = `${loud.url}/api/v1/designs/${design.id}`;
    const targets: Target[] = [
      { name: 'GET /api/v1/designs/{id} (PUBLISHED; JWT, SQLite, LOG_LEVEL=info default)', url: designUrl, headers: auth, expectBody: await bodyOf(designUrl, auth), pid: server.pid },
      { name: 'GET /healthz, same server (baseline: Fastify + our hooks)', url: `${loud.url}/healthz`, headers: {}, expectBody: await bodyOf(`${loud.url}/healthz`, {}), pid: server.pid },
      { name: 'bare node:http server, fixed body (baseline: Node)', url: `http://127.0.0.1:${helloPort}/`, headers: {}, expectBody: await bodyOf(`http://127.0.0.1:${helloPort}/`, {}), pid: hello.pid },
    ];

    const loadAvg = loadAverages();
    for (const target of targets) await measure(target, connections, warmup);
    const samples = targets.map(() => [] as Sample[]);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        const t = (i + round) % targets.length;
        samples[t]!.push(await measure(targets[t]!, connections, duration));
      }
    }

    const med = (t: number, pick: (s: Sample) => number) => median(samples[t]!.map(pick));
    /** Median over rounds of target t's req/s over target u's in the same round. */
    const ratio = (t: number, u: number) => median(samples[t]!.map((s, r) => s.rps / samples[u]![r]!.rps));
    const rows = targets.map((target, t) => {
      const all = samples[t]!;
      const bad = all.reduce((sum, s) => sum + s.errors + s.non2xx + s.mismatches, 0);
      return [
        target.name, `**${fixed(med(t, (s) => s.rps), 0)}** (${all.map((s) => fixed(s.rps, 0)).join(', ')})`, fixed(med(t, (s) => s.p50), 0), fixed(med(t, (s) => s.p99), 0),
        `${fixed(ratio(t, 1))}x`, `${fixed(ratio(t, 2))}x`,
        `${fixed(med(t, (s) => s.serverCpuPct), 0)}%`, `${fixed(med(t, (s) => s.clientCpuPct), 0)}%`,
        String(bad),
      ];
    });
    const designRps = med(0, (s) => s.rps);
    const profile = options.profile ? await profileDesignReads(connections, duration, token) : undefined;
    await hello.stop();
    for (const stack of stacks) await stack.stop();
    const issues = stacks.flatMap((stack) => stack.logIssues());
    const markdown = [
      `## API reads: ${connections} connections, ${duration} s x ${rounds} rounds per target (medians), autocannon in the bench process`,
      '',
      `Server: \`customify serve\` in embedded mode (compiled JS, default settings), its own process. Load average at start: ${loadAvg}.`,
      '',
      table(['target', 'req/s: median (rounds)', 'p50 ms', 'p99 ms', 'vs /healthz', 'vs bare node:http', 'server CPU (of one core)', 'autocannon CPU', 'errors + non-2xx + wrong body'], rows),
      '',
      `Target: GET /api/v1/designs/{id} >= ${TARGET_RPS} req/s on this ${availableParallelism()}-core machine. Latencies are autocannon's (whole milliseconds).`,
      'Each server process is single-threaded, so "server CPU" near 100% means the server is the bottleneck; autocannon needs the other core.',
      `Service logs: ${issues.length === 0 ? 'no warnings or errors.' : issues.join('; ')}`,
      ...(profile ? ['', `### Where the server's main thread goes on GET /api/v1/designs/{id} (node --cpu-prof, fresh server, ${duration} s of the same load; profiling slows it down)`, '', profile] : []),
    ].join('\n');
    return {
      markdown,
      targets: [{ benchmark: 'api reads', target: `GET /api/v1/designs/{id} >= ${TARGET_RPS} req/s (50 connections)`, measured: `${fixed(designRps, 0)} req/s`, met: designRps >= TARGET_RPS }],
    };
  } finally {
    await hello?.stop();
    for (const stack of stacks) await stack.stop();
  }
}

async function profileDesignReads(connections: number, duration: number, token: string): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'customify-bench-prof-'));
  const remove = deferCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  try {
    const stack = await startEmbeddedStack({ cpuProfileDir: dir });
    let rps: number;
    try {
      const api = new ApiClient(stack.url, token, 2);
      let id: string;
      try {
        id = (await api.waitForPublished((await api.createDesign(designBody(0))).id, 5, 30_000)).id;
      } finally {
        api.close();
      }
      const result = await autocannon({ url: `${stack.url}/api/v1/designs/${id}`, connections, duration, headers: { authorization: `Bearer ${token}` } });
      rps = result.requests.total / result.duration;
    } finally {
      await stack.stop();
    }
    const file = path.join(dir, 'server.cpuprofile');
    if (!existsSync(file)) return 'No profile written (the server did not exit on its own).';
    return `${fixed(rps, 0)} req/s while profiled (whole life of the process, start-up included).\n\n${profileTables('embedded server', summarizeProfile(file), 15)}`;
  } finally {
    await remove();
  }
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' }, warmup: { type: 'string' }, profile: { type: 'boolean' } } });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  try {
    const report = await runApiReadsBench({ durationSeconds: num(values.duration), rounds: num(values.rounds), connections: num(values.connections), warmupSeconds: num(values.warmup), profile: values.profile });
    console.log(report.markdown);
  } finally {
    await runAllCleanups();
  }
}
