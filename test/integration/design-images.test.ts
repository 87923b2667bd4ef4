import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { buildContainer, type Container } from '../../src/composition-root.js';
import type { Environment } from '../../src/config.js';
import type { DesignView } from '../../src/designs/design-service.js';
import { DesignRepository } from '../../src/designs/design-repository.js';
import { newDesign } from '../../src/designs/design.js';
import { createRenderDesignTask } from '../../src/jobs/render-design.task.js';
import { silentLogger } from '../../src/logger.js';
import { renderRenditions } from '../../src/rendering/index.js';
import { UploadRepository } from '../../src/uploads/upload-repository.js';
import type { UploadView } from '../../src/uploads/upload-service.js';
import { authHeaders, createTestApp, type TestApp } from '../helpers/app.js';
import { EICAR, clamdTarget, skipClamd } from '../helpers/clamd.js';
import { DIALECTS, createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { createRenderStack, type RenderStack } from '../helpers/render-stack.js';
import { createPublicTestBucket, deleteTestBucket, getS3TestServer, s3Env } from '../helpers/s3.js';
import { decode, pixelAt, type Color } from '../fixtures/rendering/images.js';
import { PHOTO_BLUE, PHOTO_RED, near, orientedPhoto } from '../fixtures/uploads/design-photo.js';

/**
 * Designs that use uploads (issue #11, design_data.image), through the API on two stacks:
 * SQLite + local disk + the in-process queue, and PostgreSQL + Ceph RGW (S3) + BullMQ with a
 * separate worker; the real clamd scans. The app starts with its workers stopped, so a design
 * can be created while its upload is still RECEIVED (not yet scanned), deterministically.
 */

interface Stack {
  name: string;
  skip: boolean;
  prepare(): Promise<{ env: Environment; cleanup: () => Promise<void> }>;
}

const STACKS: Stack[] = [
  { name: 'SQLite, local disk, in-process queue', skip: false, prepare: () => Promise.resolve({ env: {}, cleanup: async () => {} }) },
  {
    name: 'PostgreSQL, Ceph RGW, BullMQ worker',
    skip: skipDialect('postgres') || skipRedis,
    async prepare() {
      const s3 = await getS3TestServer();
      const bucket = await createPublicTestBucket(s3, 'dimg');
      const db: TestDatabase = await createTestDatabase('postgres', { migrate: false });
      return {
        env: { DATABASE_URL: db.url, REDIS_URL, RENDER_QUEUE_NAME: `dimg-${randomBytes(4).toString('hex')}`, ...s3Env(s3, bucket) },
        async cleanup() {
          await db.destroy();
          await deleteTestBucket(s3, bucket);
        },
      };
    },
  },
];

const RED: Color = PHOTO_RED;
const BLUE: Color = PHOTO_BLUE;

describe.skipIf(skipClamd).each(STACKS.filter((s) => !s.skip))('designs with an image ($name, real clamd)', (stack) => {
  let t: TestApp | undefined;
  let worker: Container | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await worker?.close();
    await t?.close();
    await cleanup?.();
    t = worker = cleanup = undefined;
  });

  /** The app with its workers stopped; `start()` starts them (and, with Redis, a `customify worker` container). */
  async function app(): Promise<{ t: TestApp; start: () => Promise<void> }> {
    const prepared = await stack.prepare();
    cleanup = prepared.cleanup;
    t = await createTestApp({ background: false, env: { ...prepared.env, CLAMD_HOST: clamdTarget.host, CLAMD_PORT: String(clamdTarget.port) } });
    const ready = t;
    return {
      t: ready,
      async start() {
        await ready.container.startBackground();
        if (ready.settings.redisUrl) {
          worker = await buildContainer(ready.settings, { logger: silentLogger, role: 'worker' });
          await worker.startBackground();
        }
      },
    };
  }

  async function upload(a: TestApp, body: Buffer, user = 'user-a'): Promise<UploadView> {
    const res = await a.app.inject({ method: 'POST', url: '/api/v1/uploads', headers: { ...(await authHeaders(user)), 'content-type': 'application/octet-stream' }, payload: body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<UploadView>();
  }

  async function postDesign(a: TestApp, designData: Record<string, unknown>, user = 'user-a') {
    return a.app.inject({
      method: 'POST', url: '/api/v1/designs', headers: await authHeaders(user),
      payload: { product_type: 'poster', design_data: { font: 'Roboto-Bold', color: '#FFFFFF', text_color: '#000000', ...designData } },
    });
  }

  async function stored(a: TestApp, key: string): Promise<Buffer> {
    const object = await a.container.storage.storage.get(key);
    const chunks: Buffer[] = [];
    for await (const chunk of object.body as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  it('a design made while its upload is unchecked waits in PENDING (not queued, not counted), then renders the photo upright once the upload is PUBLISHED', async () => {
    const { t: a, start } = await app();
    const photo = await upload(a, await orientedPhoto());
    const res = await postDesign(a, { text: 'HELLO', image: { upload_id: photo.id } });
    expect(res.statusCode, res.body).toBe(201);
    const design = res.json<DesignView>();
    expect(design).toMatchObject({ status: 'PENDING', design_data: { image: { upload_id: photo.id } } });
    expect(await a.container.queue.depth()).toBe(0);

    await start();
    const published = await a.waitForStatus(design.id, 'PUBLISHED', { timeoutMs: 30_000 });
    expect(published.attempts).toBe(1);
    const stale = await a.container.designs.findById(design.id);
    const preview = await decode(await stored(a, stale!.previewKey!));
    // A poster's print area is 18 x 24 in: the preview's trim is 450 x 600 at x 75, its inner
    // area 390 x 540 at (105, 30). Above the text: the upright photo (1:2) contained in the
    // 390 × 270 band is 135 × 270 at x 232..367, y 30..300, its red block top-right; the text below.
    expect(pixelAt(preview, 345, 60)).toSatisfy((c: Color) => near(c, RED));
    expect(pixelAt(preview, 260, 250)).toSatisfy((c: Color) => near(c, BLUE));
    expect(pixelAt(preview, 100, 170)).toEqual([255, 255, 255]);
    let ink = 0;
    for (let y = 320; y < 560; y++) for (let x = 40; x < 560; x++) if (pixelAt(preview, x, y).every((v) => v < 100)) ink++;
    expect(ink).toBeGreaterThan(2000);
    const thumbnail = await decode(await stored(a, stale!.thumbnailKey!));
    expect(pixelAt(thumbnail, 115, 20)).toSatisfy((c: Color) => near(c, RED, 60));
  });

  it('an upload found INFECTED fails the designs waiting for it, saying why; a new design with it is refused (409)', async () => {
    const { t: a, start } = await app();
    const infected = await upload(a, Buffer.from(EICAR));
    const design = (await postDesign(a, { image: { upload_id: infected.id, placement: { size: 0.8 } } })).json<DesignView>();
    expect(design.status).toBe('PENDING');
    await start();
    const failed = await a.waitForStatus(design.id, 'FAILED', { timeoutMs: 30_000 });
    expect(failed.error).toMatch(/image of this design \(upload [0-9a-f-]{36}\) was rejected \(INFECTED\).*malware.*another upload/s);
    expect(failed.preview_url).toBeNull();
    const again = await postDesign(a, { text: 'x', image: { upload_id: infected.id } });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'UPLOAD_REJECTED', field: 'design_data.image.upload_id', message: expect.stringMatching(/INFECTED/) as unknown } });
  });

  it('someone else\'s upload is as unknown as an id that never existed (404 naming the field); an upload in use cannot be deleted (409 naming the designs) until they are', async () => {
    const { t: a, start } = await app();
    await start();
    const photo = await upload(a, await orientedPhoto());
    const theirs = await postDesign(a, { text: 'x', image: { upload_id: photo.id } }, 'user-b');
    const unknown = await postDesign(a, { text: 'x', image: { upload_id: randomUUID() } }, 'user-b');
    for (const res of [theirs, unknown]) {
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: { code: 'UPLOAD_NOT_FOUND', field: 'design_data.image.upload_id' } });
    }
    expect(theirs.json<{ error: { message: string } }>().error.message).toBe(unknown.json<{ error: { message: string } }>().error.message);

    const first = (await postDesign(a, { text: 'one', image: { upload_id: photo.id } })).json<DesignView>();
    const second = (await postDesign(a, { image: { upload_id: photo.id.toUpperCase(), placement: { position: 'behind' } } })).json<DesignView>();
    await a.waitForStatus(first.id, 'PUBLISHED', { timeoutMs: 30_000 });
    await a.waitForStatus(second.id, 'PUBLISHED', { timeoutMs: 30_000 });
    const del = async (user = 'user-a') => a.app.inject({ method: 'DELETE', url: `/api/v1/uploads/${photo.id}`, headers: await authHeaders(user) });
    expect((await del('user-b')).statusCode).toBe(404); // no hint that it exists, let alone that it is used
    const refused = await del();
    expect(refused.statusCode).toBe(409);
    const error = refused.json<{ error: { code: string; message: string; field: string } }>().error;
    expect(error).toMatchObject({ code: 'UPLOAD_IN_USE', field: 'id' });
    expect(error.message).toContain(first.id);
    expect(error.message).toContain(second.id);
    for (const design of [first, second]) {
      expect((await a.app.inject({ method: 'DELETE', url: `/api/v1/designs/${design.id}`, headers: await authHeaders() })).statusCode).toBe(204);
    }
    expect((await del()).statusCode).toBe(204);
    expect((await a.container.storage.storage.list(`uploads/${photo.id}/`)).objects).toEqual([]);
  });

  it('a DELETE of an upload racing a POST of a design that uses it: one of them fails, never a design left with no upload', async () => {
    const { t: a, start } = await app();
    await start();
    const photos = await Promise.all(Array.from({ length: 6 }, async () => upload(a, await orientedPhoto())));
    const outcomes = await Promise.all(photos.map(async (photo) => {
      const [deleted, created] = await Promise.all([
        a.app.inject({ method: 'DELETE', url: `/api/v1/uploads/${photo.id}`, headers: await authHeaders() }),
        postDesign(a, { text: 'race', image: { upload_id: photo.id } }),
      ]);
      return { photo, deleted: deleted.statusCode, created: created.statusCode, design: created.statusCode === 201 ? created.json<DesignView>() : null };
    }));
    for (const o of outcomes) {
      expect([[204, 404], [409, 201]]).toContainEqual([o.deleted, o.created]);
      const row = await a.container.uploads.findById(o.photo.id);
      if (o.design) expect(row).not.toBeNull();
      else expect(row).toBeNull();
    }
  });
});

describe.each(DIALECTS)('waiting for an image upload (%s)', (dialect) => {
  let db: TestDatabase | undefined;
  let stack: RenderStack | undefined;
  afterEach(async () => {
    await db?.destroy();
    await stack?.destroy();
    db = stack = undefined;
  });

  it.skipIf(skipDialect(dialect))('a render of a design whose upload is unchecked gives the claim back uncounted, and the sweep leaves it alone until the upload is done', async () => {
    stack = await createRenderStack(dialect);
    const { designs } = stack;
    const uploads = new UploadRepository(stack.database.db);
    const uploadId = randomUUID();
    await uploads.create({ id: uploadId, ownerId: 'o', kind: 'design-image', stagingKey: `staging/${uploadId}`, bytes: 3, filename: null });
    const design = newDesign({ ownerId: 'o', productType: 'mug', designData: { font: 'Roboto-Bold', color: '#FFF', image: { upload_id: uploadId } }, now: new Date(Date.now() - 60_000) });
    await designs.create(design);
    const plain = newDesign({ ownerId: 'o', productType: 'mug', designData: { text: 'x', font: 'Roboto-Bold', color: '#FFF' }, now: new Date(Date.now() - 60_000) });
    await designs.create(plain);
    // Every PENDING design counts as old (a minute ahead of now), so what keeps the waiting one
    // out is its upload's status, not an updated_at that falls in the same millisecond as the sweep.
    const sweep = async () => (await designs.findStale({ pendingBefore: new Date(Date.now() + 60_000) })).map((d) => d.id);
    expect(await sweep()).toEqual([plain.id]);
    expect(await designs.idsWaitingForUpload(uploadId)).toEqual([design.id]);

    const task = createRenderDesignTask({
      designs, storage: stack.assets, renderAssets: (spec, image) => renderRenditions(spec, {}, image && Buffer.from(image)),
      images: { find: (id) => uploads.findById(id), read: () => Promise.reject(new Error('not published')) },
      logger: silentLogger, leaseMs: 30_000,
    });
    for (let i = 0; i < 3; i++) {
      expect(await task(design.id, { attempt: 1, maxAttempts: 4 })).toEqual({ status: 'SKIPPED', reason: 'waiting-for-image' });
    }
    expect(await designs.findById(design.id)).toMatchObject({ status: 'PENDING', attempts: 0, leaseUntil: null, error: null, uploadId });
    expect(await sweep()).toEqual([plain.id]);

    // Rejected: the sweep picks it up (the upload's own wake-up may have been lost), and the render fails it.
    await uploads.claim(uploadId, 1000);
    await uploads.markRejected(uploadId, 'CORRUPT', 'The file is truncated.');
    expect(await sweep()).toContain(design.id);
    const failed = await task(design.id, { attempt: 1, maxAttempts: 4 }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'RENDER_FAILED' });
    expect(await designs.findById(design.id)).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/was rejected \(CORRUPT\).*The file is truncated/) as unknown });
  });

  it.skipIf(skipDialect(dialect))('the database refuses to delete an upload a design uses, and to record a design whose upload is gone', async () => {
    db = await createTestDatabase(dialect);
    const designs = new DesignRepository(db.db);
    const uploads = new UploadRepository(db.db);
    const uploadId = randomUUID();
    await uploads.create({ id: uploadId, ownerId: 'o', kind: 'design-image', stagingKey: `staging/${uploadId}`, bytes: 3, filename: null });
    const design = newDesign({ ownerId: 'o', productType: 'mug', designData: { font: 'Roboto-Bold', color: '#FFF', image: { upload_id: uploadId } }, now: new Date() });
    await designs.create(design);
    await expect(uploads.delete(uploadId, 'o')).rejects.toMatchObject({ code: 'UPLOAD_IN_USE' });
    expect(await designs.idsUsingUpload(uploadId)).toEqual([design.id]);
    expect(await designs.tombstone(design.id, 'o')).not.toBeNull();
    expect(await designs.idsUsingUpload(uploadId)).toEqual([]);
    await expect(uploads.delete(uploadId, 'o')).rejects.toMatchObject({ code: 'UPLOAD_IN_USE' }); // the tombstoned row still holds it
    await designs.removeTombstoned(design.id);
    expect(await uploads.delete(uploadId, 'o')).toMatchObject({ id: uploadId });
    const orphan = newDesign({ ownerId: 'o', productType: 'mug', designData: { font: 'Roboto-Bold', color: '#FFF', image: { upload_id: uploadId } }, now: new Date() });
    await expect(designs.create(orphan)).rejects.toMatchObject({ code: 'UPLOAD_NOT_FOUND', field: 'design_data.image.upload_id' });
  });
});

describe('POST /api/v1/designs with a malformed design_data.image', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it.each([
    [{ text: 'x', image: { upload_id: 'photo.jpg' } }, 'INVALID_UPLOAD_ID', 'design_data.image.upload_id'],
    [{ text: 'x', image: {} }, 'FIELD_REQUIRED', 'design_data.image.upload_id'],
    [{ text: 'x', image: { upload_id: randomUUID(), placement: { size: 0 } } }, 'INVALID_VALUE', 'design_data.image.placement.size'],
    [{ text: 'x', image: { upload_id: randomUUID(), placement: { size: '0.5' } } }, 'INVALID_TYPE', 'design_data.image.placement.size'],
    [{ text: 'x', image: { upload_id: randomUUID(), placement: { position: 'left' } } }, 'INVALID_VALUE', 'design_data.image.placement.position'],
    [{ text: 'x', image: { upload_id: randomUUID(), placement: { fit: 'fill' } } }, 'INVALID_VALUE', 'design_data.image.placement.fit'],
    [{ text: 'x', image: { upload_id: randomUUID(), url: 'https://example.com/a.png' } }, 'UNKNOWN_FIELD', 'design_data.image.url'],
    [{ image: null }, 'INVALID_TYPE', 'design_data.image'],
    [{}, 'FIELD_REQUIRED', 'design_data.text'],
  ])('%j: 400 %s naming %s', async (patch, code, field) => {
    t ??= await createTestApp({ background: false });
    const res = await t.app.inject({
      method: 'POST', url: '/api/v1/designs', headers: await authHeaders(),
      payload: { product_type: 'mug', design_data: { font: 'Roboto-Bold', color: '#000000', ...patch } },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: { code, field } });
  });
});
