/**
 * Idle event streams (issue #14): 1,000 Server-Sent Events connections to GET /api/v1/events,
 * one per user, held open by one embedded `customify serve` process. Measured: the process's
 * RSS before, while they are held (after a settle), and after they are dropped; the baseline
 * in the same run is the same number of idle keep-alive HTTP connections that asked for
 * /health/live (what holding a socket costs without a stream). While they are held, some of
 * the users create a design each and their streams must say PUBLISHED: the streams are alive.
 *   npx tsx bench/sse.bench.ts [--connections 1000] [--designs 20]
 */
import { Agent, request, type ClientRequest } from 'node:http';
import { parseArgs } from 'node:util';
import { runAllCleanups } from './lib/cleanup.js';
import { ApiClient, benchToken, designBody } from './lib/design-load.js';
import { loadAverages } from './lib/machine.js';
import { isEntryPoint, type BenchReport, type TargetCheck } from './lib/report.js';
import { startEmbeddedStack } from './lib/stacks.js';
import { fixed, table } from './lib/stats.js';

export interface SseOptions {
  /** Idle connections held at once (default 1,000). */
  connections?: number;
  /** Designs created while they are held, one per user, whose streams must say PUBLISHED (default 20). */
  designs?: number;
}

const RSS_GROWTH_TARGET_MB = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Held {
  req: ClientRequest;
  /** Everything the stream has sent so far. */
  text: string;
}

/** Opens `path` for each token and resolves once every response's headers have arrived (status 200). */
async function openAll(base: URL, path: string, tokens: readonly string[], agent: Agent | false): Promise<Held[]> {
  return Promise.all(tokens.map((token) => new Promise<Held>((resolve, reject) => {
    const held: Held = { req: undefined as unknown as ClientRequest, text: '' };
    held.req = request({ host: base.hostname, port: base.port, path, agent, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET ${path} answered ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { held.text += chunk; });
      res.on('error', () => {});
      resolve(held);
    });
    held.req.on('error', (error) => { if (held.text === '') reject(error); });
    held.req.end();
  })));
}

async function openConnectionsGauge(url: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => /^customify_sse_connections(_open)?\s/.test(l) || /^customify_event_streams(_open)?\s/.test(l));
  return line ? Number(line.split(/\s+/)[1]) : null;
}

export async function runSseBench(options: SseOptions = {}): Promise<BenchReport> {
  const connections = options.connections ?? 1000;
  const designs = Math.min(options.designs ?? 20, connections);
  const loadAvg = loadAverages();
  const stack = await startEmbeddedStack();
  const server = stack.processes[0]!;
  const base = new URL(stack.url);
  try {
    const tokens = await Promise.all(Array.from({ length: connections }, (_, i) => benchToken(`sse-user-${i}`)));
    await sleep(1000);
    const idle = server.memory();

    // Baseline: the same number of idle keep-alive sockets that asked for a small answer.
    const keepAlive = new Agent({ keepAlive: true, maxSockets: connections });
    await Promise.all(tokens.map((token) => new Promise<void>((resolve, reject) => {
      const req = request({ host: base.hostname, port: base.port, path: '/health/live', agent: keepAlive, headers: { authorization: `Bearer ${token}` } }, (res) => { res.resume(); res.on('end', resolve); });
      req.on('error', reject);
      req.end();
    })));
    await sleep(2000);
    const withSockets = server.memory();
    keepAlive.destroy();
    await sleep(2000);

    const before = server.memory();
    const streams = await openAll(base, '/api/v1/events', tokens, false);
    await sleep(2000);
    const held = server.memory();
    const gaugeHeld = await openConnectionsGauge(stack.url);

    // Live, not merely open: users 0..designs-1 each create a design; each one's own stream says PUBLISHED.
    const started = performance.now();
    const created: string[] = [];
    for (let i = 0; i < designs; i++) {
      const api = new ApiClient(stack.url, tokens[i]!, 2);
      created.push((await api.createDesign(designBody(i))).id);
      api.close();
    }
    const deadline = performance.now() + 60_000;
    const told = () => created.filter((id, i) => streams[i]!.text.includes(id) && /event: design\.published/.test(streams[i]!.text)).length;
    while (told() < designs && performance.now() < deadline) await sleep(50);
    const toldMs = performance.now() - started;
    const leaked = streams.slice(designs).filter((s) => created.some((id) => s.text.includes(id))).length;
    const toldCount = told();
    const during = server.memory();

    for (const s of streams) s.req.destroy();
    await sleep(3000);
    const after = server.memory();
    const gaugeAfter = await openConnectionsGauge(stack.url);

    const growth = held.rssMb - before.rssMb;
    const targets: TargetCheck[] = [
      { benchmark: 'sse', target: `${connections} idle SSE connections: RSS growth < ${RSS_GROWTH_TARGET_MB} MB`, measured: `${fixed(growth, 0)} MB`, met: growth < RSS_GROWTH_TARGET_MB },
      { benchmark: 'sse', target: `while held, each of ${designs} users' streams says its design PUBLISHED, no other stream hears of it`, measured: `${toldCount}/${designs} told, ${leaked} other streams heard`, met: toldCount === designs && leaked === 0 },
    ];
    const markdown = [
      `## Idle event streams (SSE)`,
      '',
      `One embedded \`customify serve\` process; ${connections} users, each holding GET /api/v1/events open and reading nothing but what comes. Load average at start: ${loadAvg}.`,
      '',
      table(['moment', 'RSS MB'], [
        ['idle after start', fixed(idle.rssMb, 0)],
        [`${connections} idle keep-alive sockets after GET /health/live (baseline)`, fixed(withSockets.rssMb, 0)],
        ['those closed, before the streams', fixed(before.rssMb, 0)],
        [`**${connections} event streams held (2 s settle)**`, `**${fixed(held.rssMb, 0)}** (growth ${fixed(growth, 0)}; keep-alive baseline grew ${fixed(withSockets.rssMb - idle.rssMb, 0)})`],
        [`after ${designs} designs were published to their owners' streams`, fixed(during.rssMb, 0)],
        ['all streams dropped by the clients (3 s later)', fixed(after.rssMb, 0)],
      ]),
      '',
      `Open-stream gauge in /metrics: ${gaugeHeld ?? 'n/a'} while held, ${gaugeAfter ?? 'n/a'} after the drop. ${toldCount}/${designs} owners' streams said PUBLISHED within ${fixed(toldMs / 1000, 1)} s of the first POST; ${leaked} streams of other users heard of them. Target: RSS growth < ${RSS_GROWTH_TARGET_MB} MB.`,
      `Service log: ${stack.logIssues().length === 0 ? 'no warnings or errors.' : stack.logIssues().join('; ')}`,
    ].join('\n');
    return { markdown, targets };
  } finally {
    await stack.stop();
  }
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { connections: { type: 'string' }, designs: { type: 'string' } } });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  try {
    const report = await runSseBench({ connections: num(values.connections), designs: num(values.designs) });
    console.log(report.markdown);
    for (const t of report.targets) console.log(`${t.met ? 'met' : 'NOT MET'}: ${t.target}: ${t.measured}`);
  } finally {
    await runAllCleanups();
  }
}
