/**
 * The two ways the service runs, started as real processes for a benchmark and removed
 * after it:
 *  - embedded (the default): one `customify serve` process with SQLite in a file, local
 *    storage and the in-process render worker, everything in a temp folder;
 *  - production: `customify serve` (API only) and one `customify worker` process, on
 *    PostgreSQL (a fresh database), Redis (a fresh queue name) and S3 on Ceph (a fresh bucket).
 * Configuration is the defaults plus what each mode must name: no tuning.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { DesignView } from '../../src/designs/design-service.js';
import { testS3Client } from '../../test/helpers/s3.js';
import { createBucket, createPostgresDatabase, createQueueName, REDIS_URL, type Disposable } from './backing-services.js';
import { deferCleanup } from './cleanup.js';
import { BENCH_JWT_SECRET } from './design-load.js';
import { spawnCustomify, waitForHttp, waitForLog, type ServiceProcess } from './service-processes.js';

export type Mode = 'embedded' | 'production';

export interface Stack {
  mode: Mode;
  /** The API's base URL. */
  url: string;
  /** The server first, then the worker (production). */
  processes: ServiceProcess[];
  /** One line on what runs where. */
  description: string;
  /** Fetches a PUBLISHED design's preview from where the service stored it; throws unless it is a PNG. */
  checkPreview(view: DesignView): Promise<void>;
  /** Stops the processes, then removes database, queue, bucket and temp folder. Idempotent. */
  stop(): Promise<void>;
  /** After stop(): the warnings and errors the processes logged (pino level >= 40), summarised. */
  logIssues(): string[];
}

/** Pino lines at warn (40) or above, and plain output that looks like a crash or a stack trace, by message. */
function scanLog(proc: ServiceProcess): string[] {
  let text: string;
  try {
    text = readFileSync(proc.logFile, 'utf8');
  } catch {
    return [];
  }
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let key: string | undefined;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string };
      if ((entry.level ?? 0) >= 40) key = `level ${entry.level}: ${String(entry.msg).slice(0, 160)}`;
    } catch {
      // Plain lines: `serve`'s greeting and Node's warnings are fine; crashes and stack traces are not.
      if (/error|exception|unhandled|uncaught|fatal|ERR_|^\s+at /i.test(line)) key = `output: ${line.slice(0, 160)}`;
    }
    if (key) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([msg, n]) => `${proc.name}: ${n} x ${msg}`);
}

export interface StackOptions {
  /** LOG_LEVEL of every process (default: the service's default, info). */
  logLevel?: string;
  /** Extra environment for every process (e.g. RENDER_CONCURRENCY). */
  env?: Record<string, string>;
  /** Profile every process with `node --cpu-prof`: `<dir>/<process name>.cpuprofile`, written when it stops. */
  cpuProfileDir?: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function assertPng(bytes: Buffer, where: string): void {
  if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error(`${where} is not a PNG (${bytes.length} bytes)`);
}

function tempDir(label: string): { dir: string; remove: () => Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), `customify-bench-${label}-`));
  return { dir, remove: deferCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true })) };
}

export function startStack(mode: Mode, options: StackOptions = {}): Promise<Stack> {
  return mode === 'embedded' ? startEmbeddedStack(options) : startProductionStack(options);
}

export async function startEmbeddedStack(options: StackOptions = {}): Promise<Stack> {
  const { dir, remove } = tempDir('embedded');
  const processes: ServiceProcess[] = [];
  let issues: string[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await Promise.all(processes.map((p) => p.stop()));
      issues = processes.flatMap(scanLog);
      await remove();
    })();
    return stopping;
  };
  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      DATABASE_URL: `sqlite:${path.join(dir, 'customify.db')}`,
      USE_LOCAL_STORAGE: 'true',
      LOCAL_STORAGE_PATH: path.join(dir, 'storage'),
      DATA_DIR: path.join(dir, 'data'),
      JWT_SECRET: BENCH_JWT_SECRET,
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_BASE_URL: url,
      ...(options.logLevel ? { LOG_LEVEL: options.logLevel } : {}),
      ...options.env,
    };
    const server = await spawnCustomify('serve', env, { name: 'server', logFile: path.join(dir, 'server.log'), cpuProfileDir: options.cpuProfileDir });
    processes.push(server);
    await waitForHttp(server, `${url}/healthz`);
    return {
      mode: 'embedded',
      url,
      processes,
      description: 'one `customify serve` process: SQLite file, local storage (fsync on), in-process worker',
      async checkPreview(view) {
        const res = await fetch(view.preview_url!);
        if (res.status !== 200 || res.headers.get('content-type') !== 'image/png') throw new Error(`GET ${view.preview_url} answered ${res.status} ${res.headers.get('content-type')}`);
        assertPng(Buffer.from(await res.arrayBuffer()), view.preview_url!);
      },
      stop,
      logIssues: () => issues,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function startProductionStack(options: StackOptions = {}): Promise<Stack> {
  const { dir, remove } = tempDir('production');
  const processes: ServiceProcess[] = [];
  const owned: Array<Disposable<unknown>> = [];
  let stopping: Promise<void> | undefined;
  let issues: string[] = [];
  const stop = () => {
    stopping ??= (async () => {
      await Promise.all(processes.map((p) => p.stop()));
      issues = processes.flatMap(scanLog);
      for (const resource of owned.reverse()) await resource.dispose();
      await remove();
    })();
    return stopping;
  };
  try {
    const database = await createPostgresDatabase();
    owned.push(database);
    const queue = createQueueName('e2e');
    owned.push(queue);
    const bucket = await createBucket('bench');
    owned.push(bucket);
    const { server: s3, bucket: bucketName } = bucket.value;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      DATABASE_URL: database.value,
      REDIS_URL,
      RENDER_QUEUE_NAME: queue.value,
      USE_LOCAL_STORAGE: 'false',
      S3_ENDPOINT: s3.endpoint,
      AWS_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_BUCKET_NAME: bucketName,
      DATA_DIR: path.join(dir, 'data'),
      JWT_SECRET: BENCH_JWT_SECRET,
      ...(options.logLevel ? { LOG_LEVEL: options.logLevel } : {}),
      ...options.env,
    };
    // The server first: it applies the migrations the worker then finds done.
    const server = await spawnCustomify('serve', { ...env, HOST: '127.0.0.1', PORT: String(port) }, { name: 'server', logFile: path.join(dir, 'server.log'), cpuProfileDir: options.cpuProfileDir });
    processes.push(server);
    await waitForHttp(server, `${url}/healthz`);
    const worker = await spawnCustomify('worker', env, { name: 'worker', logFile: path.join(dir, 'worker.log'), cpuProfileDir: options.cpuProfileDir });
    processes.push(worker);
    // "Render worker ready" is an info line; at quieter levels the caller's warm-up designs prove it.
    if (['info', 'debug', 'trace', undefined].includes(options.logLevel)) await waitForLog(worker, /Render worker ready/);
    return {
      mode: 'production',
      url,
      processes,
      description: `\`customify serve\` (API) + one \`customify worker\` process: PostgreSQL, Redis/BullMQ, S3 on ${s3.kind} at ${s3.endpoint}`,
      async checkPreview(view) {
        const client = testS3Client(s3);
        try {
          const out = await client.send(new GetObjectCommand({ Bucket: bucketName, Key: `designs/${view.id}/preview.png` }));
          assertPng(Buffer.from(await out.Body!.transformToByteArray()), `s3://${bucketName}/designs/${view.id}/preview.png`);
        } finally {
          client.destroy();
        }
      },
      stop,
      logIssues: () => issues,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
