import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { BullmqRenderQueue } from '../../src/jobs/bullmq.queue.js';
import { startTestServer, tokenFor, type TestServer } from '../helpers/app.js';
import { createTestDatabase, skipDialect } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { createTestBucket, deleteTestBucket, getS3TestServer, s3Env, testS3Client } from '../helpers/s3.js';
import { spawnCustomify, type CustomifyProcess } from '../helpers/services.js';
import { ApiClient, counterValue, countStatuses, DESIGN_BODY, expectLocalAssets, expectValidPng, latestLocalVersion, runPool, Timings, unversioned, waitUntilSettled, walkFiles } from './harness.js';

/**
 * Scenario A: many designs through the real HTTP API from many concurrent clients, in the
 * embedded mode (SQLite, local disk, in-process worker) and in production mode (PostgreSQL,
 * Redis/BullMQ, S3 on Ceph, a separate `customify worker` process). Every design must end
 * PUBLISHED after exactly one render, with both assets present and decodable, and nothing
 * may be left PENDING or RENDERING.
 */

const EMBEDDED_DESIGNS = Number(process.env.RELIABILITY_EMBEDDED_DESIGNS ?? 2000);
const PRODUCTION_DESIGNS = Number(process.env.RELIABILITY_PRODUCTION_DESIGNS ?? 500);
const CLIENTS = 50;
const USERS = 10;
const FONTS = ['Bebas-Bold', 'Roboto-Regular', 'Lobster-Regular', 'Pacifico-Regular'];
const COLORS = ['#FF0000', '#00AA44', '#123456', '#FFFFFF', '#000'];

function bodyFor(i: number) {
  return DESIGN_BODY(`Load ${i}\nline two ${i % 7}`, { font: FONTS[i % FONTS.length], color: COLORS[i % COLORS.length] });
}

/** Creates `n` designs through the API with CLIENTS concurrent clients spread over USERS users; all must answer 201. */
async function createMany(baseUrl: string, n: number): Promise<{ ids: string[]; owners: Map<string, ApiClient> }> {
  const clients = await Promise.all(Array.from({ length: USERS }, async (_, u) => new ApiClient(baseUrl, await tokenFor(`load-user-${u}`))));
  const owners = new Map<string, ApiClient>();
  const answers = await runPool(Array.from({ length: n }, (_, i) => i), CLIENTS, async (i) => {
    const client = clients[i % USERS]!;
    const res = await client.create(bodyFor(i));
    if (res.status !== 201) throw new Error(`design ${i}: POST answered ${res.status} ${JSON.stringify(res.body)}`);
    owners.set(res.body.id, client);
    return res.body.id;
  });
  return { ids: answers, owners };
}

describe('A. load, embedded mode (SQLite, local disk, in-process worker)', () => {
  it(`${EMBEDDED_DESIGNS} designs from ${CLIENTS} concurrent clients: each PUBLISHED once, every asset a valid PNG, nothing stuck`, { timeout: 300_000 }, async () => {
    const t = new Timings(`A1 embedded load (${EMBEDDED_DESIGNS} designs, ${CLIENTS} clients)`);
    const server: TestServer = await startTestServer({ RENDER_CONCURRENCY: '4', PENDING_SWEEP_AFTER: '30s' });
    try {
      t.mark('start');
      const { ids, owners } = await createMany(server.url, EMBEDDED_DESIGNS);
      expect(new Set(ids).size).toBe(EMBEDDED_DESIGNS);
      t.mark('create');

      const designs = await waitUntilSettled(server.container.designs, ids, 240_000);
      t.mark('render');
      expect(countStatuses(designs)).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: EMBEDDED_DESIGNS, FAILED: 0 });
      // Published exactly once: one claim per design, one published render and one upload of each asset per design.
      expect(designs.filter((d) => d.attempts !== 1).map((d) => [d.id, d.attempts])).toEqual([]);
      const metrics = server.container.metrics;
      expect(await counterValue(metrics, 'customify_renders_total', { outcome: 'published' })).toBe(EMBEDDED_DESIGNS);
      expect(await counterValue(metrics, 'customify_renders_total', { outcome: 'retry' })).toBe(0);
      expect(await counterValue(metrics, 'customify_renders_total', { outcome: 'failed' })).toBe(0);
      expect(await counterValue(metrics, 'customify_uploads_total', { kind: 'preview' })).toBe(EMBEDDED_DESIGNS);
      expect(await counterValue(metrics, 'customify_uploads_total', { kind: 'thumbnail' })).toBe(EMBEDDED_DESIGNS);
      // Nothing in the whole database is left behind either.
      const all = await server.container.designs.countByStatus();
      expect(all).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: EMBEDDED_DESIGNS, FAILED: 0 });

      // The storage tree holds exactly the two assets of each design (their key implies their metadata): no temp file, no stray.
      const root = server.settings.localStoragePath;
      const files = (await walkFiles(root)).map(unversioned);
      const expected = ids.flatMap((id) => [
        `designs/${id}/preview.png`, `designs/${id}/thumbnail.png`,
      ]).sort();
      expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(files).toEqual(expected);
      await expectLocalAssets(root, ids);
      t.mark('check files');

      // Through the API too: each owner sees PUBLISHED with URLs, and the URLs serve the stored bytes.
      await runPool(ids, CLIENTS, async (id, i) => {
        const res = await owners.get(id)!.get(id);
        expect(res.status).toBe(200);
        expect(res.body.status).toBe('PUBLISHED');
        const folder = await latestLocalVersion(root, id);
        expect(res.body.preview_url).toBe(`${server.url}/static/${folder}/preview.png`);
        expect(res.body.thumbnail_url).toBe(`${server.url}/static/${folder}/thumbnail.png`);
        if (i % 20 === 0) {
          const image = await fetch(res.body.preview_url!);
          expect(image.status).toBe(200);
          const bytes = Buffer.from(await image.arrayBuffer());
          expect(bytes.equals(await readFile(path.join(root, folder, 'preview.png')))).toBe(true);
        }
      });
      t.mark('check API');
    } finally {
      await server.stop();
      t.report();
    }
  });
});

const s3 = await getS3TestServer();

describe.skipIf(skipRedis || skipDialect('postgres'))(`A. load, production mode (PostgreSQL, Redis/BullMQ, S3 on ${s3.kind}, a separate worker process)`, () => {
  it(`${PRODUCTION_DESIGNS} designs from ${CLIENTS} concurrent clients through a \`customify worker\` process`, { timeout: 400_000 }, async () => {
    const t = new Timings(`A2 production load (${PRODUCTION_DESIGNS} designs, ${CLIENTS} clients)`);
    const database = await createTestDatabase('postgres', { migrate: false });
    const bucket = await createTestBucket(s3, 'rel-load');
    const queueName = `rel-load-${randomBytes(4).toString('hex')}`;
    const env: Record<string, string> = {
      DATABASE_URL: database.url,
      REDIS_URL,
      RENDER_QUEUE_NAME: queueName,
      ...s3Env(s3, bucket),
      S3_PUBLIC_BUCKET: 'false',
      RENDER_CONCURRENCY: '8',
      RENDER_BACKOFF_MS: '200',
      PENDING_SWEEP_AFTER: '60s',
    };
    let server: TestServer | undefined;
    let worker: CustomifyProcess | undefined;
    try {
      server = await startTestServer(env);
      worker = spawnCustomify(['worker'], { ...env, LOG_LEVEL: 'info', NODE_ENV: 'production' }, { collect: /"msg":"Design [0-9a-f-]{36} published"/ });
      await worker.waitForOutput(/Render worker ready/, 60_000);
      t.mark('start');

      const { ids, owners } = await createMany(server.url, PRODUCTION_DESIGNS);
      t.mark('create');
      const designs = await waitUntilSettled(server.container.designs, ids, 300_000);
      t.mark('render');
      expect(countStatuses(designs)).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: PRODUCTION_DESIGNS, FAILED: 0 });
      expect(designs.filter((d) => d.attempts !== 1).map((d) => [d.id, d.attempts])).toEqual([]);
      expect(await server.container.designs.countByStatus()).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: PRODUCTION_DESIGNS, FAILED: 0 });
      expect(await server.container.queue.depth()).toBe(0);
      // The worker logged one "published" line per design: no design was published twice.
      const publishedLines = worker.collected().map((line) => /Design ([0-9a-f-]{36}) published/.exec(line)![1]);
      expect(publishedLines.length).toBe(PRODUCTION_DESIGNS);
      expect(new Set(publishedLines)).toEqual(new Set(ids));

      // The bucket holds exactly the two assets of each design, each a complete PNG.
      const client = testS3Client(s3);
      try {
        const keys: string[] = [];
        let token: string | undefined;
        for (let page = 0; page < 100; page++) {
          const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
          keys.push(...(out.Contents ?? []).map((o) => o.Key!));
          token = out.IsTruncated ? out.NextContinuationToken : undefined;
          if (!token) break;
        }
        expect(keys.map(unversioned).sort()).toEqual(ids.flatMap((id) => [`designs/${id}/preview.png`, `designs/${id}/thumbnail.png`]).sort());
        expect(keys.every((key) => unversioned(key) !== key)).toBe(true);
        await runPool(keys, 16, async (key) => {
          const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          const bytes = Buffer.from(await out.Body!.transformToByteArray());
          await expectValidPng(bytes, key.endsWith('preview.png') ? 'preview' : 'thumbnail', key);
        });
      } finally {
        client.destroy();
      }
      t.mark('check objects');

      // Through the API: PUBLISHED with signed URLs that fetch (a sample; every object was read above).
      await runPool(ids, CLIENTS, async (id, i) => {
        const res = await owners.get(id)!.get(id);
        expect(res.status).toBe(200);
        expect(res.body.status).toBe('PUBLISHED');
        expect(res.body.preview_url).toMatch(new RegExp(`/${bucket}/designs/${id}/[0-9a-z]{12,}/preview\\.png\\?`));
        if (i % 50 === 0) {
          const image = await fetch(res.body.thumbnail_url!);
          expect(image.status).toBe(200);
          await expectValidPng(Buffer.from(await image.arrayBuffer()), 'thumbnail', id);
        }
      });
      t.mark('check API');
    } finally {
      await worker?.stop();
      if (server) {
        await (server.container.queue as BullmqRenderQueue).queue.obliterate({ force: true }).catch(() => undefined);
        await server.stop();
      }
      await deleteTestBucket(s3, bucket).catch(() => undefined);
      await database.destroy();
      t.report();
    }
  });
});
