/**
 * Resumable upload benchmark (issue #11): a 200 MB file sent with tus-js-client in 5 MB chunks
 * to /api/v1/uploads/tus of the real app in S3 mode (@tus/s3-store on Ceph RGW), the server in
 * its own process sampling its RSS. Baseline in the same run, from the same machine: a plain
 * @aws-sdk/lib-storage Upload of the same bytes to the same bucket (its defaults: 5 MiB parts,
 * 4 in flight). One unmeasured warm-up run of each, then the variants alternate; figures are
 * medians (RSS growth: the highest peak over all runs, warm-up included). Each run's object is
 * deleted after it: Ceph RGW here keeps its data in 4 GiB of RAM, and a set of 5 runs of each
 * kept to the end (2.4 GB) filled it within a few sets in a row, and a full OSD blocks writes.
 * Targets: server RSS growth <= 64 MB; tus throughput >= 80% of lib-storage's.
 *   npx tsx bench/tus.bench.ts [--mb 200] [--repeats 3] [--profile]
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Upload as S3Upload } from '@aws-sdk/lib-storage';
import * as tus from 'tus-js-client';
import { mintToken } from '../src/auth/jwt.js';
import { testS3Client } from '../test/helpers/s3.js';
import { createTempDir, removeTempDir } from '../test/helpers/tmp.js';
import { createBucket } from './lib/backing-services.js';
import { runAllCleanups, trackChild } from './lib/cleanup.js';
import { profileTables, summarizeProfile } from './lib/cpu-profile.js';
import { cpuWindow, loadAverages } from './lib/machine.js';
import { isEntryPoint, type BenchReport } from './lib/report.js';
import { fixed, median, table } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHUNK = 5 * 1024 * 1024;
const RSS_TARGET_MB = 64;
const RATIO_TARGET = 0.8;
const SECRET = 'bench-tus-secret-0123456789abcdef0123456789abcdef';

export interface TusBenchOptions {
  /** File size in MiB (default 200). */
  mb?: number;
  /** Runs of each variant (default 3). */
  repeats?: number;
  /** The store's preferred part size and parts in flight (defaults: the service's). */
  partSize?: number;
  concurrency?: number;
  /** Run the server under `node --cpu-prof` and report where its main thread went (adds overhead). */
  profile?: boolean;
}

interface Child {
  pid: number;
  port: number;
  ask(message: string): Promise<{ beforeMb: number; peakMb: number; cpuSeconds?: number }>;
  tell(message: string): void;
  exited: Promise<void>;
}

async function startServer(env: Record<string, string>, cpuProfileDir?: string): Promise<Child> {
  const child = fork(path.join(here, 'tus-server-child.ts'), [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: {
      ...(cpuProfileDir ? { TUS_CPU_PROFILE: path.join(cpuProfileDir, 'server.cpuprofile') } : {}), PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...(process.env.DEBUG ? { DEBUG: process.env.DEBUG } : {}), ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const untrack = trackChild(child.pid!);
  const exited = new Promise<void>((resolve) => child.once('exit', () => { untrack(); resolve(); }));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`the tus server child exited (${code}) before listening`)));
  });
  return {
    pid: child.pid!,
    port,
    tell: (message) => void child.send(message),
    ask: (message) => new Promise((resolve) => {
      child.once('message', resolve as (m: unknown) => void);
      child.send(message);
    }),
    exited,
  };
}

function tusUpload(endpoint: string, token: string, data: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      endpoint,
      chunkSize: CHUNK,
      retryDelays: [],
      storeFingerprintForResuming: false,
      metadata: { filename: 'bench.bin' },
      headers: { authorization: `Bearer ${token}` },
      onSuccess: () => resolve(upload.url!.split('/').pop()!),
      onError: reject,
    });
    upload.start();
  });
}

export async function runTusBench(options: TusBenchOptions = {}): Promise<BenchReport> {
  const bytes = (options.mb ?? 200) * 1024 * 1024;
  const repeats = options.repeats ?? 3;
  const load = loadAverages();
  const bucket = await createBucket('bench-tus');
  const dir = await createTempDir('bench-tus');
  const { server: s3, bucket: name } = bucket.value;
  const client = testS3Client(s3);
  const child = await startServer({
    S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region, S3_BUCKET_NAME: name,
    DATABASE_URL: `sqlite:${path.join(dir, 'db.sqlite')}`, DATA_DIR: dir, JWT_SECRET: SECRET, UPLOAD_MAX_BYTES: String(bytes + CHUNK),
    ...(options.partSize ? { TUS_PART_SIZE: String(options.partSize) } : {}),
    ...(options.concurrency ? { TUS_CONCURRENCY: String(options.concurrency) } : {}),
  }, options.profile ? dir : undefined);
  const token = await mintToken({ secret: SECRET, userId: 'bench', ttlSeconds: 3600 });
  const data = randomBytes(bytes);
  const tusRuns: Array<{ seconds: number; growthMb: number; beforeMb: number; peakMb: number; cpuSeconds?: number }> = [];
  const s3Runs: number[] = [];
  // CPU seconds per run: the bench process (the client), the tus server, Ceph's processes; and how busy the machine was.
  const cpu: Record<'tus' | 's3', Array<{ client: number; server: number; ceph: number; busyPct: number }>> = { tus: [], s3: [] };
  const measure = (variant: 'tus' | 's3') => {
    const window = cpuWindow({ server: child.pid });
    return () => {
      const used = window.end();
      cpu[variant].push({ client: used.self, server: used.perProcess.server!, ceph: used.services, busyPct: used.machineBusyPct });
    };
  };
  let profile = '';
  let warmUp: (typeof tusRuns)[number] | undefined;
  try {
    const runTus = async () => {
      await child.ask('start');
      const ended = measure('tus');
      const started = performance.now();
      const id = await tusUpload(`http://127.0.0.1:${child.port}/api/v1/uploads/tus`, token, data);
      const seconds = (performance.now() - started) / 1000;
      ended();
      const memory = await child.ask('stop');
      const stored = await client.send(new HeadObjectCommand({ Bucket: name, Key: `staging/${id}` }));
      if (stored.ContentLength !== bytes) throw new Error(`tus stored ${stored.ContentLength} bytes at staging/${id}, expected ${bytes}`);
      await client.send(new DeleteObjectCommand({ Bucket: name, Key: `staging/${id}` }));
      tusRuns.push({ seconds, growthMb: memory.peakMb - memory.beforeMb, ...memory });
    };
    const runS3 = async () => {
      const ended = measure('s3');
      const started = performance.now();
      const key = `bench/lib-storage-${randomBytes(4).toString('hex')}`;
      await new S3Upload({ client, params: { Bucket: name, Key: key, Body: data } }).done();
      s3Runs.push((performance.now() - started) / 1000);
      ended();
      await client.send(new DeleteObjectCommand({ Bucket: name, Key: key }));
    };
    // One unmeasured run of each first: the server child's first upload also pays for its JIT
    // and its first connections to S3 (about 0.2 s more), which the bench process, warm from
    // creating the bucket, does not. Its memory still counts (overall growth, below).
    await runTus();
    await runS3();
    warmUp = tusRuns.shift();
    s3Runs.shift();
    cpu.tus.shift();
    cpu.s3.shift();
    for (let r = 0; r < repeats; r++) {
      if (r % 2 === 0) { await runTus(); await runS3(); } else { await runS3(); await runTus(); }
    }
  } finally {
    child.tell('exit');
    await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (options.profile) profile = profileTables('tus server (the tus runs only)', summarizeProfile(path.join(dir, 'server.cpuprofile')), 20);
    client.destroy();
    await bucket.dispose();
    await removeTempDir(dir);
  }
  const tusSeconds = median(tusRuns.map((r) => r.seconds));
  const s3Seconds = median(s3Runs);
  const ratio = s3Seconds / tusSeconds;
  const worst = tusRuns.reduce((a, b) => (b.growthMb > a.growthMb ? b : a));
  // Over all runs, the warm-up included: the highest peak above the RSS before the first run (after a forced GC).
  const overallGrowthMb = Math.max(warmUp!.peakMb, ...tusRuns.map((r) => r.peakMb)) - warmUp!.beforeMb;
  const mib = bytes / 1024 ** 2;
  const markdown = [
    '## Resumable uploads (tus) into S3 mode',
    '',
    `${fixed(mib, 0)} MiB of random bytes, one unmeasured warm-up run of each variant, then ${repeats} runs of each alternating, Ceph RGW at ${s3.endpoint}, load average at start ${load}.`,
    `tus: tus-js-client, ${CHUNK / 1024 ** 2} MiB chunks, one PATCH at a time, to the app (child process, @tus/s3-store: ${options.partSize ? fixed(options.partSize / 1024 ** 2, 0) : 5} MiB parts, ${options.concurrency ?? 4} in flight). Baseline: lib-storage \`Upload\` from the bench process (5 MiB parts, 4 in flight).`,
    '',
    table(['variant', 'seconds (median)', 'MiB/s', 'runs (s)', 'server CPU s per run (all threads)', 'server RSS before → peak (MB)'], [
      ['**tus → /api/v1/uploads/tus → @tus/s3-store → Ceph**', fixed(tusSeconds, 1), fixed(mib / tusSeconds, 1), tusRuns.map((r) => fixed(r.seconds, 1)).join(', '), tusRuns.map((r) => fixed(r.cpuSeconds ?? Number.NaN, 2)).join(', '), `${fixed(worst.beforeMb, 0)} → ${fixed(worst.peakMb, 0)} (growth ${tusRuns.map((r) => fixed(r.growthMb, 0)).join(', ')})`],
      ['lib-storage Upload → Ceph (baseline)', fixed(s3Seconds, 1), fixed(mib / s3Seconds, 1), s3Runs.map((s) => fixed(s, 1)).join(', '), 'n/a', 'n/a'],
    ]),
    '',
    'CPU seconds per run (medians), from /proc: the bench process is the client in both variants; Ceph is every radosgw/ceph-* process. Two cores give at most 2 CPU seconds per second of wall time.',
    '',
    table(['variant', 'client (bench process)', 'tus server', 'Ceph', 'all three', 'machine busy'], (['tus', 's3'] as const).map((variant) => {
      const runs = cpu[variant];
      const [client, server, ceph] = [median(runs.map((r) => r.client)), median(runs.map((r) => r.server)), median(runs.map((r) => r.ceph))];
      return [variant === 'tus' ? 'tus' : 'lib-storage (baseline)', fixed(client, 2), variant === 'tus' ? fixed(server, 2) : 'n/a', fixed(ceph, 2), fixed(client + (variant === 'tus' ? server : 0) + ceph, 2), `${fixed(median(runs.map((r) => r.busyPct)), 0)}%`];
    })),
    '',
    `Throughput ratio tus / lib-storage: **${fixed(ratio, 2)}**; server RSS growth (worst run): **${fixed(worst.growthMb, 0)} MB**; highest peak over all runs (warm-up included) above the RSS before the first: **${fixed(overallGrowthMb, 0)} MB**.`,
    '',
    ...(profile ? ['### Where the server\'s main thread goes during the tus runs (V8 CPU profiler; profiling slows it down)', '', profile, ''] : []),
  ].join('\n');
  return {
    markdown,
    targets: [
      { benchmark: 'tus', target: `${fixed(mib, 0)} MiB tus upload: server RSS growth <= ${RSS_TARGET_MB} MB`, measured: `${fixed(worst.growthMb, 0)} MB (worst of ${repeats}; ${fixed(overallGrowthMb, 0)} MB over all runs)`, met: Math.max(worst.growthMb, overallGrowthMb) <= RSS_TARGET_MB },
      { benchmark: 'tus', target: `tus throughput >= ${RATIO_TARGET * 100}% of lib-storage`, measured: `${fixed(ratio * 100, 0)}% (${fixed(mib / tusSeconds, 1)} vs ${fixed(mib / s3Seconds, 1)} MiB/s)`, met: ratio >= RATIO_TARGET },
    ],
  };
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { mb: { type: 'string' }, repeats: { type: 'string' }, 'part-size': { type: 'string' }, concurrency: { type: 'string' }, profile: { type: 'boolean' } } });
  try {
    const report = await runTusBench({
      mb: values.mb ? Number(values.mb) : undefined,
      repeats: values.repeats ? Number(values.repeats) : undefined,
      partSize: values['part-size'] ? Number(values['part-size']) : undefined,
      concurrency: values.concurrency ? Number(values.concurrency) : undefined,
      profile: values.profile,
    });
    console.log(report.markdown);
    console.table(report.targets);
  } finally {
    await runAllCleanups();
  }
}
