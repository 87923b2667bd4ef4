/**
 * Memory benchmark.
 *  (a) Peak RSS (VmHWM) of the embedded `customify serve` process while 2,000 designs go
 *      through it over HTTP (50 clients, create + poll until PUBLISHED).
 *  (b) A 1 GiB generated stream uploaded through ObjectStorage → S3Driver (lib-storage
 *      multipart) to Ceph, in a child process sampling its RSS every 50 ms: growth over the
 *      RSS before the upload. Baseline in the same run: the same stream piped to /dev/null.
 *      The object (Ceph's memstore keeps it in RAM) and the bucket are deleted after.
 *   npx tsx bench/memory.bench.ts [--designs 2000] [--bytes 1073741824] [--repeats 2]
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createBucket } from './lib/backing-services.js';
import { runAllCleanups } from './lib/cleanup.js';
import { ApiClient, benchToken, runDesignLoad } from './lib/design-load.js';
import { loadAverages } from './lib/machine.js';
import { isEntryPoint, type BenchReport, type TargetCheck } from './lib/report.js';
import { startEmbeddedStack } from './lib/stacks.js';
import { fixed, percentile, table } from './lib/stats.js';

export interface MemoryOptions {
  /** Designs through the embedded server (default 2,000). */
  designs?: number;
  clients?: number;
  /** Bytes streamed to S3 and to /dev/null (default 1 GiB). */
  bytes?: number;
  /** Uploads per S3 variant, alternating; the worst (largest growth) is reported (default 2). */
  uploadRepeats?: number;
}

const SERVER_TARGET_MB = 300;
const UPLOAD_GROWTH_TARGET_MB = 64;
const here = path.dirname(fileURLToPath(import.meta.url));

interface UploadResult {
  mode: 's3' | 'devnull';
  /** What the S3 driver used (null for /dev/null). */
  partSize: number | null;
  queueSize: number | null;
  /** True when the driver was built with explicit options rather than by the factory. */
  custom: boolean;
  bytes: number;
  stored: number;
  objectSize: number | null;
  seconds: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  hwmBeforeMb: number;
  hwmAfterMb: number;
  arrayBuffersGrowthAtPeakMb: number;
  heapGrowthAtPeakMb: number;
}

async function serverUnderLoad(designs: number, clients: number) {
  const stack = await startEmbeddedStack();
  const api = new ApiClient(stack.url, await benchToken(), clients + 8);
  const server = stack.processes[0]!;
  try {
    const idle = server.memory();
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(server.memory().rssMb), 100);
    let load;
    try {
      load = await runDesignLoad(api, { designs, clients, polling: { kind: 'each', everyMs: 50 }, timeoutMs: 300_000 });
    } finally {
      clearInterval(sampler);
    }
    const end = server.memory();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const settled = server.memory();
    return { idle, end, settled, samples, load, stack };
  } finally {
    api.close();
    await stack.stop();
  }
}

async function upload(mode: 's3' | 'devnull', bytes: number, env: Record<string, string>, driver: { partSize?: number; queueSize?: number } = {}): Promise<UploadResult> {
  const extra = [...(driver.partSize ? ['--part-size', String(driver.partSize)] : []), ...(driver.queueSize ? ['--queue-size', String(driver.queueSize)] : [])];
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', path.join(here, 'memory-upload-child.ts'), '--mode', mode, '--bytes', String(bytes), ...extra],
    { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env }, maxBuffer: 1 << 20, timeout: 15 * 60_000, cwd: here },
  );
  return { ...(JSON.parse(stdout.trim().split('\n').pop()!) as Omit<UploadResult, 'custom'>), custom: extra.length > 0 };
}

export async function runMemoryBench(options: MemoryOptions = {}): Promise<BenchReport> {
  const designs = options.designs ?? 2000;
  const clients = options.clients ?? 50;
  const bytes = options.bytes ?? 1024 ** 3;
  const targets: TargetCheck[] = [];

  const loadAvgServer = loadAverages();
  const server = await serverUnderLoad(designs, clients);
  targets.push({ benchmark: 'memory', target: `embedded server peak RSS < ${SERVER_TARGET_MB} MB over ${designs} designs`, measured: `${fixed(server.end.peakRssMb, 0)} MB`, met: server.end.peakRssMb < SERVER_TARGET_MB });

  const loadAvgUpload = loadAverages();
  const bucket = await createBucket('bench-mem');
  // Per variant, every repeat: /dev/null, the factory's defaults, and the driver's earlier defaults (8 MiB parts, 4 in flight) for comparison.
  const variants: Array<{ mode: 's3' | 'devnull'; driver?: { partSize: number; queueSize: number } }> = [
    { mode: 'devnull' }, { mode: 's3' }, { mode: 's3', driver: { partSize: 8 * 1024 ** 2, queueSize: 4 } },
  ];
  const repeats = options.uploadRepeats ?? 2;
  const all: UploadResult[][] = variants.map(() => []);
  try {
    const { server: s3, bucket: name } = bucket.value;
    const env = { S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region, S3_BUCKET_NAME: name };
    for (let r = 0; r < repeats; r++) {
      for (const [i, v] of variants.entries()) all[i]!.push(await upload(v.mode, bytes, v.mode === 's3' ? env : {}, v.driver));
    }
  } finally {
    await bucket.dispose();
  }
  for (const r of all.slice(1).flat()) {
    if (r.objectSize !== bytes || r.stored !== bytes) throw new Error(`S3 upload stored ${r.stored} bytes, object is ${r.objectSize} bytes; expected ${bytes}`);
  }
  const growth = (r: UploadResult) => r.rssPeakMb - r.rssBeforeMb;
  // A ceiling is about the worst case: each row is the repeat that grew most.
  const worst = all.map((runs) => runs.reduce((a, b) => (growth(b) > growth(a) ? b : a)));
  const results = worst;
  const [devnull, s3] = worst as [UploadResult, UploadResult];
  targets.push({ benchmark: 'memory', target: `${fixed(bytes / 1024 ** 3, 2)} GiB S3 upload: RSS growth <= ${UPLOAD_GROWTH_TARGET_MB} MB`, measured: `${fixed(growth(s3), 0)} MB, worst of ${repeats} (/dev/null: ${fixed(growth(devnull), 0)} MB)`, met: growth(s3) <= UPLOAD_GROWTH_TARGET_MB });

  const parts = (r: UploadResult) => (r.partSize === null ? '' : `${fixed(r.partSize / 1024 ** 2, 0)} MiB parts, ${r.queueSize ?? '?'} in flight`);
  const uploadRows = results.map((r, i) => [
    r.mode === 'devnull' ? 'same stream piped to /dev/null (baseline)'
      : r.custom ? `same, S3Driver built with ${parts(r)} (for comparison)`
        : `**ObjectStorage.put → S3Driver → lib-storage multipart → Ceph (factory defaults: ${parts(r)})**`,
    `${fixed(r.bytes / 1024 ** 2, 0)} MiB`, fixed(r.seconds, 1), fixed(r.bytes / 1024 ** 2 / r.seconds, 0),
    fixed(r.rssBeforeMb, 0), fixed(r.rssPeakMb, 0), `**${fixed(growth(r), 0)}** (${all[i]!.map((x) => fixed(growth(x), 0)).join(', ')})`, fixed(r.hwmAfterMb - r.rssBeforeMb, 0),
    `${fixed(r.arrayBuffersGrowthAtPeakMb, 0)} / ${fixed(r.heapGrowthAtPeakMb, 0)}`, fixed(r.rssAfterMb, 0),
  ]);
  const markdown = [
    `## Memory`,
    '',
    `### (a) Embedded server process over ${designs} designs (${clients} clients, create + poll every 50 ms until PUBLISHED)`,
    '',
    table(['measure', 'MB'], [
      ['RSS at idle after start (before the designs)', fixed(server.idle.rssMb, 0)],
      [`RSS sampled every 100 ms during the run: median / max`, `${fixed(percentile(server.samples, 50), 0)} / ${fixed(Math.max(...server.samples), 0)}`],
      ['**peak RSS (VmHWM, whole life)**', `**${fixed(server.end.peakRssMb, 0)}**`],
      ['RSS right after the last design', fixed(server.end.rssMb, 0)],
      ['RSS 2 s later, idle', fixed(server.settled.rssMb, 0)],
    ]),
    '',
    `${designs} designs in ${fixed(server.load.wallSeconds, 1)} s (${fixed(server.load.designsPerSecond, 0)}/s). Target: peak < ${SERVER_TARGET_MB} MB. Load average at start: ${loadAvgServer}.`,
    `Service log: ${server.stack.logIssues().length === 0 ? 'no warnings or errors.' : server.stack.logIssues().join('; ')}`,
    '',
    `### (b) Streaming upload of ${fixed(bytes / 1024 ** 3, 2)} GiB (generated on demand, never held), RSS of a child process sampled every 50 ms; ${repeats} runs per row, the worst shown`,
    '',
    table(['stream', 'size', 's', 'MiB/s', 'RSS before MB', 'RSS peak MB', 'growth MB: worst (every run)', 'VmHWM − before MB', 'at the peak: Buffers / JS heap growth MB', 'RSS after MB'], uploadRows),
    '',
    `Target: growth <= ${UPLOAD_GROWTH_TARGET_MB} MB for the S3 upload with the factory's defaults. Each object was read back (HEAD: ${bytes} bytes each) and deleted, then the bucket. Load average at start: ${loadAvgUpload}.`,
  ].join('\n');
  return { markdown, targets };
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { designs: { type: 'string' }, clients: { type: 'string' }, bytes: { type: 'string' }, repeats: { type: 'string' } } });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  try {
    const report = await runMemoryBench({ designs: num(values.designs), clients: num(values.clients), bytes: num(values.bytes), uploadRepeats: num(values.repeats) });
    console.log(report.markdown);
  } finally {
    await runAllCleanups();
  }
}
