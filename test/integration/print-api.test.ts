import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContainer, type Container } from '../../src/composition-root.js';
import type { Environment } from '../../src/config.js';
import { newDesign } from '../../src/designs/design.js';
import type { DesignView } from '../../src/designs/design-service.js';
import { silentLogger } from '../../src/logger.js';
import { authHeaders, SAMPLE_DESIGN, startTestServer, type TestServer } from '../helpers/app.js';
import { createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { createPublicTestBucket, deleteTestBucket, getS3TestServer, s3Env } from '../helpers/s3.js';

/**
 * Print files through the API (issue #12) on both stacks: the embedded default (SQLite, local
 * disk, in-process queues) and production's parts (PostgreSQL, BullMQ on Redis with a
 * separate worker process's container, Ceph RGW with the public-read policy
 * `customify s3 setup-policy` applies). Real HTTP, real files read back and checked.
 */

interface Stack {
  name: string;
  skip: boolean;
  s3: boolean;
  prepare(): Promise<{ env: Environment; cleanup: () => Promise<void> }>;
}

const STACKS: Stack[] = [
  { name: 'SQLite, local disk, in-process queue', skip: false, s3: false, prepare: () => Promise.resolve({ env: {}, cleanup: async () => {} }) },
  {
    name: 'PostgreSQL, Redis (BullMQ), Ceph RGW',
    skip: skipDialect('postgres') || skipRedis,
    s3: true,
    prepare: async () => {
      const s3 = await getS3TestServer();
      const bucket = await createPublicTestBucket(s3, 'print');
      const db: TestDatabase = await createTestDatabase('postgres', { migrate: false });
      return {
        env: {
          DATABASE_URL: db.url, ...s3Env(s3, bucket), SCAN_REQUIRED: 'false',
          REDIS_URL, RENDER_QUEUE_NAME: `print-api-${randomUUID().slice(0, 8)}`,
        },
        async cleanup() {
          await db.destroy();
          await deleteTestBucket(s3, bucket);
        },
      };
    },
  },
];

/** Whether the test S3 enforces bucket policies (Ceph RGW does; the s3rver fallback without Ceph serves every object to anyone). */
const s3EnforcesPolicies = (await getS3TestServer()).enforcesBucketPolicies;

describe.each(STACKS.filter((s) => !s.skip))('print files API ($name)', (stack) => {
  let server: TestServer;
  /** The BullMQ worker process's container (production stack only). */
  let worker: Container | undefined;
  let cleanup: () => Promise<void> = async () => {};
  let specsDir: string | undefined;

  beforeAll(async () => {
    const prepared = await stack.prepare();
    cleanup = prepared.cleanup;
    // A sticker a third of an inch wide: no design text fits it at 6 pt, so its print FAILS.
    specsDir = await mkdtemp(path.join(tmpdir(), 'customify-print-specs-'));
    const specsFile = path.join(specsDir, 'print-specs.json');
    await writeFile(specsFile, JSON.stringify({ sticker: { width: 0.3, height: 0.3, bleed: 0 } }));
    server = await startTestServer({ ...prepared.env, PRINT_SPECS_FILE: specsFile });
    if (server.settings.redisUrl) {
      worker = await buildContainer(server.settings, { logger: silentLogger, role: 'worker', migrate: false });
      await worker.startBackground();
    }
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await server?.stop();
    await cleanup();
    if (specsDir) await rm(specsDir, { recursive: true, force: true });
  });

  const api = (path: string) => `${server.url}/api/v1${path}`;

  async function get(id: string, user = 'user-a'): Promise<DesignView> {
    const res = await fetch(api(`/designs/${id}`), { headers: await authHeaders(user) });
    expect(res.status).toBe(200);
    return (await res.json()) as DesignView;
  }

  async function until(id: string, done: (view: DesignView) => boolean, what: string): Promise<DesignView> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const view = await get(id);
      if (done(view)) return view;
      if (Date.now() > deadline) throw new Error(`design ${id}: still not ${what}: ${JSON.stringify(view)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function publishedDesign(body: object = SAMPLE_DESIGN): Promise<DesignView> {
    const res = await fetch(api('/designs'), { method: 'POST', headers: { ...(await authHeaders()), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as DesignView;
    const view = await until(id, (v) => v.status !== 'PENDING' && v.status !== 'RENDERING', 'rendered');
    expect(view.status).toBe('PUBLISHED');
    return view;
  }

  async function requestPrint(id: string, user = 'user-a'): Promise<Response> {
    return fetch(api(`/designs/${id}/print-files`), { method: 'POST', headers: await authHeaders(user) });
  }

  /** Downloads a print URL as its client would: signed URLs as they are, the local route with the owner's token. */
  async function download(url: string): Promise<Response> {
    return fetch(url, stack.s3 ? {} : { headers: await authHeaders() });
  }

  it('makes print files on request: 202 PENDING, then READY with URLs to a real PDF and a PNG at the product\'s print size', async () => {
    const design = await publishedDesign();
    expect(design).toMatchObject({ print_status: 'NONE', print_message: null, print_warnings: [], print_pdf_url: null, print_png_url: null });

    const res = await requestPrint(design.id);
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as DesignView;
    expect(accepted).toMatchObject({ id: design.id, status: 'PUBLISHED', print_status: 'PENDING', print_pdf_url: null, print_png_url: null });

    const ready = await until(design.id, (v) => v.print_status !== 'PENDING', 'printed');
    expect(ready).toMatchObject({ print_status: 'READY', print_message: null, print_warnings: [] });
    const pdf = await download(ready.print_pdf_url!);
    expect(pdf.status).toBe(200);
    const pdfBytes = Buffer.from(await pdf.arrayBuffer());
    expect(pdfBytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const png = await download(ready.print_png_url!);
    expect(png.status).toBe(200);
    const meta = await sharp(Buffer.from(await png.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 3600, height: 4800, density: 300 });

    if (stack.s3) {
      // Freshly signed for each read, never a plain object URL.
      expect(ready.print_pdf_url).toMatch(/X-Amz-Signature=/);
      expect((await get(design.id)).print_pdf_url).toMatch(/X-Amz-Signature=/);
    } else {
      expect(ready.print_pdf_url).toBe(api(`/designs/${design.id}/print-files/print.pdf`));
    }
  });

  it.skipIf(stack.s3 && !s3EnforcesPolicies)('keeps print files private: an anonymous GET of the object is refused while the preview stays public', async () => {
    const design = await publishedDesign();
    expect((await requestPrint(design.id)).status).toBe(202);
    const ready = await until(design.id, (v) => v.print_status === 'READY', 'READY');
    const objects = server.container.storage.storage;
    for (const name of ['print.pdf', 'print.png']) {
      const anonymous = await fetch(objects.publicUrl(`designs/${design.id}/${name}`));
      expect(anonymous.status, name).toBe(stack.s3 ? 403 : 404);
    }
    expect((await fetch(ready.preview_url!)).status).toBe(200);
    expect((await fetch(ready.thumbnail_url!)).status).toBe(200);
    if (!stack.s3) {
      // The local route wants the owner's token: none is 401, someone else's design is 404.
      expect((await fetch(ready.print_pdf_url!)).status).toBe(401);
      const other = await fetch(ready.print_pdf_url!, { headers: await authHeaders('user-b') });
      expect(other.status).toBe(404);
      expect(((await other.json()) as { error: { code: string } }).error.code).toBe('DESIGN_NOT_FOUND');
    }
  });

  it('two requests at once make one job and one set of files; a request once READY changes nothing', async () => {
    const design = await publishedDesign({ ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text: 'Twice' } });
    const [a, b] = await Promise.all([requestPrint(design.id), requestPrint(design.id)]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect([((await a.json()) as DesignView).print_status, ((await b.json()) as DesignView).print_status]).toEqual(['PENDING', 'PENDING']);
    await until(design.id, (v) => v.print_status === 'READY', 'READY');
    const stored = await server.container.designs.findById(design.id);
    expect(stored!.print.attempts).toBe(1);
    const before = await server.container.storage.storage.head(`designs/${design.id}/print.png`);

    const again = await requestPrint(design.id);
    expect(again.status).toBe(202);
    expect(((await again.json()) as DesignView).print_status).toBe('READY');
    expect((await server.container.designs.findById(design.id))!.print.attempts).toBe(1);
    expect((await server.container.storage.storage.head(`designs/${design.id}/print.png`))!.lastModified).toEqual(before!.lastModified);
  });

  it('a re-render invalidates the print files: print_status NONE, no URLs, the files removed', async () => {
    const design = await publishedDesign({ ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text: 'Again' } });
    expect((await requestPrint(design.id)).status).toBe(202);
    await until(design.id, (v) => v.print_status === 'READY', 'READY');
    const res = await fetch(api(`/designs/${design.id}/render`), { method: 'POST', headers: await authHeaders() });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ print_status: 'NONE', print_pdf_url: null, print_png_url: null });
    const rerendered = await until(design.id, (v) => v.status === 'PUBLISHED', 'published again');
    expect(rerendered).toMatchObject({ print_status: 'NONE', print_pdf_url: null, print_png_url: null });
    const objects = server.container.storage.storage;
    expect(await objects.head(`designs/${design.id}/print.pdf`)).toBeNull();
    expect(await objects.head(`designs/${design.id}/print.png`)).toBeNull();
    const route = await fetch(api(`/designs/${design.id}/print-files/print.pdf`), { headers: await authHeaders() });
    expect(route.status).toBe(404);
    expect(await route.json()).toMatchObject({ error: { code: 'PRINT_FILES_NOT_READY', field: 'name' } });
  });

  it('answers bad requests with the error naming the field or state', async () => {
    const unknown = await requestPrint(randomUUID());
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'DESIGN_NOT_FOUND', field: 'id' } });

    const malformed = await requestPrint('not-a-uuid');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: 'INVALID_DESIGN_ID', field: 'id' } });

    const design = await publishedDesign({ ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text: 'Mine' } });
    const someoneElses = await requestPrint(design.id, 'user-b');
    expect(someoneElses.status).toBe(404);

    const deleted = await publishedDesign({ ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text: 'Gone' } });
    expect((await fetch(api(`/designs/${deleted.id}`), { method: 'DELETE', headers: await authHeaders() })).status).toBe(204);
    const gone = await requestPrint(deleted.id);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: { code: 'DESIGN_NOT_FOUND' } });

    // A FAILED design and one not rendered yet: 409 naming the state, nothing queued.
    const repo = server.container.designs;
    const failed = newDesign({ ownerId: 'user-a', productType: 't-shirt', designData: { text: 'Failed', font: 'Bebas-Bold', color: '#000000' }, now: new Date() });
    await repo.create(failed);
    await repo.claimForRendering(failed.id, 30_000);
    await repo.markFailed(failed.id, 'broken');
    const refused = await requestPrint(failed.id);
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { error: { code: string; field: string; message: string } };
    expect(body.error).toMatchObject({ code: 'PRINT_NOT_AVAILABLE', field: 'status' });
    expect(body.error.message).toContain('FAILED');
    expect((await repo.findById(failed.id))!.print.status).toBe('NONE');

    const waiting = newDesign({ ownerId: 'user-a', productType: 't-shirt', designData: { text: 'Waiting', font: 'Bebas-Bold', color: '#000000' }, now: new Date() });
    await repo.create(waiting);
    await repo.claimForRendering(waiting.id, 60_000);
    const early = await requestPrint(waiting.id);
    expect(early.status).toBe(409);
    const earlyBody = (await early.json()) as { error: { code: string; field: string; message: string } };
    expect(earlyBody.error).toMatchObject({ code: 'PRINT_NOT_AVAILABLE', field: 'status' });
    expect(earlyBody.error.message).toContain('RENDERING');

    // The file route: an unknown name is 400 naming it; a design without print files is 404.
    const badName = await fetch(api(`/designs/${design.id}/print-files/print.svg`), { headers: await authHeaders() });
    expect(badName.status).toBe(400);
    expect(await badName.json()).toMatchObject({ error: { code: 'INVALID_VALUE', field: 'name' } });
    const notYet = await fetch(api(`/designs/${design.id}/print-files/print.png`), { headers: await authHeaders() });
    expect(notYet.status).toBe(404);
    expect(await notYet.json()).toMatchObject({ error: { code: 'PRINT_FILES_NOT_READY', field: 'name' } });
  });

  it('a print that cannot be made is FAILED with a message naming the text, and can be requested again', async () => {
    const res = await fetch(api('/designs'), {
      method: 'POST', headers: { ...(await authHeaders()), 'content-type': 'application/json' },
      body: JSON.stringify({ product_type: 'sticker', design_data: { text: 'Too long for a tiny sticker', font: 'Bebas-Bold', color: '#FFFFFF', text_color: '#000000' } }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as DesignView;
    expect((await until(id, (v) => v.status === 'PUBLISHED' || v.status === 'FAILED', 'rendered')).status).toBe('PUBLISHED');
    expect((await requestPrint(id)).status).toBe(202);
    const failed = await until(id, (v) => v.print_status !== 'PENDING', 'printed or failed');
    expect(failed).toMatchObject({ print_status: 'FAILED', print_pdf_url: null, print_png_url: null });
    expect(failed.print_message).toContain('Too long for a tiny sticker');
    expect(await server.container.storage.storage.head(`designs/${id}/print.png`)).toBeNull();
    // Not retried: a text that does not fit never will.
    expect((await server.container.designs.findById(id))!.print.attempts).toBe(1);
    const again = await requestPrint(id);
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ print_status: 'PENDING', print_message: null });
  });
});
