import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContainer, type Container } from '../../src/composition-root.js';
import type { Environment } from '../../src/config.js';
import type { DesignView } from '../../src/designs/design-service.js';
import { silentLogger } from '../../src/logger.js';
import type { UploadView } from '../../src/uploads/upload-service.js';
import { authHeaders, pollForStatus, startTestServer, type TestServer } from '../helpers/app.js';
import { clamdTarget, skipClamd } from '../helpers/clamd.js';
import { createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { createPublicTestBucket, deleteTestBucket, getS3TestServer, s3Env } from '../helpers/s3.js';
import { PHOTO_BLUE, PHOTO_RED, near, orientedPhoto, type Rgb } from '../fixtures/uploads/design-photo.js';

/**
 * Issue #11, "designs use them", as a user over real HTTP with the real clamd, on the embedded
 * stack (SQLite, local disk, in-process queue) and the production one (PostgreSQL, BullMQ
 * worker, Ceph RGW): upload a phone photo (GPS EXIF, orientation 6) as a form would, wait for
 * it to be PUBLISHED, create a design that uses it, wait for the design, fetch its preview by
 * its URL and look: the photo's colours, upright, above the text.
 */

interface Stack {
  name: string;
  skip: boolean;
  prepare(): Promise<{ env: Environment; worker?: (server: TestServer) => Promise<Container>; cleanup: () => Promise<void> }>;
}

const STACKS: Stack[] = [
  { name: 'embedded: SQLite, local disk, in-process queue', skip: false, prepare: () => Promise.resolve({ env: {}, cleanup: async () => {} }) },
  {
    name: 'production: PostgreSQL, BullMQ worker, Ceph RGW',
    skip: skipDialect('postgres') || skipRedis,
    prepare: async () => {
      const s3 = await getS3TestServer();
      const bucket = await createPublicTestBucket(s3, 'dimg-e2e');
      const db: TestDatabase = await createTestDatabase('postgres', { migrate: false });
      return {
        env: { DATABASE_URL: db.url, REDIS_URL, RENDER_QUEUE_NAME: `dimg-e2e-${randomBytes(4).toString('hex')}`, ...s3Env(s3, bucket) },
        worker: async (server) => {
          const container = await buildContainer(server.settings, { logger: silentLogger, role: 'worker' });
          await container.startBackground();
          return container;
        },
        async cleanup() {
          await db.destroy();
          await deleteTestBucket(s3, bucket);
        },
      };
    },
  },
];

describe.skipIf(skipClamd).each(STACKS.filter((s) => !s.skip))('a design with an uploaded photo, end to end ($name, real clamd)', (stack) => {
  let server: TestServer;
  let worker: Container | undefined;
  let cleanup: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const prepared = await stack.prepare();
    cleanup = prepared.cleanup;
    server = await startTestServer({ ...prepared.env, CLAMD_HOST: clamdTarget.host, CLAMD_PORT: String(clamdTarget.port) });
    worker = await prepared.worker?.(server);
  });
  afterAll(async () => {
    await worker?.close();
    await server?.stop();
    await cleanup();
  });

  async function api(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { ...(await authHeaders()), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  it('the photo is PUBLISHED, the design that uses it renders it upright above its text, and the upload cannot be deleted while the design lives', async () => {
    // As `curl -F file=@photo.jpg` sends it.
    const form = new FormData();
    form.append('file', new Blob([await orientedPhoto()], { type: 'image/jpeg' }), 'photo.jpg');
    const posted = await fetch(`${server.url}/api/v1/uploads`, { method: 'POST', headers: await authHeaders(), body: form });
    expect(posted.status).toBe(201);
    const { id: uploadId } = (await posted.json()) as UploadView;
    const deadline = Date.now() + 30_000;
    let upload: UploadView;
    do {
      upload = (await (await api('GET', `/uploads/${uploadId}`)).json()) as UploadView;
      if (Date.now() > deadline) throw new Error(`upload still ${upload.status}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    } while (upload.status !== 'PUBLISHED' && upload.status !== 'REJECTED');
    expect(upload).toMatchObject({ status: 'PUBLISHED', width: 40, height: 80 });

    const created = await api('POST', '/designs', {
      product_type: 't-shirt',
      design_data: { text: 'Summer 2026', font: 'Roboto-Bold', color: '#FFFFFF', text_color: '#000000', image: { upload_id: uploadId, placement: { position: 'above', size: 0.5, fit: 'contain' } } },
    });
    expect(created.status).toBe(201);
    const design = (await created.json()) as DesignView;
    const published = await pollForStatus(async () => (await (await api('GET', `/designs/${design.id}`)).json()) as DesignView, 'PUBLISHED', 30_000);

    const previewResponse = await fetch(published.preview_url!);
    expect(previewResponse.status).toBe(200);
    const { data, info } = await sharp(Buffer.from(await previewResponse.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([600, 600]);
    const at = (x: number, y: number): Rgb => {
      const i = (y * info.width + x) * info.channels;
      return [data[i]!, data[i + 1]!, data[i + 2]!];
    };
    // The upright photo (1:2) contained in the top band (520 × 260): 130 × 260 at x 235..365, y 40..300.
    expect(at(345, 60)).toSatisfy((c: Rgb) => near(c, PHOTO_RED)); // its red block, top-right as the phone held it
    expect(at(250, 60)).toSatisfy((c: Rgb) => near(c, PHOTO_BLUE));
    expect(at(300, 250)).toSatisfy((c: Rgb) => near(c, PHOTO_BLUE));
    expect(at(100, 170)).toEqual([255, 255, 255]);
    // The text below the photo: dark ink, and none of it over the photo's band.
    let ink = 0;
    let inkInBand = 0;
    for (let y = 0; y < 600; y++) {
      for (let x = 0; x < 600; x++) {
        if (!at(x, y).every((v) => v < 100)) continue;
        if (y >= 320) ink++;
        else inkInBand++;
      }
    }
    expect(ink).toBeGreaterThan(2000);
    expect(inkInBand).toBe(0);
    const thumbnail = await fetch(published.thumbnail_url!);
    expect(thumbnail.status).toBe(200);

    const refused = await api('DELETE', `/uploads/${uploadId}`);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'UPLOAD_IN_USE', message: expect.stringContaining(design.id) as unknown });
    expect((await api('DELETE', `/designs/${design.id}`)).status).toBe(204);
    expect((await api('DELETE', `/uploads/${uploadId}`)).status).toBe(204);
  });
});
