/**
 * Instant previews benchmark (issue #14, POST /api/v1/previews): one `customify serve` process
 * (compiled, embedded settings, PREVIEW_RATE_LIMIT out of the way) answering design bodies
 * with their 600 px preview, over real HTTP from this process (node:http, keep-alive):
 *  - idle: sequential requests, time from sending the request to the last byte of the answer;
 *  - throughput: 2 x cores requests in flight, previews per second over the wall time;
 * for PNG and WebP, against the seed's Pillow rendering (bench/pillow_flow.py's own layout
 * code, the preview only, no thumbnail, in the same format) on one process per core, each
 * pinned, alternated with ours run by run so that machine noise hits both.
 *   npx tsx bench/previews.bench.ts [--runs 3] [--sequential 200] [--requests 400]
 */
import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { benchToken, designBody } from './lib/design-load.js';
import { isEntryPoint, type BenchReport, type TargetCheck } from './lib/report.js';
import { startEmbeddedStack } from './lib/stacks.js';
import { fixed, median, percentile, table } from './lib/stats.js';
import { runAllCleanups } from './lib/cleanup.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pillow_flow.py');
const FORMATS = ['png', 'webp'] as const;
type Format = (typeof FORMATS)[number];

/**
 * The seed's flow (pillow_flow.py: its `fit` and drawing, DejaVu Sans Bold) making only the
 * 600 px preview: PNG at compress_level 6 as the seed, WebP as ours encodes a text design
 * (lossless, the fastest method; renditions.ts WEBP_FLAT_OPTIONS).
 */
const PILLOW_PREVIEW = `
import io, json, sys, time
from PIL import Image, ImageDraw
script, n, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
flow = {"__name__": "pillow_flow"}
exec(compile(open(script).read().rsplit("\\nmain()", 1)[0], script, "exec"), flow)
def preview(text, color):
    image = Image.new("RGB", (600, 600), color=color)
    draw = ImageDraw.Draw(image)
    text, font = flow["fit"](text, draw)
    left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font, align="center")
    x = (600 - (right - left)) / 2 - left
    y = (600 - (bottom - top)) / 2 - top
    r, g, b = Image.new("RGB", (1, 1), color).getpixel((0, 0))
    fill = "#000000" if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else "#FFFFFF"
    draw.multiline_text((x, y), text, fill=fill, font=font, align="center")
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, format="PNG", compress_level=6)
    else:
        image.save(out, format="WEBP", lossless=True, method=1)
    return out.getvalue()
preview("warm up", "#FF0000")
colors = flow["COLORS"]
size = 0
start = time.perf_counter()
for i in range(n):
    size += len(preview(f"Custom Text {i}", colors[i % len(colors)]))
print(json.dumps({"n": n, "seconds": time.perf_counter() - start, "bytes": size / n}))
`;

/** Pillow previews per second: `processes` processes at once, each pinned to its core; all previews over the slowest loop. */
async function pillowThroughput(format: Format, perProcess: number, processes: number): Promise<{ perSecond: number; bytes: number }> {
  const results = await Promise.all(Array.from({ length: processes }, async (_, cpu) => {
    const { stdout } = await promisify(execFile)('taskset', ['-c', String(cpu), PYTHON, '-c', PILLOW_PREVIEW, SCRIPT, String(perProcess), format], { maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as { n: number; seconds: number; bytes: number };
  }));
  return { perSecond: (perProcess * processes) / Math.max(...results.map((r) => r.seconds)), bytes: results[0]!.bytes };
}

interface PreviewClient {
  /** POSTs design `i` asking for `format`; resolves with the milliseconds from the request to the last byte, and the body's size. */
  preview(i: number, format: Format): Promise<{ ms: number; bytes: number }>;
  close(): void;
}

function previewClient(baseUrl: string, token: string, maxSockets: number): PreviewClient {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets });
  return {
    preview(i, format) {
      const body = JSON.stringify(designBody(i));
      return new Promise((resolve, reject) => {
        const started = performance.now();
        const req = request({
          host: url.hostname, port: url.port, path: '/api/v1/previews', method: 'POST', agent, timeout: 30_000,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), accept: `image/${format}` },
        }, (res) => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => { bytes += chunk.length; });
          res.on('end', () => {
            const ms = performance.now() - started;
            if (res.statusCode !== 200 || res.headers['content-type'] !== `image/${format}`) reject(new Error(`POST /api/v1/previews answered ${res.statusCode} ${res.headers['content-type']}`));
            else resolve({ ms, bytes });
          });
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('POST /api/v1/previews: no answer within 30 s')));
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** Previews per second with `concurrency` requests in flight until `total` are answered. */
async function ourThroughput(client: PreviewClient, format: Format, total: number, concurrency: number, offset: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) await client.preview(offset + next++, format);
  }));
  return total / ((performance.now() - started) / 1000);
}

export async function runPreviewsBench(options: { runs?: number; sequential?: number; requests?: number; warmup?: number } = {}): Promise<BenchReport> {
  const runs = options.runs ?? 3;
  const sequential = options.sequential ?? 200;
  const requests = options.requests ?? 400;
  const warmup = options.warmup ?? 50;
  const cores = availableParallelism();
  const concurrency = 2 * cores;
  const stack = await startEmbeddedStack({ env: { PREVIEW_RATE_LIMIT: '1000000' } });
  const client = previewClient(stack.url, await benchToken(), concurrency);
  const rows: Array<Array<string | number>> = [];
  const targets: TargetCheck[] = [];
  try {
    let offset = 0;
    for (const format of FORMATS) {
      for (let i = 0; i < warmup; i++) await client.preview(offset++, format);
      const idle: number[] = [];
      let bytes = 0;
      for (let i = 0; i < sequential; i++) {
        const one = await client.preview(offset++, format);
        idle.push(one.ms);
        bytes += one.bytes;
      }
      const ours: number[] = [];
      const pillow: number[] = [];
      let pillowBytes = 0;
      for (let run = 0; run < runs; run++) {
        ours.push(await ourThroughput(client, format, requests, concurrency, offset));
        offset += requests;
        const p = await pillowThroughput(format, Math.ceil(requests / cores), cores);
        pillow.push(p.perSecond);
        pillowBytes = p.bytes;
      }
      const p50 = percentile(idle, 50);
      const ratio = median(ours) / median(pillow);
      rows.push([format, fixed(p50), fixed(percentile(idle, 95)), fixed(median(ours), 0), fixed(median(pillow), 0), `${fixed(ratio)}x`, fixed(bytes / sequential / 1024, 1), fixed(pillowBytes / 1024, 1)]);
      targets.push(
        { benchmark: 'previews', target: `${format}: p50 request to last byte at idle < 20 ms`, measured: `${fixed(p50)} ms`, met: p50 < 20 },
        { benchmark: 'previews', target: `${format}: previews/s on ${cores} cores >= 2x Pillow on ${cores} processes`, measured: `${fixed(ratio)}x (${fixed(median(ours), 0)} vs ${fixed(median(pillow), 0)}/s)`, met: ratio >= 2 },
      );
    }
  } finally {
    client.close();
    await stack.stop();
  }
  const issues = stack.logIssues();
  const markdown = [
    `Instant previews (POST /api/v1/previews, 600 px): one \`customify serve\` (compiled, embedded settings, PREVIEW_RATE_LIMIT=1000000), the client in this process (node:http, keep-alive) on the same ${cores} cores. ` +
      `Idle: ${sequential} sequential requests after ${warmup} warm-up, request sent to last byte received. Throughput: ${concurrency} requests in flight, ${requests} per run, median of ${runs} runs, ` +
      `alternated with Pillow (bench/pillow_flow.py's layout, the preview only: PNG compress_level 6, WebP lossless method 1) on ${cores} processes pinned one per core, ${Math.ceil(requests / cores)} previews each, over the slowest loop (no HTTP).`,
    '',
    table(['format', 'p50 idle (ms)', 'p95 idle (ms)', 'ours previews/s', 'Pillow previews/s', 'ours / Pillow', 'ours KB', 'Pillow KB'], rows),
    ...(issues.length > 0 ? ['', `Server log issues: ${issues.join('; ')}`] : []),
  ].join('\n');
  return { markdown, targets };
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, sequential: { type: 'string' }, requests: { type: 'string' } } });
  try {
    const report = await runPreviewsBench({
      ...(values.runs ? { runs: Number(values.runs) } : {}),
      ...(values.sequential ? { sequential: Number(values.sequential) } : {}),
      ...(values.requests ? { requests: Number(values.requests) } : {}),
    });
    console.log(report.markdown);
    for (const target of report.targets) console.log(`${target.met ? 'met' : 'NOT MET'}: ${target.target}: ${target.measured}`);
  } finally {
    await runAllCleanups();
  }
}
