import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { loadWatermark, renderRenditions, type DesignSpec } from '../../src/rendering/index.js';
import type { UploadView } from '../../src/uploads/upload-service.js';
import { authHeaders, createTestApp, SAMPLE_DESIGN, type TestApp } from '../helpers/app.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { orientedPhoto } from '../fixtures/uploads/design-photo.js';

/**
 * POST /api/v1/previews (issue #14): a design body answered with its preview's bytes, the
 * same pixels a render makes, nothing stored; refused as POST /designs refuses; rate-limited per user.
 */

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

interface ErrorJson { error: { code: string; message: string; field?: string; request_id?: string } }

async function preview(app: TestApp, body: unknown, options: { accept?: string; user?: string } = {}) {
  return app.app.inject({
    method: 'POST', url: '/api/v1/previews',
    headers: { ...(await authHeaders(options.user)), ...(options.accept === undefined ? {} : { accept: options.accept }) },
    payload: body as object,
  });
}

/** Every file under `root`, relative, sorted ([] when it does not exist). */
async function tree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(root, path.join(entry.parentPath, entry.name))).sort();
}

/** The pixels of the preview a render of `body` makes (same options as the container's). */
async function renderedPreview(app: TestApp, body: { product_type: string; design_data: object; watermark?: boolean }, format: 'png' | 'webp', image?: Uint8Array) {
  const { settings } = app;
  const { watermark, ...spec } = body;
  const [file] = await renderRenditions(spec as DesignSpec, {
    compressionLevel: settings.pngCompressionLevel, printAreas: settings.printSpecs, renditions: settings.renditions, formats: [format],
    watermark: await loadWatermark(settings), watermarked: watermark ?? false,
    subset: [{ name: 'preview', format }],
  }, image && Buffer.from(image));
  return file!;
}

async function pixels(bytes: Buffer) {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

async function uploadPhoto(app: TestApp, user = 'user-a'): Promise<UploadView> {
  const res = await app.app.inject({ method: 'POST', url: '/api/v1/uploads', headers: { ...(await authHeaders(user)), 'content-type': 'application/octet-stream' }, payload: await orientedPhoto() });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<UploadView>();
}

async function published(app: TestApp, id: string, user = 'user-a'): Promise<UploadView> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const view = (await app.app.inject({ method: 'GET', url: `/api/v1/uploads/${id}`, headers: await authHeaders(user) })).json<UploadView>();
    if (view.status === 'PUBLISHED') return view;
    if (view.status === 'REJECTED' || Date.now() > deadline) throw new Error(`upload ${id} is ${view.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('POST /api/v1/previews', () => {
  it('answers PNG by default and for */*, WebP when Accept asks for it, each the pixels of the preview a render makes', async () => {
    t = await createTestApp();
    const body = { ...SAMPLE_DESIGN, watermark: false };
    for (const [accept, type] of [[undefined, 'image/png'], ['*/*', 'image/png'], ['image/png', 'image/png'], ['image/webp', 'image/webp'],
      ['image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'image/webp'], ['image/webp;q=0.5, image/png', 'image/png']] as const) {
      const res = await preview(t, body, { accept });
      expect(res.statusCode, `${accept}: ${res.body}`).toBe(200);
      expect(res.headers['content-type'], accept).toBe(type);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.vary).toMatch(/Accept/);
      expect(Number(res.headers['content-length'])).toBe(res.rawPayload.length);
      const meta = await sharp(res.rawPayload).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual([type === 'image/png' ? 'png' : 'webp', 600, 600]);
      const expected = await renderedPreview(t, body, type === 'image/png' ? 'png' : 'webp');
      const [got, want] = await Promise.all([pixels(res.rawPayload), pixels(expected.data)]);
      expect(got.data.equals(want.data), accept).toBe(true);
    }
  });

  it('draws the deployment\'s watermark when the body asks for it (WATERMARK_DEFAULT otherwise), as a render does', async () => {
    t = await createTestApp({ background: false, env: { WATERMARK_TEXT: 'PROOF', WATERMARK_DEFAULT: 'true' } });
    const clean = await preview(t, { ...SAMPLE_DESIGN, watermark: false });
    for (const body of [{ ...SAMPLE_DESIGN, watermark: true }, SAMPLE_DESIGN]) {
      const res = await preview(t, body);
      expect(res.statusCode, res.body).toBe(200);
      const expected = await renderedPreview(t, { ...body, watermark: true }, 'png');
      const [got, want, plain] = await Promise.all([pixels(res.rawPayload), pixels(expected.data), pixels(clean.rawPayload)]);
      expect(got.data.equals(want.data)).toBe(true);
      expect(got.data.equals(plain.data)).toBe(false);
    }
  });

  it('stores nothing: no design row, no file, no queued render, no render counted', async () => {
    t = await createTestApp();
    const metricLines = async () => (await t!.app.inject({ method: 'GET', url: '/metrics' })).body.split('\n').filter((line) => /^customify_(renders|renditions_made|uploads)_total/.test(line));
    const before = { files: await tree(t.storageRoot), metrics: await metricLines() };
    for (const accept of ['image/png', 'image/webp']) expect((await preview(t, { ...SAMPLE_DESIGN, watermark: true }, { accept })).statusCode).toBe(200);
    expect(await tree(t.storageRoot)).toEqual(before.files);
    expect(await metricLines()).toEqual(before.metrics);
    const count = await t.container.db.selectFrom('designs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
    expect(await t.container.queue.depth()).toBe(0);
  });

  it('refuses a bad body with the same status, code and field as POST /api/v1/designs', async () => {
    t = await createTestApp({ background: false });
    const bodies: unknown[] = [
      { ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, color: 'red' } },
      { ...SAMPLE_DESIGN, product_type: 'sock' },
      { ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, font: 'Comic-Sans' } },
      { product_type: 't-shirt' },
      { ...SAMPLE_DESIGN, watermark: 'yes' },
      { ...SAMPLE_DESIGN, extra: 1 },
    ];
    for (const body of bodies) {
      const design = await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers: await authHeaders(), payload: body as object });
      const res = await preview(t, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(design.statusCode).toBe(400);
      const { code, field, message } = res.json<ErrorJson>().error;
      expect({ code, field, message }, JSON.stringify(body)).toEqual((({ code: c, field: f, message: m }) => ({ code: c, field: f, message: m }))(design.json<ErrorJson>().error));
    }
  });

  it('keeps CORS: a browser origin that is allowed gets its header, and Vary names both Origin and Accept', async () => {
    t = await createTestApp({ background: false, env: { CORS_ORIGINS: 'https://shop.example.com' } });
    const res = await t.app.inject({
      method: 'POST', url: '/api/v1/previews', payload: SAMPLE_DESIGN,
      headers: { ...(await authHeaders()), origin: 'https://shop.example.com', accept: 'image/webp' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect(String(res.headers.vary).split(/\s*,\s*/).sort()).toEqual(['Accept', 'Origin']);
  });

  it('needs a token (401), and refuses an Accept it cannot answer (406 naming Accept)', async () => {
    t = await createTestApp({ background: false });
    const anonymous = await t.app.inject({ method: 'POST', url: '/api/v1/previews', payload: SAMPLE_DESIGN });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json<ErrorJson>().error.code).toBe('UNAUTHORIZED');
    for (const accept of ['image/gif', 'image/webp;q=0, image/png;q=0', 'application/json']) {
      const res = await preview(t, SAMPLE_DESIGN, { accept });
      expect(res.statusCode, accept).toBe(406);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json<ErrorJson>().error).toMatchObject({ code: 'NOT_ACCEPTABLE', field: 'Accept', message: expect.stringMatching(/image\/png or image\/webp/) as unknown });
    }
  });

  it('renders the caller\'s own PUBLISHED upload as a render would; another user\'s is 404, one still being checked is 409', async () => {
    t = await createTestApp({ background: false });
    const photo = await uploadPhoto(t);
    const body = { product_type: 'poster', design_data: { text: 'HELLO', font: 'Roboto-Bold', color: '#FFFFFF', text_color: '#000000', image: { upload_id: photo.id } } };
    const waiting = await preview(t, body);
    expect(waiting.statusCode, waiting.body).toBe(409);
    expect(waiting.json<ErrorJson>().error).toMatchObject({ code: 'UPLOAD_NOT_READY', field: 'design_data.image.upload_id' });

    await t.container.startBackground();
    await published(t, photo.id);
    const someoneElse = await preview(t, body, { user: 'user-b' });
    expect(someoneElse.statusCode).toBe(404);
    expect(someoneElse.json<ErrorJson>().error).toMatchObject({ code: 'UPLOAD_NOT_FOUND', field: 'design_data.image.upload_id' });

    const res = await preview(t, body, { accept: 'image/png' });
    expect(res.statusCode, res.body).toBe(200);
    const upload = await t.container.uploads.findById(photo.id);
    const expected = await renderedPreview(t, body, 'png', await t.container.previews.images.read(upload!.originalKey!));
    const [got, want] = await Promise.all([pixels(res.rawPayload), pixels(expected.data)]);
    expect([got.width, got.height]).toEqual([600, 600]);
    expect(got.data.equals(want.data)).toBe(true);
  });

  it('holds each user to PREVIEW_RATE_LIMIT per window: the 4th is 429 with Retry-After and the JSON error; another user still gets 200', async () => {
    t = await createTestApp({ background: false, env: { PREVIEW_RATE_LIMIT: '3', PREVIEW_RATE_WINDOW: '1m' } });
    await expectRateLimited(t);
  });
});

describe.skipIf(skipRedis)('POST /api/v1/previews with REDIS_URL (real Redis)', () => {
  it('counts in Redis: every API process shares one limit per user', async () => {
    const queue = `previews-${randomBytes(4).toString('hex')}`;
    t = await createTestApp({ background: false, env: { REDIS_URL, RENDER_QUEUE_NAME: queue, PREVIEW_RATE_LIMIT: '3', PREVIEW_RATE_WINDOW: '1m' } });
    expect(t.container.previews.rateLimit.redis).toBeDefined();
    // A second process on the same Redis: the user's 3 previews there leave none here.
    const other = await createTestApp({ background: false, env: { REDIS_URL, RENDER_QUEUE_NAME: queue, PREVIEW_RATE_LIMIT: '3', PREVIEW_RATE_WINDOW: '1m' } });
    const user = `redis-user-${randomBytes(4).toString('hex')}`;
    try {
      // A count sent before the connection is up is skipped (no offline queue): wait for both.
      await Promise.all([t, other].map((app) => connected(app.container.previews.rateLimit.redis!)));
      for (let i = 0; i < 3; i++) expect((await preview(other, SAMPLE_DESIGN, { user })).statusCode).toBe(200);
      const limited = await preview(t, SAMPLE_DESIGN, { user });
      expect(limited.statusCode).toBe(429);
      expect(limited.json<ErrorJson>().error.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      await expectRateLimited(t);
    } finally {
      await other.close();
    }
  });
});

describe('POST /api/v1/previews while Redis is unreachable', () => {
  it('answers previews, unlimited, rather than failing them', async () => {
    t = await createTestApp({ background: false, env: { REDIS_URL: 'redis://127.0.0.1:1', PREVIEW_RATE_LIMIT: '1' } });
    for (let i = 0; i < 3; i++) expect((await preview(t, SAMPLE_DESIGN)).statusCode, `request ${i + 1}`).toBe(200);
  });
});

function connected(redis: Redis): Promise<void> {
  return redis.status === 'ready' ? Promise.resolve() : new Promise((resolve) => redis.once('ready', () => resolve()));
}

async function expectRateLimited(app: TestApp): Promise<void> {
  const user = `rate-${randomBytes(4).toString('hex')}`;
  for (let i = 0; i < 3; i++) expect((await preview(app, SAMPLE_DESIGN, { user })).statusCode, `request ${i + 1}`).toBe(200);
  const limited = await preview(app, SAMPLE_DESIGN, { user });
  expect(limited.statusCode).toBe(429);
  const retryAfter = Number(limited.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(limited.headers['content-type']).toMatch(/^application\/json/);
  const { error } = limited.json<ErrorJson>();
  expect(error).toMatchObject({ code: 'RATE_LIMITED', request_id: limited.headers['x-request-id'] });
  expect(error.message).toMatch(/at most 3 per 1m/);
  expect((await preview(app, SAMPLE_DESIGN, { user: `${user}-other` })).statusCode).toBe(200);
}
