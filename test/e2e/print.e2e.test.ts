import { randomBytes } from 'node:crypto';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesignView } from '../../src/designs/design-service.js';
import { authHeaders, pollForStatus, SAMPLE_DESIGN, startTestServer, TEST_JWT_SECRET, type TestServer } from '../helpers/app.js';
import { createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { createPublicTestBucket, deleteTestBucket, getS3TestServer, s3Env } from '../helpers/s3.js';
import { spawnCustomify, type CustomifyProcess } from '../helpers/services.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * Print files end to end with real processes: the API, then `customify print DESIGN_ID` as
 * an operator runs it, in both modes. Embedded: the command makes the files itself beside a
 * running server (same SQLite file, same storage folder), and they download through the
 * owner-only route. Production: a separate `customify worker` process makes them off the
 * print queue on Redis, `customify print --wait` reports READY with signed URLs that download,
 * and an anonymous GET of the object is refused while the preview is public.
 */

interface Stack {
  name: string;
  skip: boolean;
  s3: boolean;
  prepare(dir: string): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>;
}

const STACKS: Stack[] = [
  {
    name: 'embedded: SQLite, local disk',
    skip: false,
    s3: false,
    prepare: (dir) => Promise.resolve({
      env: { DATABASE_URL: `sqlite:${path.join(dir, 'db.sqlite')}`, LOCAL_STORAGE_PATH: path.join(dir, 'storage') },
      cleanup: async () => {},
    }),
  },
  {
    name: 'production: PostgreSQL, customify worker on Redis, Ceph RGW',
    skip: skipDialect('postgres') || skipRedis,
    s3: true,
    prepare: async () => {
      const s3 = await getS3TestServer();
      const bucket = await createPublicTestBucket(s3, 'print-e2e');
      const db: TestDatabase = await createTestDatabase('postgres', { migrate: true });
      return {
        env: { DATABASE_URL: db.url, REDIS_URL, RENDER_QUEUE_NAME: `print-e2e-${randomBytes(4).toString('hex')}`, SCAN_REQUIRED: 'false', ...(s3Env(s3, bucket) as Record<string, string>) },
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

describe.each(STACKS.filter((s) => !s.skip))('print files end to end ($name)', (stack) => {
  let dir: string;
  let env: Record<string, string>;
  let server: TestServer;
  let worker: CustomifyProcess | undefined;
  let cleanup: () => Promise<void> = async () => {};

  beforeAll(async () => {
    dir = await createTempDir('print-e2e');
    const prepared = await stack.prepare(dir);
    cleanup = prepared.cleanup;
    env = { ...prepared.env, JWT_SECRET: TEST_JWT_SECRET, DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'info' };
    server = await startTestServer(env);
    env.PUBLIC_BASE_URL = server.url;
    if (stack.s3) {
      worker = spawnCustomify(['worker'], env);
      await worker.waitForOutput(/Render worker ready/, 60_000);
    }
  }, 90_000);
  afterAll(async () => {
    await worker?.stop();
    await server?.stop();
    await cleanup();
    await removeTempDir(dir);
  });

  it('customify print makes the files of a design created through the API; they download and are never public', async () => {
    const headers = await authHeaders();
    const created = await fetch(`${server.url}/api/v1/designs`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ ...SAMPLE_DESIGN, product_type: 'hoodie' }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as DesignView;
    const get = async () => (await (await fetch(`${server.url}/api/v1/designs/${id}`, { headers })).json()) as DesignView;
    const published = await pollForStatus(get, 'PUBLISHED', 60_000);

    const command = spawnCustomify(['print', id, '--wait'], env);
    const { code } = await command.exited;
    const out = command.output();
    expect(code, out).toBe(0);
    expect(out).toContain(`Design ${id}: print_status READY`);
    const pdfUrl = /^print\.pdf: (\S+)$/m.exec(out)![1]!;
    const pngUrl = /^print\.png: (\S+)$/m.exec(out)![1]!;

    const view = await get();
    expect(view.print_status).toBe('READY');
    const withAuth = stack.s3 ? {} : { headers };
    const pdf = await fetch(pdfUrl, withAuth);
    expect(pdf.status).toBe(200);
    expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const png = await fetch(view.print_png_url!, withAuth);
    expect(png.status).toBe(200);
    expect(await sharp(Buffer.from(await png.arrayBuffer())).metadata()).toMatchObject({ width: 3600, height: 3600, density: 300 });
    if (stack.s3) {
      expect(pngUrl).toMatch(/X-Amz-Signature=/);
    } else {
      expect(pngUrl).toBe(`${server.url}/api/v1/designs/${id}/print-files/print.png`);
      expect((await fetch(pngUrl)).status).toBe(401);
    }

    // Never public: the object's plain URL is refused (in S3 by the bucket policy, so only where the server enforces one), the preview next to it is not.
    const objectUrl = server.container.storage.storage.publicUrl(`designs/${id}/print.png`);
    if (!stack.s3 || s3EnforcesPolicies) expect((await fetch(objectUrl)).status).toBe(stack.s3 ? 403 : 404);
    expect((await fetch(published.preview_url!)).status).toBe(200);
  });

  it('customify print names what is wrong and exits 1 for an unknown design, 2 without a DESIGN_ID', async () => {
    const unknown = spawnCustomify(['print', '00000000-0000-4000-8000-000000000000'], env);
    expect((await unknown.exited).code).toBe(1);
    expect(unknown.output()).toMatch(/customify print: Design "00000000-0000-4000-8000-000000000000" not found/);
    const missing = spawnCustomify(['print'], env);
    expect((await missing.exited).code).toBe(2);
    expect(missing.output()).toMatch(/Missing DESIGN_ID\.\nUsage: customify print DESIGN_ID \[--wait\]/);
  });
});
