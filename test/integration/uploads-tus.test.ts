import { createHash, randomBytes } from 'node:crypto';
import type { S3 } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeExpiredTusUploads } from '../../src/cli/cleanup.js';
import type { Environment } from '../../src/config.js';
import type { UploadView } from '../../src/uploads/upload-service.js';
import { authHeaders, startTestServer, tokenFor, type TestServer } from '../helpers/app.js';
import { EICAR, clamdTarget, skipClamd } from '../helpers/clamd.js';
import { createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { createPublicTestBucket, deleteTestBucket, getS3TestServer, s3Env } from '../helpers/s3.js';
import type { S3TusStore } from '../../src/uploads/tus-s3.store.js';

/**
 * Resumable uploads (tus, issue #11) over real HTTP with tus-js-client, the real clamd, on
 * both stacks: SQLite + local disk (@tus/file-store) and PostgreSQL + Ceph RGW (@tus/s3-store,
 * multipart on the service's bucket). A finished tus upload enters the same pipeline as a
 * direct one; the protocol's refusals answer in the API's error shape.
 */

const MAX_BYTES = 24 * 1024 * 1024;
const CHUNK = 5 * 1024 * 1024;
const TUS_HEADERS = { 'tus-resumable': '1.0.0' };
/** The one origin in CORS_ORIGINS: a shop's page uploading from the browser. */
const SHOP = 'https://shop.example.com';

interface Stack {
  name: string;
  skip: boolean;
  prepare(): Promise<{ env: Environment; cleanup: () => Promise<void> }>;
}

/** The S3 tus store needs multipart uploads as a real S3 keeps them; the s3rver fallback without Ceph lacks them, so that stack is skipped there. */
const s3IsReal = (await getS3TestServer()).kind !== 's3rver';

const STACKS: Stack[] = [
  { name: 'SQLite, local disk', skip: false, prepare: () => Promise.resolve({ env: {}, cleanup: async () => {} }) },
  {
    name: 'PostgreSQL, Ceph RGW',
    skip: skipDialect('postgres') || !s3IsReal,
    prepare: async () => {
      const s3 = await getS3TestServer();
      const bucket = await createPublicTestBucket(s3, 'tus');
      const db: TestDatabase = await createTestDatabase('postgres', { migrate: false });
      return {
        env: { DATABASE_URL: db.url, ...s3Env(s3, bucket) },
        async cleanup() {
          await db.destroy();
          await deleteTestBucket(s3, bucket);
        },
      };
    },
  },
];

/** A PNG of random noise (it does not compress): `side` x `side` RGB, about 3 x side² bytes. */
async function noisePng(side: number): Promise<{ png: Buffer; pixels: Buffer }> {
  const pixels = randomBytes(side * side * 3);
  const png = await sharp(pixels, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  return { png, pixels };
}

interface Sent { method: string; offset: number | null; bytes: number }

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Watches the UploadPart and CompleteMultipartUpload requests the tus store's S3 client sends
 * (to the real Ceph RGW): how many parts are in flight at once, the SHA-256 of the object as
 * S3 holds it once completed (read back before the PATCH is answered, so before the pipeline
 * takes it), and optionally a hook that changes a request before it is signed and sent.
 */
function watchParts(client: S3, options: { hold?: boolean; alter?: (input: { PartNumber?: number }, request: { headers: Record<string, string> }) => void } = {}) {
  const seen = { inFlight: 0, maxInFlight: 0, attempts: new Map<number, number>(), completedSha256: undefined as string | undefined, asked: 0 };
  let release: () => void = () => {};
  // With `hold`, the first part waits (5 s at most) until a second one is sent: uploaded one
  // after another, the second never comes while the first is held, and maxInFlight stays 1.
  const second = new Promise<void>((resolve) => (release = resolve));
  client.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'CompleteMultipartUploadCommand') {
      const out = await next(args);
      const { Bucket, Key } = args.input as { Bucket: string; Key: string };
      const stored = await client.getObject({ Bucket, Key });
      seen.completedSha256 = sha256(await stored.Body!.transformToByteArray());
      return out;
    }
    // The store asking S3 what an upload holds (its parts, its tail).
    if (context.commandName === 'ListPartsCommand' || context.commandName === 'HeadObjectCommand') seen.asked++;
    if (context.commandName !== 'UploadPartCommand') return next(args);
    const input = args.input as { PartNumber?: number };
    seen.attempts.set(input.PartNumber!, (seen.attempts.get(input.PartNumber!) ?? 0) + 1);
    options.alter?.(input, args.request as { headers: Record<string, string> });
    seen.inFlight++;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    try {
      if (seen.inFlight >= 2) release();
      if (options.hold && seen.inFlight === 1) await Promise.race([second, new Promise((resolve) => setTimeout(resolve, 5000))]);
      return await next(args);
    } finally {
      seen.inFlight--;
    }
  }, { step: 'build', name: 'watchTusParts' });
  return { seen, stop: () => void client.middlewareStack.remove('watchTusParts') };
}

describe.skipIf(skipClamd).each(STACKS.filter((s) => !s.skip))('tus uploads ($name, real clamd)', (stack) => {
  let server: TestServer;
  let cleanup: () => Promise<void> = async () => {};
  let endpoint: string;

  beforeAll(async () => {
    const prepared = await stack.prepare();
    cleanup = prepared.cleanup;
    server = await startTestServer({ ...prepared.env, CLAMD_HOST: clamdTarget.host, CLAMD_PORT: String(clamdTarget.port), UPLOAD_MAX_BYTES: String(MAX_BYTES), CORS_ORIGINS: SHOP });
    endpoint = `${server.url}/api/v1/uploads/tus`;
  });
  afterAll(async () => {
    await server?.stop();
    await cleanup();
  });

  async function keys(prefix: string): Promise<string[]> {
    return (await server.container.storage.storage.list(prefix)).objects.map((o) => o.key);
  }

  async function settle(id: string, user = 'user-a'): Promise<UploadView> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${server.url}/api/v1/uploads/${id}`, { headers: await authHeaders(user) });
      expect(res.status).toBe(200);
      const view = (await res.json()) as UploadView;
      if (view.status === 'PUBLISHED' || view.status === 'REJECTED') return view;
      if (Date.now() > deadline) throw new Error(`upload ${id} still ${view.status} (${view.message ?? ''})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A tus-js-client upload that records what it sent and the progress it reported. */
  function tusUpload(file: Buffer, options: { user?: string; token: string; uploadUrl?: string; filename?: string; onProgress?: (sent: number, upload: tus.Upload) => void }) {
    const sent: Sent[] = [];
    const progress: number[] = [];
    let finalId: string | null = null;
    let upload: tus.Upload;
    const done = new Promise<void>((resolve, reject) => {
      upload = new tus.Upload(file, {
        endpoint,
        uploadUrl: options.uploadUrl,
        chunkSize: CHUNK,
        retryDelays: [],
        storeFingerprintForResuming: false,
        metadata: { filename: options.filename ?? 'noise.png', filetype: 'image/png' },
        headers: { authorization: `Bearer ${options.token}` },
        onBeforeRequest(req) {
          const offset = req.getHeader('Upload-Offset');
          sent.push({ method: req.getMethod(), offset: offset === undefined ? null : Number(offset), bytes: 0 });
        },
        onAfterResponse(req, res) {
          const id = res.getHeader('X-Upload-Id');
          if (id) finalId = id;
          void req;
        },
        onChunkComplete(chunkSize) {
          sent[sent.length - 1]!.bytes = chunkSize;
        },
        onProgress(bytesSent) {
          progress.push(bytesSent);
          options.onProgress?.(bytesSent, upload);
        },
        onSuccess: () => resolve(),
        onError: reject,
      });
      upload.start();
    });
    return { done, sent, progress, get upload() { return upload; }, get finalId() { return finalId; } };
  }

  it('a 12 MB image in 5 MB chunks, killed mid-way and resumed from the server\'s offset: progress reported, bytes not re-sent, PUBLISHED with the same pixels', async () => {
    const token = await tokenFor('user-a');
    const { png, pixels } = await noisePng(2000);
    expect(png.length).toBeGreaterThan(2 * CHUNK);

    // First attempt: killed while the second chunk is on its way.
    const first = tusUpload(png, {
      token,
      onProgress: (sent, upload) => {
        if (sent > CHUNK + CHUNK / 2) void upload.abort();
      },
    });
    const aborted = await Promise.race([first.done.then(() => 'finished'), new Promise((resolve) => setTimeout(() => resolve('aborted'), 3000))]);
    expect(aborted).toBe('aborted');
    const url = first.upload.url!;
    expect(url).toMatch(/\/api\/v1\/uploads\/tus\/[0-9a-f-]{36}$/);
    const id = url.split('/').pop()!;
    expect(first.progress.length).toBeGreaterThan(1);
    expect(first.progress).toEqual([...first.progress].sort((a, b) => a - b));

    // What the server kept: at least the first chunk, and not the whole file.
    let head!: Response;
    for (let i = 0; i < 50; i++) {
      head = await fetch(url, { method: 'HEAD', headers: { ...TUS_HEADERS, authorization: `Bearer ${token}` } });
      if (head.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100)); // the killed PATCH may still hold its lock
    }
    expect(head.status).toBe(200);
    const kept = Number(head.headers.get('upload-offset'));
    expect(kept).toBeGreaterThanOrEqual(CHUNK);
    expect(kept).toBeLessThan(png.length);
    expect(Number(head.headers.get('upload-length'))).toBe(png.length);
    expect(new Date(head.headers.get('upload-expires') ?? '').getTime() || Date.now() + 86_400_000).toBeGreaterThan(Date.now());

    // Resumed: tus-js-client asks the server (HEAD) and sends only the rest.
    const second = tusUpload(png, { token, uploadUrl: url });
    await second.done;
    expect(second.sent[0]).toMatchObject({ method: 'HEAD' });
    const patches = second.sent.filter((s) => s.method === 'PATCH');
    expect(patches[0]!.offset).toBe(kept);
    expect(patches.reduce((sum, p) => sum + p.bytes, 0)).toBe(png.length - kept);
    expect(second.progress.at(-1)).toBe(png.length);
    expect(second.finalId).toBe(id);

    const view = await settle(id);
    expect(view).toMatchObject({ id, status: 'PUBLISHED', filename: 'noise.png', content_type: 'image/png', width: 2000, height: 2000 });
    const published = Buffer.from(await (await fetch(view.url!)).arrayBuffer());
    const decoded = await sharp(published).removeAlpha().raw().toBuffer();
    expect(decoded.equals(pixels)).toBe(true);
    // The tus record is gone with the staged bytes: nothing of it is left under staging/.
    expect((await keys('staging/')).filter((k) => k.includes(id))).toEqual([]);
    const after = await fetch(url, { method: 'HEAD', headers: { ...TUS_HEADERS, authorization: `Bearer ${token}` } });
    expect(after.status).toBe(404);
  });

  it.runIf(stack.name.includes('Ceph'))('S3 mode pipelines the parts: a PATCH is answered once its bytes are on disk, several parts are in flight at once, and the object in S3 is byte-identical', async () => {
    const token = await tokenFor('user-a');
    const { png, pixels } = await noisePng(2300);
    expect(png.length).toBeGreaterThan(3 * CHUNK);
    const watch = watchParts((server.container.tusStore as S3TusStore).datastore.s3, { hold: true });
    try {
      const upload = tusUpload(png, { token });
      await upload.done;
      // The first part was held in S3 until a later one was sent: the PATCH after it was
      // answered without waiting for it (one at a time, this would stay 1).
      expect(watch.seen.maxInFlight).toBeGreaterThan(1);
      expect(upload.sent.filter((s) => s.method === 'PATCH').length).toBe(Math.ceil(png.length / CHUNK));
      // A new upload's state (no parts, no tail) is known from its creation: no PATCH asked S3 for it.
      expect(watch.seen.asked).toBe(0);
      // The object S3 assembled from the parts is the file, byte for byte.
      expect(watch.seen.completedSha256).toBe(sha256(png));
      const id = upload.upload.url!.split('/').pop()!;
      const view = await settle(id);
      expect(view, view.message ?? view.reason ?? '').toMatchObject({ status: 'PUBLISHED', width: 2300, height: 2300 });
      const published = Buffer.from(await (await fetch(view.url!)).arrayBuffer());
      expect((await sharp(published).removeAlpha().raw().toBuffer()).equals(pixels)).toBe(true);
    } finally {
      watch.stop();
    }
  });

  it.runIf(stack.name.includes('Ceph'))('S3 mode: a part S3 refuses (after retries) is not lost silently: the next PATCH fails, HEAD reports the lower offset S3 really holds, and a resume completes', async () => {
    const headers = await authHeaders('user-a');
    const token = await tokenFor('user-a');
    const { png, pixels } = await noisePng(2000);
    expect(png.length).toBeGreaterThan(2 * CHUNK);
    let corrupt = true;
    // Part 2 goes out with a Content-MD5 that does not match its bytes: Ceph refuses it (BadDigest).
    const watch = watchParts((server.container.tusStore as S3TusStore).datastore.s3, {
      alter: (input, request) => {
        if (corrupt && input.PartNumber === 2) request.headers['content-md5'] = createHash('md5').update('not these bytes').digest('base64');
      },
    });
    try {
      const { url, id } = await create(png.length);
      expect((await patch(url, 0, png.subarray(0, CHUNK), headers)).status).toBe(204);
      const second = await patch(url, CHUNK, png.subarray(CHUNK, 2 * CHUNK), headers);
      // Answered once on disk (204), or refused if the failure is already known.
      expect([204, 500]).toContain(second.status);

      // Once part 2 has failed its attempts, the server reports what S3 holds: part 1 only.
      const deadline = Date.now() + 20_000;
      let offset = -1;
      while (Date.now() < deadline) {
        const head = await fetch(url, { method: 'HEAD', headers: { ...TUS_HEADERS, ...headers } });
        expect(head.status).toBe(200);
        offset = Number(head.headers.get('upload-offset'));
        if (offset === CHUNK) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(offset).toBe(CHUNK);
      expect(watch.seen.attempts.get(2)).toBe(3);
      // A PATCH from the offset the client thought it had is refused, and changes nothing.
      expect((await patch(url, 2 * CHUNK, png.subarray(2 * CHUNK), headers)).status).toBe(409);

      // S3 accepts parts again: tus-js-client resumes from HEAD's offset and finishes.
      corrupt = false;
      const resumed = tusUpload(png, { token, uploadUrl: url });
      await resumed.done;
      expect(resumed.sent[0]).toMatchObject({ method: 'HEAD' });
      expect(resumed.sent.find((s) => s.method === 'PATCH')?.offset).toBe(CHUNK);
      expect(watch.seen.completedSha256).toBe(sha256(png));
      const view = await settle(id);
      expect(view, view.message ?? view.reason ?? '').toMatchObject({ status: 'PUBLISHED', width: 2000, height: 2000 });
      const published = Buffer.from(await (await fetch(view.url!)).arrayBuffer());
      expect((await sharp(published).removeAlpha().raw().toBuffer()).equals(pixels)).toBe(true);
    } finally {
      watch.stop();
    }
  });

  it('the EICAR test file through tus: REJECTED/INFECTED, quarantined, never given a URL', async () => {
    const upload = tusUpload(Buffer.from(EICAR), { token: await tokenFor('user-a'), filename: 'eicar.png' });
    await upload.done;
    const id = upload.upload.url!.split('/').pop()!;
    const view = await settle(id);
    expect(view).toMatchObject({ status: 'REJECTED', reason: 'INFECTED', url: null });
    expect(await keys(`quarantine/${id}`)).toEqual([`quarantine/${id}`]);
  });

  async function create(length: number, user = 'user-a'): Promise<{ url: string; id: string; res: Response }> {
    const res = await fetch(endpoint, { method: 'POST', headers: { ...TUS_HEADERS, ...(await authHeaders(user)), 'upload-length': String(length), 'upload-metadata': `filename ${Buffer.from('a.png').toString('base64')}` } });
    expect(res.status, await res.clone().text()).toBe(201);
    const location = res.headers.get('location')!;
    return { url: new URL(location, endpoint).href, id: location.split('/').pop()!, res };
  }

  function patch(url: string, offset: number, body: Buffer, headers: Record<string, string>): Promise<Response> {
    return fetch(url, { method: 'PATCH', headers: { ...TUS_HEADERS, ...headers, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, body });
  }

  /** What a browser asks before a cross-origin tus request (no credentials: a preflight carries none). */
  function preflight(url: string, origin: string, method: string, requestHeaders: string): Promise<Response> {
    return fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': requestHeaders } });
  }

  const listed = (value: string | null) => (value ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);

  it('a browser on a CORS_ORIGINS origin may send the tus headers (preflight, before authentication) and read the ones it resumes by', async () => {
    const creation = await preflight(endpoint, SHOP, 'POST', 'authorization, content-type, tus-resumable, upload-length, upload-metadata');
    expect(creation.status).toBe(204);
    expect(creation.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(listed(creation.headers.get('access-control-allow-methods'))).toEqual(expect.arrayContaining(['post', 'patch', 'head', 'delete']));
    expect(listed(creation.headers.get('access-control-allow-headers'))).toEqual(expect.arrayContaining(['authorization', 'content-type', 'tus-resumable', 'upload-length', 'upload-metadata', 'upload-defer-length', 'upload-concat', 'x-http-method-override']));

    const { url } = await create(10);
    const resume = await preflight(url, SHOP, 'PATCH', 'authorization, content-type, tus-resumable, upload-offset');
    expect(resume.status).toBe(204);
    expect(resume.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(listed(resume.headers.get('access-control-allow-headers'))).toEqual(expect.arrayContaining(['upload-offset', 'tus-resumable', 'content-type', 'authorization']));

    // The answers themselves let the page read Location, the offset and the upload id.
    const headers = { ...TUS_HEADERS, ...(await authHeaders('user-a')), origin: SHOP };
    const created = await fetch(endpoint, { method: 'POST', headers: { ...headers, 'upload-length': '10' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('access-control-allow-origin')).toBe(SHOP);
    const exposed = listed(created.headers.get('access-control-expose-headers'));
    expect(exposed).toEqual(expect.arrayContaining(['location', 'tus-resumable', 'upload-offset', 'upload-length', 'upload-metadata', 'upload-expires', 'x-upload-id', 'tus-version', 'tus-max-size', 'x-request-id']));
    const head = await fetch(new URL(created.headers.get('location')!, endpoint), { method: 'HEAD', headers });
    expect(head.status).toBe(200);
    expect(head.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(listed(head.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(['upload-offset', 'upload-length']));

    // tus discovery (OPTIONS with a token, not a preflight) still reaches tus under CORS.
    const discovery = await fetch(endpoint, { method: 'OPTIONS', headers });
    expect(discovery.status).toBe(204);
    expect(discovery.headers.get('tus-max-size')).toBe(String(MAX_BYTES));
    expect(discovery.headers.get('access-control-allow-origin')).toBe(SHOP);
  });

  it('an origin not in CORS_ORIGINS is not allowed by the tus routes (no Access-Control-Allow-Origin on the preflight or the answer), nor by tus on its own', async () => {
    const evil = 'https://evil.example';
    const pre = await preflight(endpoint, evil, 'POST', 'authorization, tus-resumable, upload-length');
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const created = await fetch(endpoint, { method: 'POST', headers: { ...TUS_HEADERS, ...(await authHeaders('user-a')), origin: evil, 'upload-length': '10' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a PATCH at the wrong Upload-Offset is 409 UPLOAD_OFFSET_CONFLICT and changes nothing', async () => {
    const headers = await authHeaders('user-a');
    const { url, res } = await create(100);
    expect(res.headers.get('x-upload-id')).toBe(url.split('/').pop());
    expect(res.headers.get('tus-resumable')).toBe('1.0.0');
    const ok = await patch(url, 0, Buffer.alloc(10, 1), headers);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('upload-offset')).toBe('10');
    for (const offset of [0, 5, 50]) {
      const wrong = await patch(url, offset, Buffer.alloc(10, 2), headers);
      expect(wrong.status).toBe(409);
      expect(await wrong.json()).toMatchObject({ error: { code: 'UPLOAD_OFFSET_CONFLICT', field: 'upload-offset' } });
    }
    const head = await fetch(url, { method: 'HEAD', headers: { ...TUS_HEADERS, ...headers } });
    expect(head.headers.get('upload-offset')).toBe('10');
  });

  it("another user's upload is 404 UPLOAD_NOT_FOUND for HEAD, PATCH and DELETE; the owner's is untouched", async () => {
    const { url } = await create(100, 'user-a');
    const other = await authHeaders('user-b');
    expect((await fetch(url, { method: 'HEAD', headers: { ...TUS_HEADERS, ...other } })).status).toBe(404);
    const stolen = await patch(url, 0, Buffer.alloc(10), other);
    expect(stolen.status).toBe(404);
    expect(await stolen.json()).toMatchObject({ error: { code: 'UPLOAD_NOT_FOUND' } });
    expect((await fetch(url, { method: 'DELETE', headers: { ...TUS_HEADERS, ...other } })).status).toBe(404);
    const mine = await fetch(url, { method: 'HEAD', headers: { ...TUS_HEADERS, ...(await authHeaders('user-a')) } });
    expect([mine.status, mine.headers.get('upload-offset')]).toEqual([200, '0']);
    // Unauthenticated: 401, as every upload route.
    expect((await fetch(url, { method: 'HEAD', headers: TUS_HEADERS })).status).toBe(401);
  });

  it('Upload-Length over UPLOAD_MAX_BYTES is 413 at creation, nothing stored; no Tus-Resumable is 412; OPTIONS tells the limit', async () => {
    const headers = await authHeaders('user-a');
    const before = await keys('staging/');
    const big = await fetch(endpoint, { method: 'POST', headers: { ...TUS_HEADERS, ...headers, 'upload-length': String(MAX_BYTES + 1) } });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await keys('staging/')).toEqual(before);
    const noVersion = await fetch(endpoint, { method: 'POST', headers: { ...headers, 'upload-length': '10' } });
    expect(noVersion.status).toBe(412);
    expect(await noVersion.json()).toMatchObject({ error: { code: 'TUS_VERSION_REQUIRED' } });
    const options = await fetch(endpoint, { method: 'OPTIONS', headers });
    expect(options.status).toBe(204);
    expect(options.headers.get('tus-max-size')).toBe(String(MAX_BYTES));
    expect(options.headers.get('tus-extension')).toContain('expiration');
  });

  it('DELETE abandons an unfinished upload and frees its bytes', async () => {
    const headers = await authHeaders('user-a');
    const { url, id } = await create(100);
    expect((await patch(url, 0, Buffer.alloc(40, 7), headers)).status).toBe(204);
    expect((await keys('staging/')).some((k) => k.includes(id))).toBe(true);
    expect((await fetch(url, { method: 'DELETE', headers: { ...TUS_HEADERS, ...headers } })).status).toBe(204);
    expect((await keys('staging/')).filter((k) => k.includes(id))).toEqual([]);
    expect((await fetch(url, { method: 'HEAD', headers: { ...TUS_HEADERS, ...headers } })).status).toBe(404);
  });

  it('an abandoned partial upload expires (Upload-Expires is UPLOAD_EXPIRY after creation) and customify cleanup removes it, not a young one', async () => {
    const headers = await authHeaders('user-a');
    const created = Date.now();
    const { url, id, res } = await create(10_000);
    const expires = new Date(res.headers.get('upload-expires')!).getTime();
    expect(expires).toBeGreaterThanOrEqual(Math.floor(created / 1000) * 1000 + 24 * 3_600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);
    expect((await patch(url, 0, Buffer.alloc(300, 3), headers)).status).toBe(204);
    const young = await create(10_000);
    const store = server.container.tusStore;
    const lines: string[] = [];
    const print = (line: string) => void lines.push(line);

    // An hour later: nothing has expired.
    const soon = await store.removeExpired({ now: new Date(Date.now() + 3_600_000), dryRun: false });
    expect(soon.map((u) => u.id)).not.toContain(id);
    // A day and a minute after: both expired; a dry run reports and keeps them.
    const later = new Date(Date.now() + 24 * 3_600_000 + 60_000);
    expect(await removeExpiredTusUploads({ store, expiryMs: 24 * 3_600_000, now: later, dryRun: true, print })).toBeGreaterThanOrEqual(2);
    expect(lines.join('\n')).toMatch(new RegExp(`would remove unfinished upload ${id}`));
    expect((await fetch(url, { method: 'HEAD', headers: { ...TUS_HEADERS, ...headers } })).status).toBe(200);

    await removeExpiredTusUploads({ store, expiryMs: 24 * 3_600_000, now: later, dryRun: false, print });
    expect(lines.at(-1)).toMatch(/Removed \d+ unfinished resumable uploads? older than UPLOAD_EXPIRY \(1d\)/);
    for (const gone of [id, young.id]) expect((await keys('staging/')).filter((k) => k.includes(gone))).toEqual([]);
    expect((await fetch(url, { method: 'HEAD', headers: { ...TUS_HEADERS, ...headers } })).status).toBe(404);
    if (server.settings.useLocalStorage === false) {
      // No multipart upload is left on the bucket for it.
      const { ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
      const driver = server.container.storage.storage.driver as unknown as { client: import('@aws-sdk/client-s3').S3Client; bucket: string };
      const open = await driver.client.send(new ListMultipartUploadsCommand({ Bucket: driver.bucket, Prefix: `staging/${id}` }));
      expect(open.Uploads ?? []).toEqual([]);
    }
  });
});
