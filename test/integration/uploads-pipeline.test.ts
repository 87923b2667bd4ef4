import { afterEach, describe, expect, it } from 'vitest';
import { assertScanningConfigured } from '../../src/composition-root.js';
import { configFrom } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { UploadRepository } from '../../src/uploads/upload-repository.js';
import type { UploadView } from '../../src/uploads/upload-service.js';
import { authHeaders, createTestApp, freePort, type TestApp } from '../helpers/app.js';
import { clamdBinaryPath, startPrivateClamd, type PrivateClamd } from '../helpers/clamd.js';
import { DIALECTS, createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { gpsOrientation6Jpeg } from '../fixtures/uploads/images.js';
import { spawnCustomify, until } from '../helpers/services.js';

/** The upload pipeline's scanner rules: disabled scanning, clamd outages, SCAN_REQUIRED; the repository's claim. */

let t: TestApp | undefined;
let clamd: PrivateClamd | undefined;
afterEach(async () => {
  await t?.close();
  await clamd?.stop();
  t = undefined;
  clamd = undefined;
});

async function upload(app: TestApp, body: Buffer): Promise<UploadView> {
  const res = await app.app.inject({ method: 'POST', url: '/api/v1/uploads', headers: { ...(await authHeaders()), 'content-type': 'image/jpeg' }, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<UploadView>();
}


describe('uploads without CLAMD_HOST (the embedded default)', () => {
  it('are published with the scan recorded as skipped, and /readyz says scanning is disabled', async () => {
    t = await createTestApp();
    const created = await upload(t, await gpsOrientation6Jpeg());
    const app = t;
    const view = await until('published', async () => (await app.app.inject({ method: 'GET', url: `/api/v1/uploads/${created.id}`, headers: await authHeaders() })).json<UploadView>(), (v) => v.status === 'PUBLISHED');
    expect(view.url).toBeTruthy();
    expect((await t.container.uploads.findById(created.id))?.scan).toBe('skipped');
    const ready = (await t.app.inject({ method: 'GET', url: '/readyz' })).json<unknown>();
    expect(ready).toMatchObject({ status: 'ok', notes: [expect.stringMatching(/virus scanning disabled: CLAMD_HOST is not set/) as unknown] });
  });
});

describe('GET /api/v1/uploads pages as designs do', () => {
  it('takes the next_cursor it gave and refuses what the schema refuses, with the same codes and messages', async () => {
    t = await createTestApp();
    const app = t;
    const headers = await authHeaders();
    for (let i = 0; i < 3; i++) await upload(app, await gpsOrientation6Jpeg());
    const list = async (query: string) => app.app.inject({ method: 'GET', url: `/api/v1/uploads?${query}`, headers });
    const first = (await list('limit=2')).json<{ items: UploadView[]; next_cursor: string | null }>();
    expect(first.items).toHaveLength(2);
    expect(first.next_cursor).toMatch(/^[0-9]+_[0-9a-f-]{36}$/);
    const second = (await list(`limit=2&cursor=${first.next_cursor}`)).json<{ items: UploadView[]; next_cursor: string | null }>();
    expect(second).toMatchObject({ next_cursor: null });
    expect(second.items.map((u) => u.id)).not.toContain(first.items[0]!.id);
    for (const [query, code] of [['limit=0', 'INVALID_LIMIT'], ['limit=101', 'INVALID_LIMIT'], ['cursor=bm9wZQ', 'INVALID_CURSOR']] as const) {
      const res = await list(query);
      expect(res.statusCode, query).toBe(400);
      expect(res.json<{ error: { code: string; field: string; message: string } }>().error).toMatchObject({ code, field: query.split('=')[0] });
    }
    expect((await list('cursor=bm9wZQ')).json<{ error: { message: string } }>().error.message).toContain('next_cursor');
  });
});

describe.skipIf(!clamdBinaryPath)('uploads while clamd is unreachable', () => {
  it('stay SCANNING through their retries, are never published unscanned, and are published once clamd answers', async () => {
    const port = await freePort();
    t = await createTestApp({ env: { CLAMD_HOST: '127.0.0.1', CLAMD_PORT: String(port), RENDER_MAX_RETRIES: '1', PENDING_SWEEP_AFTER: '200ms' } });
    const repo = t.container.uploads;
    const created = await upload(t, await gpsOrientation6Jpeg());
    // Both attempts of the first job, and at least one more queued by the sweep.
    const waiting = await until('retried', () => repo.findById(created.id), (u) => (u?.attempts ?? 0) >= 3);
    expect(waiting).toMatchObject({ status: 'SCANNING', originalKey: null, reason: null });
    expect(waiting?.message).toMatch(/^Waiting for the virus scanner: ClamAV at .* is unreachable/);
    expect((await t.container.storage.storage.list(`uploads/${created.id}/`)).objects).toEqual([]);
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ failing: ['scanner'] });

    clamd = await startPrivateClamd({}, { port });
    const published = await until('published', () => repo.findById(created.id), (u) => u?.status === 'PUBLISHED');
    expect(published).toMatchObject({ scan: 'clean', contentType: 'image/jpeg' });
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('SCAN_REQUIRED', () => {
  it('defaults to true in S3 mode and false in local mode', () => {
    expect(configFrom({ USE_LOCAL_STORAGE: 'false' }).scanRequired).toBe(true);
    expect(configFrom({}).scanRequired).toBe(false);
    expect(configFrom({ USE_LOCAL_STORAGE: 'false', SCAN_REQUIRED: 'false' }).scanRequired).toBe(false);
  });

  it('refuses to start without CLAMD_HOST, naming the variable and the way out', () => {
    const refused = (() => {
      try {
        assertScanningConfigured(configFrom({ USE_LOCAL_STORAGE: 'false' }));
        return null;
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(ConfigError);
    expect(refused).toMatchObject({ field: 'CLAMD_HOST', message: expect.stringMatching(/SCAN_REQUIRED.*CLAMD_HOST.*SCAN_REQUIRED=false/s) as unknown });
    expect(() => assertScanningConfigured(configFrom({ USE_LOCAL_STORAGE: 'false', CLAMD_HOST: '127.0.0.1' }))).not.toThrow();
    expect(() => assertScanningConfigured(configFrom({}))).not.toThrow();
  });

  it('refuses to start when UPLOAD_MAX_BYTES is above CLAMD_STREAM_MAX_BYTES: such files could never be scanned', () => {
    const env = { CLAMD_HOST: '127.0.0.1', CLAMD_STREAM_MAX_BYTES: String(25 * 1024 * 1024) };
    expect(() => assertScanningConfigured(configFrom({ ...env, UPLOAD_MAX_BYTES: String(50 * 1024 * 1024) }))).toThrow(
      expect.objectContaining({ field: 'UPLOAD_MAX_BYTES', message: expect.stringMatching(/CLAMD_STREAM_MAX_BYTES.*StreamMaxLength/s) as unknown }) as Error,
    );
    expect(() => assertScanningConfigured(configFrom({ ...env, UPLOAD_MAX_BYTES: String(25 * 1024 * 1024) }))).not.toThrow();
    // Unknown (0, the default): customify doctor checks it against clamd instead.
    expect(() => assertScanningConfigured(configFrom({ CLAMD_HOST: '127.0.0.1', UPLOAD_MAX_BYTES: String(500 * 1024 * 1024) }))).not.toThrow();
  });
});

describe.each(DIALECTS)('UploadRepository (%s)', (dialect) => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.destroy();
    db = undefined;
  });

  it.skipIf(skipDialect(dialect))('claims an upload once: of two racing workers one wins; an expired lease can be claimed again', async () => {
    db = await createTestDatabase(dialect);
    let now = new Date('2026-01-01T00:00:00Z');
    const repo = new UploadRepository(db.db, () => now);
    const id = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';
    await repo.create({ id, ownerId: 'o', kind: 'design-image', stagingKey: `staging/${id}`, bytes: 3, filename: null });
    const claims = await Promise.all([repo.claim(id, 1000), repo.claim(id, 1000)]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(claims.find(Boolean)).toMatchObject({ status: 'SCANNING', attempts: 1 });
    expect(await repo.claim(id, 1000)).toBeNull();
    now = new Date(now.getTime() + 1000);
    expect(await repo.claim(id, 1000)).toMatchObject({ status: 'SCANNING', attempts: 2 });
    expect(await repo.markClean(id, 'clean')).toMatchObject({ status: 'CLEAN' });
    expect(await repo.markPublished(id, { originalKey: `uploads/${id}/original.png`, contentType: 'image/png', bytes: 10, width: 2, height: 3 })).toMatchObject({ status: 'PUBLISHED', stagingKey: null, width: 2 });
    expect(await repo.markRejected(id, 'CORRUPT', 'x')).toBeNull();
    expect(await repo.findByIdForOwner(id, 'someone-else')).toBeNull();
    expect(await repo.delete(id, 'someone-else')).toBeNull();
    expect(await repo.delete(id, 'o')).toMatchObject({ id });
    expect(await repo.findById(id)).toBeNull();
  });

  it.skipIf(skipDialect(dialect))('releaseLease with a wait keeps the upload from claims and the sweep until then; markFailed ends it REJECTED without a reason', async () => {
    db = await createTestDatabase(dialect);
    let now = new Date('2026-01-01T00:00:00Z');
    const repo = new UploadRepository(db.db, () => now);
    const id = '4a2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2c';
    await repo.create({ id, ownerId: 'o', kind: 'design-image', stagingKey: `staging/${id}`, bytes: 3, filename: null });
    expect(await repo.claim(id, 1000)).toMatchObject({ status: 'SCANNING' });
    expect(await repo.releaseLease(id, 'Waiting for the virus scanner', 60_000)).toBe(true);
    const later = (ms: number) => new Date(now.getTime() + ms);
    expect(await repo.findStale(later(1))).toEqual([]);
    expect(await repo.claim(id, 1000)).toBeNull();
    now = later(60_000);
    expect(await repo.findStale(later(1))).toEqual([id]);
    expect(await repo.claim(id, 1000)).toMatchObject({ status: 'SCANNING', attempts: 2, message: 'Waiting for the virus scanner' });
    expect(await repo.markFailed(id, 'gave up')).toMatchObject({ status: 'REJECTED', reason: null, message: 'gave up', stagingKey: null, leaseUntil: null });
    expect(await repo.markFailed(id, 'again')).toBeNull();
    expect(await repo.findStale(later(3_600_000))).toEqual([]);
  });
});

describe('customify serve and worker with SCAN_REQUIRED', () => {
  it.each([['serve'], ['worker']])('customify %s in S3 mode without CLAMD_HOST exits at once, naming CLAMD_HOST', async (command) => {
    const proc = spawnCustomify([command], {
      USE_LOCAL_STORAGE: 'false', SCAN_REQUIRED: 'true', S3_ENDPOINT: 'http://127.0.0.1:1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-secret-secret',
      REDIS_URL: 'redis://127.0.0.1:1', PORT: '0', JWT_SECRET: 'x'.repeat(40),
    });
    const { code } = await proc.exited;
    expect(code).not.toBe(0);
    expect(proc.output()).toMatch(/SCAN_REQUIRED is true.*CLAMD_HOST is not set/);
  });
});
