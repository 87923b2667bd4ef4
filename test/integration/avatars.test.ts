import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp, { type OutputInfo } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AVATAR_FORMATS, AVATAR_SIZES, AvatarPublisher, AvatarRepository, avatarKeys, type AvatarView } from '../../src/avatars/index.js';
import type { Environment } from '../../src/config.js';
import { buildContainer, type Container } from '../../src/composition-root.js';
import { silentLogger } from '../../src/logger.js';
import { UploadStorage } from '../../src/uploads/upload-storage.js';
import { authHeaders, createTestApp, type TestApp } from '../helpers/app.js';
import { EICAR, clamdTarget, skipClamd } from '../helpers/clamd.js';
import { createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { createTestBucket, deleteTestBucket, getS3TestServer, s3Env } from '../helpers/s3.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { pngDeclaring } from '../fixtures/uploads/images.js';

/**
 * PUT/GET/DELETE /api/v1/users/me/avatar (issue #11) through the real pipeline with the real
 * clamd, on SQLite with local disk and on PostgreSQL with Ceph RGW (S3 mode, private bucket:
 * presigned URLs), in-process and with a BullMQ worker. What a user depends on: six upright, metadata-free squares of the right
 * size and format; a replacement swaps them only once published; a refused one changes nothing.
 */

const run = promisify(execFile);
const MAX_BYTES = 256 * 1024;

interface Stack {
  name: string;
  skip: boolean;
  prepare(): Promise<{ env: Environment; cleanup: () => Promise<void>; worker?: boolean }>;
}

/** PostgreSQL and a private Ceph bucket (presigned URLs); with `redis`, a BullMQ queue served by a separate `customify worker` container. */
async function postgresAndCeph(redis: boolean): Promise<{ env: Environment; cleanup: () => Promise<void>; worker: boolean }> {
  const s3 = await getS3TestServer();
  const bucket = await createTestBucket(s3, 'avatars');
  const db: TestDatabase = await createTestDatabase('postgres', { migrate: false });
  return {
    env: {
      DATABASE_URL: db.url, ...s3Env(s3, bucket, { S3_PUBLIC_BUCKET: 'false' }),
      ...(redis ? { REDIS_URL, RENDER_QUEUE_NAME: `avatars-${randomUUID().slice(0, 8)}` } : {}),
    },
    worker: redis,
    async cleanup() {
      await db.destroy();
      await deleteTestBucket(s3, bucket);
    },
  };
}

const STACKS: Stack[] = [
  { name: 'SQLite, local disk', skip: false, prepare: () => Promise.resolve({ env: {}, cleanup: async () => {} }) },
  { name: 'PostgreSQL, Ceph S3, in-process queue', skip: skipDialect('postgres'), prepare: () => postgresAndCeph(false) },
  { name: 'PostgreSQL, Ceph S3, BullMQ worker', skip: skipDialect('postgres') || skipRedis, prepare: () => postgresAndCeph(true) },
];

/**
 * A 600x400 JPEG stored sideways, left half red and right half blue, with camera and GPS EXIF
 * and orientation 6: shown upright it is 400x600, red on top and blue below.
 */
function sidewaysPhoto(left: [number, number, number] = [220, 20, 20], right: [number, number, number] = [20, 20, 220]): Promise<Buffer> {
  const width = 600;
  const height = 400;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(x < width / 2 ? left : right, (y * width + x) * 3);
  return sharp(data, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .withExif({
      IFD0: { Make: 'TestCam', Model: 'Leaky 1' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2628/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3942/100' },
    })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

/** exiftool's view of a file: group:tag → value. */
async function exif(file: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('exiftool', ['-j', '-G', '-a', file]);
  return (JSON.parse(stdout) as Array<Record<string, unknown>>)[0]!;
}

describe.skipIf(skipClamd).each(STACKS.filter((s) => !s.skip))('avatars ($name, real clamd)', (stack) => {
  let t: TestApp;
  let worker: Container | undefined;
  let cleanup: () => Promise<void> = async () => {};
  let scratch: string;

  beforeAll(async () => {
    const prepared = await stack.prepare();
    cleanup = prepared.cleanup;
    scratch = await createTempDir('avatars');
    t = await createTestApp({
      env: { ...prepared.env, CLAMD_HOST: clamdTarget.host, CLAMD_PORT: String(clamdTarget.port), AVATAR_MAX_BYTES: String(MAX_BYTES) },
    });
    if (prepared.worker) {
      worker = await buildContainer(t.settings, { logger: silentLogger, role: 'worker' });
      await worker.startBackground();
    }
  });
  afterAll(async () => {
    await worker?.close();
    await t?.close();
    await cleanup();
    if (scratch) await removeTempDir(scratch);
  });

  async function put(body: Buffer, contentType: string, user = 'user-a') {
    return t.app.inject({ method: 'PUT', url: '/api/v1/users/me/avatar', headers: { ...(await authHeaders(user)), 'content-type': contentType }, payload: body });
  }

  async function putMultipart(body: Buffer, filename: string, user = 'user-a') {
    const form = new FormData();
    form.append('file', new Blob([body], { type: 'image/jpeg' }), filename);
    const request = new Request('http://x/', { method: 'POST', body: form });
    return t.app.inject({
      method: 'PUT', url: '/api/v1/users/me/avatar',
      headers: { ...(await authHeaders(user)), 'content-type': request.headers.get('content-type')! },
      payload: Buffer.from(await request.arrayBuffer()),
    });
  }

  async function get(user = 'user-a') {
    return t.app.inject({ method: 'GET', url: '/api/v1/users/me/avatar', headers: await authHeaders(user) });
  }

  function accepted(res: { statusCode: number; body: string; json: () => unknown }): AvatarView {
    expect(res.statusCode, res.body).toBe(202);
    const view = res.json() as AvatarView;
    expect(view).toMatchObject({ status: 'RECEIVED', reason: null });
    return view;
  }

  /** Until the attempt is PUBLISHED or REJECTED (or gone: replaced by a later one). */
  async function settle(uploadId: string): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const upload = await t.container.uploads.findById(uploadId);
      if (!upload) return 'GONE';
      if (upload.status === 'PUBLISHED' || upload.status === 'REJECTED') return upload.status;
      if (Date.now() > deadline) throw new Error(`avatar upload ${uploadId} still ${upload.status} (${upload.message ?? ''})`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function settledView(uploadId: string, user = 'user-a'): Promise<AvatarView> {
    await settle(uploadId);
    const res = await get(user);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<AvatarView>();
  }

  async function keys(prefix: string): Promise<string[]> {
    return (await t.container.storage.storage.list(prefix)).objects.map((o) => o.key).sort();
  }

  /** The keys under `prefix` once they are `expected`: a replaced avatar is removed just after its replacement is PUBLISHED. */
  async function keysOnce(prefix: string, expected: (keys: string[]) => boolean): Promise<string[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = await keys(prefix);
      if (expected(found) || Date.now() > deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Fetches a URL the API handed out: through the app's /static route (local disk) or from Ceph (presigned). */
  async function download(url: string): Promise<{ type: string | undefined; bytes: Buffer }> {
    if (t.settings.useLocalStorage) {
      const res = await t.app.inject({ method: 'GET', url: new URL(url).pathname });
      expect(res.statusCode, url).toBe(200);
      return { type: res.headers['content-type'] as string | undefined, bytes: res.rawPayload };
    }
    const res = await fetch(url);
    expect(res.status, url).toBe(200);
    return { type: res.headers.get('content-type') ?? undefined, bytes: Buffer.from(await res.arrayBuffer()) };
  }

  function pixel(raw: { data: Buffer; info: OutputInfo }, x: number, y: number): number[] {
    const at = (y * raw.info.width + x) * raw.info.channels;
    return [...raw.data.subarray(at, at + 3)];
  }

  let first: AvatarView;

  it('a JPEG with EXIF orientation 6 and GPS: PUBLISHED as 6 squares (512/128/64, WebP and PNG), upright, with no EXIF', async () => {
    const photo = await sidewaysPhoto();
    const original = path.join(scratch, 'sent.jpg');
    await writeFile(original, photo);
    // The input does carry what must go: so the checks below can fail.
    expect(Object.keys(await exif(original))).toEqual(expect.arrayContaining(['EXIF:Make', 'EXIF:GPSLatitude', 'EXIF:Orientation']));

    const attempt = accepted(await put(photo, 'image/jpeg'));
    expect(attempt.current).toBeNull();
    first = await settledView(attempt.upload_id);
    expect(first).toMatchObject({ upload_id: attempt.upload_id, status: 'PUBLISHED', reason: null, current: { upload_id: attempt.upload_id } });
    expect(await keys(avatarKeys.user('user-a'))).toEqual(
      AVATAR_SIZES.flatMap((size) => AVATAR_FORMATS.map((format) => `avatars/user-a/${attempt.upload_id}/${size}.${format}`)).sort(),
    );
    for (const size of AVATAR_SIZES) {
      for (const format of AVATAR_FORMATS) {
        const url = first.current!.urls[`${size}`][format];
        expect(url).toContain(`avatars/user-a/${attempt.upload_id}/${size}.${format}`);
        const { type, bytes } = await download(url);
        expect(type).toBe(`image/${format}`);
        const meta = await sharp(bytes).metadata();
        expect([meta.format, meta.width, meta.height, meta.orientation, meta.exif, meta.xmp, meta.iptc, meta.icc], `${size}.${format}`)
          .toEqual([format, size, size, undefined, undefined, undefined, undefined, undefined]);
        const file = path.join(scratch, `${size}.${format}`);
        await writeFile(file, bytes);
        const tags = Object.keys(await exif(file));
        expect(tags.filter((tag) => /^(EXIF|XMP|IPTC|ICC_Profile|MakerNotes)[^:]*:|GPS|Make|Model|Orientation/.test(tag)), `${size}.${format}`).toEqual([]);
        if (format === 'png') {
          const checked = await run('pngcheck', [file]);
          expect(checked.stdout).toMatch(/^OK: /m);
        }
        // Upright: red above, blue below (sideways it would be red left, blue right).
        const raw = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        const middle = Math.floor(size / 2);
        expect(pixel(raw, middle, 1)[0], `${size}.${format} top`).toBeGreaterThan(180);
        expect(pixel(raw, middle, size - 2)[2], `${size}.${format} bottom`).toBeGreaterThan(180);
      }
    }
  });

  it('is not a design image: GET /api/v1/uploads does not list it and /api/v1/uploads/{id} does not find it', async () => {
    const headers = await authHeaders();
    const list = (await t.app.inject({ method: 'GET', url: '/api/v1/uploads', headers })).json<{ items: Array<{ id: string }> }>();
    expect(list.items.map((u) => u.id)).not.toContain(first.upload_id);
    const one = await t.app.inject({ method: 'GET', url: `/api/v1/uploads/${first.upload_id}`, headers });
    expect(one.statusCode).toBe(404);
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/uploads/${first.upload_id}`, headers })).statusCode).toBe(404);
    expect(await keys(avatarKeys.prefix('user-a', first.upload_id))).toHaveLength(6);
  });

  it('a replacement that is not an image: REJECTED/UNSUPPORTED_TYPE, the old avatar stays and GET says why', async () => {
    const html = Buffer.from('<!doctype html><html><body><script>alert(1)</script></body></html>');
    const attempt = accepted(await put(html, 'image/png'));
    // Until the new one is published, the old one is what PUT and GET show.
    expect(attempt.current?.upload_id).toBe(first.upload_id);
    const view = await settledView(attempt.upload_id);
    expect(view).toMatchObject({ upload_id: attempt.upload_id, status: 'REJECTED', reason: 'UNSUPPORTED_TYPE', current: { upload_id: first.upload_id } });
    expect(view.message).toBeTruthy();
    expect(await keys(avatarKeys.prefix('user-a', first.upload_id))).toHaveLength(6);
    expect(await keys('staging/')).not.toContain(`staging/${attempt.upload_id}`);
  });

  it('the EICAR file as a replacement: REJECTED/INFECTED, quarantined, the old avatar stays', async () => {
    const attempt = accepted(await put(Buffer.from(EICAR), 'application/octet-stream'));
    const view = await settledView(attempt.upload_id);
    expect(view).toMatchObject({ status: 'REJECTED', reason: 'INFECTED', current: { upload_id: first.upload_id } });
    expect(view.message).toMatch(/malware.*Eicar/i);
    expect(await keys('quarantine/')).toContain(`quarantine/${attempt.upload_id}`);
    expect(await keys(avatarKeys.user('user-a'))).toEqual(await keys(avatarKeys.prefix('user-a', first.upload_id)));
    expect(await keys(avatarKeys.prefix('user-a', first.upload_id))).toHaveLength(6);
  });

  it('a replacement sent as multipart `file`: PUBLISHED, then the old avatar\'s objects are gone', async () => {
    const attempt = accepted(await putMultipart(await sidewaysPhoto([20, 200, 20], [240, 240, 240]), 'me.jpg'));
    const view = await settledView(attempt.upload_id);
    expect(view).toMatchObject({ upload_id: attempt.upload_id, status: 'PUBLISHED', current: { upload_id: attempt.upload_id } });
    expect(await keysOnce(avatarKeys.prefix('user-a', first.upload_id), (k) => k.length === 0)).toEqual([]);
    expect(await keys(avatarKeys.user('user-a'))).toEqual(await keys(avatarKeys.prefix('user-a', attempt.upload_id)));
    expect(await keys(avatarKeys.user('user-a'))).toHaveLength(6);
    const raw = await sharp((await download(view.current!.urls['128'].png)).bytes).raw().toBuffer({ resolveWithObject: true });
    expect(pixel(raw, 64, 1)[1]).toBeGreaterThan(150);
    // The replaced avatar's row is gone with its objects.
    expect((await t.container.uploads.findById(first.upload_id))).toBeNull();
  });

  it('zero bytes and a PNG declaring 20000x20000 as replacements: REJECTED CORRUPT and TOO_MANY_PIXELS, the avatar unchanged', async () => {
    const before = (await get()).json<AvatarView>().current!.upload_id;
    for (const [body, reason] of [[Buffer.alloc(0), 'CORRUPT'], [pngDeclaring(20_000, 20_000), 'TOO_MANY_PIXELS']] as const) {
      const attempt = accepted(await put(body, 'image/png'));
      expect(await settledView(attempt.upload_id)).toMatchObject({ upload_id: attempt.upload_id, status: 'REJECTED', reason, current: { upload_id: before } });
    }
    expect(await keys(avatarKeys.user('user-a'))).toEqual(await keys(avatarKeys.prefix('user-a', before)));
    expect(await keys(avatarKeys.user('user-a'))).toHaveLength(6);
  });

  it('over AVATAR_MAX_BYTES: 413 before the body is read (declared) or when the stream passes the limit (multipart), nothing staged', async () => {
    const before = await keys('staging/');
    const big = await sharp({ create: { width: 700, height: 700, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    expect(big.length).toBeGreaterThan(MAX_BYTES + 64 * 1024);
    for (const res of [await put(big, 'image/png'), await putMultipart(big.subarray(0, MAX_BYTES + 1000), 'big.png')]) {
      expect(res.statusCode, res.body).toBe(413);
      expect(res.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', field: 'file', message: expect.stringContaining('AVATAR_MAX_BYTES') as unknown } });
    }
    expect((await keys('staging/')).filter((key) => !before.includes(key))).toEqual([]);
  });

  it('not a supported Content-Type: 415; a multipart body without `file`: 400 UPLOAD_FILE_REQUIRED', async () => {
    const res = await put(Buffer.from('{"a":1}'), 'application/json');
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', field: 'content-type' } });
    const form = new Request('http://x/', { method: 'POST', body: (() => { const f = new FormData(); f.append('name', 'x'); return f; })() });
    const none = await t.app.inject({
      method: 'PUT', url: '/api/v1/users/me/avatar',
      headers: { ...(await authHeaders()), 'content-type': form.headers.get('content-type')! }, payload: Buffer.from(await form.arrayBuffer()),
    });
    expect(none.statusCode, none.body).toBe(400);
    expect(none.json()).toMatchObject({ error: { code: 'UPLOAD_FILE_REQUIRED', field: 'file' } });
  });

  it('without a token: 401 on PUT, GET and DELETE, and nothing is received', async () => {
    for (const method of ['PUT', 'GET', 'DELETE'] as const) {
      const res = await t.app.inject({ method, url: '/api/v1/users/me/avatar', headers: { 'content-type': 'image/jpeg' }, ...(method === 'PUT' ? { payload: Buffer.from('x') } : {}) });
      expect(res.statusCode, method).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    }
  });

  it('concurrent PUTs by one user: one of them is the avatar, nothing of the others is left', async () => {
    const colours: Array<[number, number, number]> = [[250, 0, 0], [0, 250, 0], [0, 0, 250], [250, 250, 0]];
    const attempts = await Promise.all(colours.map(async (c) => accepted(await put(await sidewaysPhoto(c, c), 'image/jpeg', 'user-race'))));
    await Promise.all(attempts.map((a) => settle(a.upload_id)));
    const view = (await get('user-race')).json<AvatarView>();
    const ids = attempts.map((a) => a.upload_id);
    expect(ids).toContain(view.current?.upload_id);
    // Each replaced avatar is removed (objects, then row) just after the publish that replaced it.
    const published = async () => (await Promise.all(ids.map((id) => t.container.uploads.findById(id)))).filter((r) => r?.status === 'PUBLISHED').map((r) => r!.id);
    const deadline = Date.now() + 10_000;
    while ((await published()).length > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await published()).toEqual([view.current!.upload_id]);
    expect(await keys(avatarKeys.user('user-race'))).toEqual(await keys(avatarKeys.prefix('user-race', view.current!.upload_id)));
    expect(await keys(avatarKeys.user('user-race'))).toHaveLength(6);
  });

  it('a user id that is not a plain key segment (auth0|…) gets its own encoded folder', async () => {
    const user = 'auth0|a/b..c';
    const attempt = accepted(await put(await sidewaysPhoto(), 'image/jpeg', user));
    const view = await settledView(attempt.upload_id, user);
    expect(view.status).toBe('PUBLISHED');
    expect(avatarKeys.user(user)).toBe(`avatars/!${Buffer.from(user).toString('base64url')}/`);
    expect(await keys(avatarKeys.user(user))).toHaveLength(6);
    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/users/me/avatar', headers: await authHeaders(user) })).statusCode).toBe(204);
  });

  it('DELETE while the new avatar is in the pipeline: once the queue is idle, no row, no object, nothing staged', async () => {
    const user = 'user-delete-race';
    const attempts: AvatarView[] = [];
    for (let i = 0; i < 4; i++) {
      attempts.push(accepted(await put(await sidewaysPhoto(), 'image/jpeg', user)));
      // 0, 1, 2 and 3 event-loop turns in: before, during and after the pipeline's steps.
      for (let turn = 0; turn < i * 10; turn++) await new Promise((resolve) => setImmediate(resolve));
      const res = await t.app.inject({ method: 'DELETE', url: '/api/v1/users/me/avatar', headers: await authHeaders(user) });
      expect(res.statusCode, res.body).toBe(204);
    }
    const deadline = Date.now() + 20_000;
    while ((await t.container.uploadQueue.depth()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await t.container.uploadQueue.depth()).toBe(0);
    expect(await keys(avatarKeys.user(user))).toEqual([]);
    const staged = await keys('staging/');
    for (const a of attempts) {
      expect(await t.container.uploads.findById(a.upload_id)).toBeNull();
      expect(staged).not.toContain(`staging/${a.upload_id}`);
    }
    expect((await get(user)).statusCode).toBe(404);
  });

  it('an avatar whose row was deleted while it was being published takes back what it stored', async () => {
    const user = 'user-vanished';
    const id = randomUUID();
    await t.container.uploads.create({ id, ownerId: user, kind: 'avatar', stagingKey: `staging/${id}`, bytes: 1, filename: null });
    const claimed = await t.container.uploads.claim(id, 60_000);
    expect(await t.container.uploads.markClean(id, 'clean')).toBeTruthy();
    await t.container.avatarService.delete(user);
    const file = path.join(scratch, 'vanished.jpg');
    await writeFile(file, await sidewaysPhoto());
    const publisher = new AvatarPublisher({
      avatars: new AvatarRepository(t.container.db), logger: silentLogger, maxInputPixels: 40_000_000,
      storage: new UploadStorage(t.container.storage.storage, { publicBucket: true, signedUrlExpiresSeconds: 60 }),
    });
    expect(await publisher.publish(claimed!, file, scratch)).toBeNull();
    expect(await keys(avatarKeys.user(user))).toEqual([]);
  });

  it('DELETE: 204, the objects are gone, GET and a second DELETE answer 404 AVATAR_NOT_FOUND', async () => {
    expect((await keys(avatarKeys.user('user-a'))).length).toBe(6);
    const res = await t.app.inject({ method: 'DELETE', url: '/api/v1/users/me/avatar', headers: await authHeaders() });
    expect(res.statusCode, res.body).toBe(204);
    expect(await keys(avatarKeys.user('user-a'))).toEqual([]);
    for (const method of ['GET', 'DELETE'] as const) {
      const again = await t.app.inject({ method, url: '/api/v1/users/me/avatar', headers: await authHeaders() });
      expect(again.statusCode, method).toBe(404);
      expect(again.json()).toMatchObject({ error: { code: 'AVATAR_NOT_FOUND', message: expect.stringContaining('PUT /api/v1/users/me/avatar') as unknown } });
    }
  });

  it('a first avatar that is refused: GET 200 with the attempt REJECTED and why, and no current avatar', async () => {
    const user = 'user-first-refused';
    const attempt = accepted(await put(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 'image/svg+xml', user));
    const view = await settledView(attempt.upload_id, user);
    expect(view).toMatchObject({ upload_id: attempt.upload_id, status: 'REJECTED', reason: 'UNSUPPORTED_TYPE', current: null });
    expect(view.message).toMatch(/SVG|svg/);
    expect(await keys(avatarKeys.user(user))).toEqual([]);
  });

  it('is described in /docs/json: three operations behind bearer auth, the same bodies as uploads, the view as 202 and 200', async () => {
    type Operation = { operationId: string; security: unknown; requestBody?: { content: Record<string, unknown> }; responses: Record<string, { content?: Record<string, { schema: { required?: string[] } }> }> };
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, Record<string, Operation>> }>();
    const avatar = doc.paths['/api/v1/users/me/avatar']!;
    expect(Object.fromEntries(Object.entries(avatar).map(([method, op]) => [method, op.operationId]))).toEqual({ put: 'putAvatar', get: 'getAvatar', delete: 'deleteAvatar' });
    for (const op of Object.values(avatar)) expect(op.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(avatar.put!.requestBody!.content).sort()).toEqual(['application/octet-stream', 'image/*', 'multipart/form-data']);
    for (const [method, status] of [['put', '202'], ['get', '200']] as const) {
      expect(avatar[method]!.responses[status]!.content!['application/json']!.schema.required).toEqual(['upload_id', 'status', 'reason', 'message', 'created_at', 'updated_at', 'current']);
    }
    expect(Object.keys(avatar.put!.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '413', '415', '500', '503']));
    expect(Object.keys(avatar.get!.responses)).toEqual(expect.arrayContaining(['200', '401', '404']));
    expect(Object.keys(avatar.delete!.responses)).toEqual(expect.arrayContaining(['204', '401', '404']));
  });

  it('a user who never sent one: GET 404 AVATAR_NOT_FOUND', async () => {
    const res = await get('user-never');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'AVATAR_NOT_FOUND', field: 'avatar' } });
  });
});
