import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/cli/cleanup.js';
import { buildContainer, type Container } from '../../src/composition-root.js';
import { InProcessRenderQueue } from '../../src/jobs/in-process.queue.js';
import { sweepStaleUploads } from '../../src/jobs/pending-sweep.js';
import { silentLogger } from '../../src/logger.js';
import { createProcessUploadTask, scannerWaitMs, SCANNER_RETRY_MAX_DELAY_MS } from '../../src/uploads/process-upload.task.js';
import type { Upload } from '../../src/uploads/upload.js';
import type { UploadView } from '../../src/uploads/upload-service.js';
import { UploadStorage } from '../../src/uploads/upload-storage.js';
import { until } from '../helpers/services.js';
import { authHeaders, createTestApp, freePort, type TestApp } from '../helpers/app.js';
import { EICAR, clamdBinaryPath, clamdTarget, skipClamd, startPrivateClamd, type PrivateClamd } from '../helpers/clamd.js';
import { DIALECTS, createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { gpsOrientation6Jpeg } from '../fixtures/uploads/images.js';

/**
 * Issue #11's failure rules for the upload pipeline (beyond the file's own faults): what is
 * retried, for how long, and how an upload ends when retrying cannot help. Real parts
 * throughout: the service's own container, local storage, SQLite and PostgreSQL, a private
 * clamd that the test stops and starts again.
 */

let t: TestApp | undefined;
let clamd: PrivateClamd | undefined;
let db: TestDatabase | undefined;
let worker: Container | undefined;
const servers: Server[] = [];
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await t?.close();
  await clamd?.stop();
  await db?.destroy();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  t = undefined;
  clamd = undefined;
  db = undefined;
});

async function upload(app: TestApp, body: Buffer): Promise<UploadView> {
  const res = await app.app.inject({ method: 'POST', url: '/api/v1/uploads', headers: { ...(await authHeaders()), 'content-type': 'image/jpeg' }, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<UploadView>();
}


const ended = (u: Upload | null) => u?.status === 'PUBLISHED' || u?.status === 'REJECTED';

async function listen(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer(onConnection);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** What the terminal state must say: not the file's fault, nothing kept, what to do. */
function expectFailedForGood(u: Upload | null, message: RegExp): void {
  expect(u).toMatchObject({ status: 'REJECTED', reason: null, originalKey: null, stagingKey: null, leaseUntil: null });
  expect(u?.message).toMatch(message);
  expect(u?.message).toMatch(/upload it again/);
}

describe.each(DIALECTS)('upload failures that retrying cannot fix (%s)', (dialect) => {
  it.skipIf(skipDialect(dialect))('a scanner answering nonsense (SCAN_PROTOCOL): REJECTED at the first attempt with a message, never queued again', async () => {
    // A peer on the clamd port that is not clamd (a misconfigured CLAMD_PORT): it answers "hello".
    const port = await listen((socket) => {
      socket.on('data', () => undefined);
      socket.end('hello\0');
    });
    db = await createTestDatabase(dialect);
    t = await createTestApp({ env: { DATABASE_URL: db.url, CLAMD_HOST: '127.0.0.1', CLAMD_PORT: String(port), RENDER_MAX_RETRIES: '3', RENDER_BACKOFF_MS: '10', PENDING_SWEEP_AFTER: '100ms' } });
    const repo = t.container.uploads;
    const created = await upload(t, await gpsOrientation6Jpeg());
    const done = await until('ended', () => repo.findById(created.id), ended);
    expectFailedForGood(done, /CLAMD_HOST\/CLAMD_PORT.*\[SCAN_PROTOCOL\]/s);
    expect(done?.attempts).toBe(1);
    // Before: left SCANNING, and every sweep queued it again, without end.
    expect(await repo.findStale(new Date(Date.now() + 60_000))).not.toContain(created.id);
    expect(await sweepStaleUploads({ uploads: repo, queue: t.container.uploadQueue, logger: silentLogger }, new Date(Date.now() + 60_000))).toBe(0);
    expect((await t.container.storage.storage.list('staging/')).objects).toEqual([]);
    const view = (await t.app.inject({ method: 'GET', url: `/api/v1/uploads/${created.id}`, headers: await authHeaders() })).json<UploadView>();
    expect(view).toMatchObject({ status: 'REJECTED', reason: null, url: null });
    expect(await t.container.metrics.registry.metrics()).toMatch(/^customify_upload_pipeline_total\{outcome="failed"\} 1$/m);
  });

  it.skipIf(skipDialect(dialect))('storage refusing the publish (a file in the way of uploads/): REJECTED at the first attempt, naming the cause', async () => {
    db = await createTestDatabase(dialect);
    t = await createTestApp({ env: { DATABASE_URL: db.url, RENDER_MAX_RETRIES: '3', RENDER_BACKOFF_MS: '10', PENDING_SWEEP_AFTER: '100ms' } });
    await mkdir(t.storageRoot, { recursive: true });
    await writeFile(path.join(t.storageRoot, 'uploads'), 'not a folder');
    const repo = t.container.uploads;
    const created = await upload(t, await gpsOrientation6Jpeg());
    const done = await until('ended', () => repo.findById(created.id), ended);
    expectFailedForGood(done, /A file is in the way.*STORAGE_ERROR/s);
    expect(done?.attempts).toBe(1);
    expect(await repo.findStale(new Date(Date.now() + 60_000))).not.toContain(created.id);
  });

  it.skipIf(skipDialect(dialect))('a retryable failure that persists: retried with the render rules (RENDER_MAX_RETRIES), then REJECTED saying it gave up', async () => {
    db = await createTestDatabase(dialect);
    t = await createTestApp({ env: { DATABASE_URL: db.url }, background: false });
    const repo = t.container.uploads;
    const storage = new UploadStorage(t.container.storage.storage, { publicBucket: true, signedUrlExpiresSeconds: 60 });
    // The worker's temp folder is a file: every attempt fails to make its working folder (ENOTDIR, untyped: retryable).
    const notAFolder = path.join(t.dir, 'tmp-is-a-file');
    await writeFile(notAFolder, 'x');
    const task = createProcessUploadTask({
      uploads: repo, storage, scanner: t.container.scanner, logger: silentLogger, leaseMs: 30_000,
      maxBytes: 1 << 20, maxInputPixels: 40_000_000, tempDir: notAFolder, retry: { backoffMs: 5 },
    });
    const queue = new InProcessRenderQueue({ task, policy: { maxRetries: 2, backoffMs: 5 }, concurrency: 1, logger: silentLogger });
    await queue.start();
    try {
      const id = randomUUID();
      await storage.stage(id, Readable.from([await gpsOrientation6Jpeg()]));
      await repo.create({ id, ownerId: 'user-a', kind: 'design-image', stagingKey: `staging/${id}`, bytes: 1, filename: null });
      await queue.enqueue(id);
      await queue.drain();
      const done = await repo.findById(id);
      expectFailedForGood(done, /\(gave up after 3 attempts\): Processing failed because of an internal error/);
      expect(done?.attempts).toBe(3);
      expect((await t.container.storage.storage.list('staging/')).objects).toEqual([]);
    } finally {
      await queue.close();
    }
  });
});

describe.skipIf(skipRedis || skipDialect('postgres'))('upload failures on BullMQ (customify worker)', () => {
  it('SCAN_PROTOCOL ends the upload at its first attempt on the BullMQ worker too: REJECTED without reason, counted by the worker', async () => {
    const port = await listen((socket) => {
      socket.on('data', () => undefined);
      socket.end('hello\0');
    });
    db = await createTestDatabase('postgres');
    t = await createTestApp({
      env: {
        DATABASE_URL: db.url, REDIS_URL, RENDER_QUEUE_NAME: `uploads-failures-${randomUUID().slice(0, 8)}`,
        CLAMD_HOST: '127.0.0.1', CLAMD_PORT: String(port), RENDER_MAX_RETRIES: '3', RENDER_BACKOFF_MS: '10', PENDING_SWEEP_AFTER: '100ms',
      },
    });
    worker = await buildContainer(t.settings, { logger: silentLogger, role: 'worker' });
    await worker.startBackground();
    const repo = t.container.uploads;
    const created = await upload(t, await gpsOrientation6Jpeg());
    const done = await until('ended', () => repo.findById(created.id), ended);
    expectFailedForGood(done, /\[SCAN_PROTOCOL\]/);
    expect(done?.attempts).toBe(1);
    // The worker counts after it has recorded the end (and woken any designs waiting on it): poll, as a scraper would.
    const counted = /^customify_upload_pipeline_total\{outcome="failed"\} 1$/m;
    expect(await until('counted by the worker', () => worker!.metrics.registry.metrics(), (text) => counted.test(text), 5_000)).toMatch(counted);
  });
});

describe('the wait between rounds while the scanner is out', () => {
  it('doubles per round of attempts from the queue backoff, and is capped', () => {
    expect([4, 8, 12, 16].map((claims) => scannerWaitMs(claims, 4, { backoffMs: 1000 }))).toEqual([1000, 2000, 4000, 8000]);
    expect(scannerWaitMs(400, 4, { backoffMs: 1000 })).toBe(SCANNER_RETRY_MAX_DELAY_MS);
    expect(scannerWaitMs(1_000_000, 1, { backoffMs: 1000 })).toBe(SCANNER_RETRY_MAX_DELAY_MS);
  });
});

/**
 * A TCP relay in front of the private clamd that forwards what we send slowly (so a scan is
 * still streaming when the test stops clamd) and resets our side when clamd's side goes, as
 * the kernel does for a direct connection to a killed daemon.
 */
async function slowRelay(target: () => number): Promise<{ port: number; forwarded: () => number }> {
  let forwarded = 0;
  const port = await listen((client) => {
    const upstream = connect(target(), '127.0.0.1');
    const reset = () => {
      if (!client.destroyed) client.resetAndDestroy();
    };
    upstream.on('error', reset);
    upstream.on('close', reset);
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('data', (data: Buffer) => client.write(data));
    client.on('data', (data: Buffer) => {
      client.pause();
      // 16 KiB every 20 ms: about 800 KB/s.
      void (async () => {
        for (let offset = 0; offset < data.length && !upstream.destroyed; offset += 16 * 1024) {
          const piece = data.subarray(offset, offset + 16 * 1024);
          if (upstream.connecting) await new Promise((resolve) => upstream.once('connect', resolve));
          upstream.write(piece);
          forwarded += piece.length;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        client.resume();
      })();
    });
  });
  return { port, forwarded: () => forwarded };
}

describe.skipIf(!clamdBinaryPath && !process.env.CI)('clamd stopped in the middle of a scan', () => {
  it('the upload stays SCANNING with a message while clamd is down, and is published only once clamd is back and finds it clean', async () => {
    const clamdPort = await freePort();
    clamd = await startPrivateClamd({}, { port: clamdPort });
    const relay = await slowRelay(() => clamdPort);
    t = await createTestApp({ env: { CLAMD_HOST: '127.0.0.1', CLAMD_PORT: String(relay.port), RENDER_MAX_RETRIES: '1', RENDER_BACKOFF_MS: '20', PENDING_SWEEP_AFTER: '100ms' } });
    const repo = t.container.uploads;
    // A photo-like JPEG of about 600 KB: under a second through the relay.
    const photo = await sharp({ create: { width: 600, height: 600, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 50 } } }).jpeg({ quality: 95 }).toBuffer();
    expect(photo.length).toBeGreaterThan(300_000);
    const created = await upload(t, photo);

    await until('the scan to be streaming', () => Promise.resolve(relay.forwarded()), (n) => n >= 64 * 1024);
    await clamd.stop();
    clamd = undefined;
    const atStop = relay.forwarded();
    expect(atStop).toBeLessThan(photo.length); // stopped mid-stream

    const waiting = await until('retried while clamd is down', () => repo.findById(created.id), (u) => (u?.attempts ?? 0) >= 3);
    expect(waiting).toMatchObject({ status: 'SCANNING', originalKey: null, reason: null, scan: null });
    expect(waiting?.message).toMatch(/Waiting for the virus scanner: .*SCAN_UNAVAILABLE.*not published until it scans clean/s);
    expect((await t.container.storage.storage.list(`uploads/${created.id}/`)).objects).toEqual([]);
    const view = (await t.app.inject({ method: 'GET', url: `/api/v1/uploads/${created.id}`, headers: await authHeaders() })).json<UploadView>();
    expect(view).toMatchObject({ status: 'SCANNING', url: null, message: expect.stringMatching(/virus scanner/) as unknown });
    expect(await t.container.metrics.registry.metrics()).toMatch(/^customify_upload_pipeline_total\{outcome="scanner-unavailable"\} [1-9]/m);

    clamd = await startPrivateClamd({}, { port: clamdPort });
    const published = await until('published', () => repo.findById(created.id), ended);
    // Compared as a small object, so that a failure shows the status, reason and message it ended with.
    expect({ status: published?.status, reason: published?.reason, scan: published?.scan, message: published?.message }).toEqual({ status: 'PUBLISHED', reason: null, scan: 'clean', message: null });
    expect(relay.forwarded()).toBeGreaterThan(atStop + photo.length); // scanned again, whole, by the new clamd
  });
});

describe.skipIf(!clamdBinaryPath && !process.env.CI)('a file over clamd\'s StreamMaxLength, the limit not configured', () => {
  it('is REJECTED/TOO_LARGE at its first attempt, every time, never left SCANNING as if clamd were down', async () => {
    clamd = await startPrivateClamd({ StreamMaxLength: '1M' });
    t = await createTestApp({ env: { CLAMD_HOST: clamd.host, CLAMD_PORT: String(clamd.port), RENDER_MAX_RETRIES: '2', RENDER_BACKOFF_MS: '10' } });
    const repo = t.container.uploads;
    const photo = await sharp({ create: { width: 1600, height: 1600, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 50 } } }).jpeg({ quality: 95 }).toBuffer();
    expect(photo.length).toBeGreaterThan(1.5 * 1024 * 1024);
    const created = [];
    for (let i = 0; i < 12; i++) created.push(await upload(t, photo));
    for (const { id } of created) {
      const done = await until('ended', () => repo.findById(id), ended);
      expect(done).toMatchObject({ status: 'REJECTED', reason: 'TOO_LARGE', attempts: 1 });
      expect(done?.message).toMatch(/larger than the virus scanner accepts/);
    }
  });
});

describe.skipIf(skipClamd)('DELETE of an infected upload', () => {
  it('removes the row at once; the quarantined file stays for audit until `customify cleanup --prefix quarantine/` passes its retention', async () => {
    t = await createTestApp({ env: { CLAMD_HOST: clamdTarget.host, CLAMD_PORT: String(clamdTarget.port) } });
    const repo = t.container.uploads;
    const storage = t.container.storage.storage;
    const created = await upload(t, Buffer.from(EICAR));
    expect(await until('ended', () => repo.findById(created.id), ended)).toMatchObject({ status: 'REJECTED', reason: 'INFECTED' });
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/uploads/${created.id}`, headers: await authHeaders() });
    expect(res.statusCode).toBe(204);
    expect(await repo.findById(created.id)).toBeNull();
    const keys = async () => (await storage.list('quarantine/')).objects.map((o) => o.key);
    expect(await keys()).toEqual([`quarantine/${created.id}`]);

    const day = 86_400_000;
    const clean = (now: Date) => runCleanup({ storage, now, olderThanMs: 30 * day, prefix: 'quarantine/', dryRun: false, orphans: false, print: () => undefined });
    expect(await clean(new Date())).toMatchObject({ deleted: 0 });
    expect(await keys()).toHaveLength(1);
    expect(await clean(new Date(Date.now() + 31 * day))).toMatchObject({ deleted: 1 });
    expect(await keys()).toEqual([]);
  });
});
