/**
 * Child process of bench/tus.bench.ts: the HTTP app in S3 mode (the real buildApp, container,
 * @tus/s3-store on Ceph; SQLite; no worker, so a finished upload stays RECEIVED and only the
 * upload path is measured), listening on 127.0.0.1. Over IPC: sends { port } when listening;
 * on 'start' records its RSS (answering it) and samples it every 50 ms; on 'stop' answers
 * { beforeMb, peakMb, cpuSeconds } (the process's CPU time, all threads, user and system, since 'start').
 * It forces a garbage collection before the first run only: a forced full GC leaves V8's
 * old-space limit just above the live heap, and the next 200 MiB then ran some 36 incremental
 * mark-compacts and took twice as long (--trace-gc), a cost a real server never pays.
 * S3 settings come from the environment (S3_ENDPOINT, keys, S3_BUCKET_NAME), plus TUS_PART_SIZE
 * and TUS_CONCURRENCY for the store. TUS_CPU_PROFILE=<file>: the V8 CPU profile of the tus runs
 * only (from each 'start' to its 'stop'; startup would otherwise be most of it), written at exit.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createTokenVerifier } from '../src/auth/jwt.js';
import { buildContainer, createTusStore } from '../src/composition-root.js';
import { configFrom } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { createHealthChecks } from '../src/http/health-checks.js';
import { silentLogger } from '../src/logger.js';
import { TusUploads } from '../src/uploads/tus-uploads.js';

const send = (message: unknown) => process.send!(message);
const settings = configFrom({ ...process.env, USE_LOCAL_STORAGE: 'false', SCAN_REQUIRED: 'false', LOG_LEVEL: 'silent' });
const container = await buildContainer(settings, { logger: silentLogger, role: 'cli' });
// The store as the benchmark tunes it (the container's has the defaults).
const store = await createTusStore(settings, {
  partSize: process.env.TUS_PART_SIZE ? Number(process.env.TUS_PART_SIZE) : undefined,
  maxConcurrentPartUploads: process.env.TUS_CONCURRENCY ? Number(process.env.TUS_CONCURRENCY) : undefined,
});
const tus = new TusUploads({ store, uploads: container.uploadService, path: '/api/v1/uploads/tus', maxBytes: settings.uploadMaxBytes, logger: silentLogger });
const app = await buildApp({
  service: container.service,
  verifyToken: createTokenVerifier({ secret: settings.jwtSecret }),
  metrics: container.metrics,
  health: { checks: createHealthChecks(container) },
  settings,
  storage: container.storage.storage,
  uploads: container.uploadService,
  tus,
});
await app.listen({ host: '127.0.0.1', port: 0 });

const profileFile = process.env.TUS_CPU_PROFILE;
const profiler = profileFile ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
}
let profiled = false;

let sampler: NodeJS.Timeout | undefined;
let collected = false;
let before = 0;
let peak = 0;
let cpuAtStart = process.cpuUsage();
const rss = () => process.memoryUsage.rss();
process.on('message', (message: string) => {
  void onMessage(message);
});

async function onMessage(message: string): Promise<void> {
  if (message === 'start') {
    // One profile over all runs: started at the first, stopped at exit.
    if (profiler && !profiled) await profiler.post('Profiler.start');
    profiled = true;
    if (!collected) global.gc?.();
    collected = true;
    before = rss();
    peak = before;
    sampler = setInterval(() => (peak = Math.max(peak, rss())), 50);
    cpuAtStart = process.cpuUsage();
    send({ beforeMb: before / 1024 ** 2, peakMb: peak / 1024 ** 2 });
  } else if (message === 'stop') {
    clearInterval(sampler);
    peak = Math.max(peak, rss());
    const cpu = process.cpuUsage(cpuAtStart);
    send({ beforeMb: before / 1024 ** 2, peakMb: peak / 1024 ** 2, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
  } else if (message === 'exit') {
    if (profiler && profiled) writeFileSync(profileFile!, JSON.stringify((await profiler.post('Profiler.stop')).profile));
    void app.close().then(() => container.close()).then(() => store.close()).finally(() => process.exit(0));
  }
}
const address = app.server.address();
send({ port: typeof address === 'object' && address ? address.port : 0 });
