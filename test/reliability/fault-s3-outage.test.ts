import { describe, expect, it } from 'vitest';
import { startTestServer, tokenFor, type TestServer } from '../helpers/app.js';
import { createTestBucket, deleteTestBucket, getS3TestServer, s3Env, testS3Client } from '../helpers/s3.js';
import { sleep, startTcpProxy, type TcpProxy } from '../helpers/services.js';
import { ApiClient, counterValue, countStatuses, DESIGN_BODY, expectS3Assets, runPool, Timings, waitUntilSettled } from './harness.js';

/**
 * B1. S3 unreachable mid-run, and back. The shared Ceph is never touched: the service talks
 * to it through a TCP proxy of ours, and "unreachable" is that proxy closing its listener
 * (new connections refused) and resetting every live connection, for OUTAGE_MS, while
 * designs are being created and rendered: renders retry with backoff and publish once it is
 * back. Then a long outage, longer than the retry budget: renders give up, the designs are
 * FAILED with a message naming S3, and a re-render publishes them once S3 is back. At the
 * end every design is PUBLISHED and both its objects are in the bucket.
 */

const s3 = await getS3TestServer();
const DESIGNS = 240;
const OUTAGE_MS = 4_000;
const LONG_OUTAGE_DESIGNS = 10;

describe(`B1. S3 (${s3.kind}) unreachable mid-run, through a proxy we cut`, () => {
  it('creation keeps answering 201; renders retry or fail clearly; after the outage everything publishes', { timeout: 180_000 }, async () => {
    const t = new Timings('B1 S3 outage');
    const target = new URL(s3.endpoint);
    const bucket = await createTestBucket(s3, 'rel-s3-outage');
    let proxy: TcpProxy | undefined;
    let server: TestServer | undefined;
    try {
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 80) });
      server = await startTestServer({
        ...s3Env({ ...s3, endpoint: proxy.url }, bucket),
        S3_PUBLIC_BUCKET: 'false',
        RENDER_CONCURRENCY: '4',
        RENDER_MAX_RETRIES: '3',
        RENDER_BACKOFF_MS: '400',
      });
      const api = new ApiClient(server.url, await tokenFor('s3-outage'));
      t.mark('start');

      // Designs go in steadily; the outage starts once a third are in and lasts OUTAGE_MS.
      let outage: Promise<{ readyDuring: number; healthDuring: number }> | undefined;
      const answers = await runPool(Array.from({ length: DESIGNS }, (_, i) => i), 6, async (i) => {
        if (i === Math.floor(DESIGNS / 3)) {
          outage = (async () => {
            await proxy!.cut();
            await sleep(300);
            const ready = await fetch(`${server!.url}/readyz`);
            const health = await fetch(`${server!.url}/healthz`);
            await sleep(OUTAGE_MS - 300);
            await proxy!.restore();
            return { readyDuring: ready.status, healthDuring: health.status };
          })();
        }
        await sleep(20); // about 250 designs a second: the outage falls in the middle of the stream
        return api.create(DESIGN_BODY(`S3 outage ${i}`));
      });
      const during = await outage!;
      t.mark('create (outage inside)');
      expect(answers.map((a) => a.status).filter((s) => s !== 201)).toEqual([]);
      // While S3 was unreachable the process stayed live, and said it was not ready.
      expect(during.healthDuring).toBe(200);
      expect(during.readyDuring).toBe(503);
      const ids = answers.map((a) => a.body.id);

      const settled = await waitUntilSettled(server.container.designs, ids, 60_000);
      t.mark('settle');
      const metrics = server.container.metrics;
      const retries = await counterValue(metrics, 'customify_renders_total', { outcome: 'retry' });
      const failedRenders = await counterValue(metrics, 'customify_renders_total', { outcome: 'failed' });
      const storageErrors = await counterValue(metrics, 'customify_storage_errors_total', { operation: 'put', code: 'STORAGE_UNAVAILABLE' });
      // The outage did hit renders (otherwise this test proves nothing).
      expect(retries + failedRenders).toBeGreaterThan(0);
      expect(storageErrors).toBeGreaterThan(0);

      const failedShort = settled.filter((d) => d.status === 'FAILED');
      for (const design of failedShort) expect((await api.rerender(design.id)).status).toBe(202);
      const afterShort = await waitUntilSettled(server.container.designs, ids, 60_000);
      expect(countStatuses(afterShort)).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: DESIGNS, FAILED: 0 });
      t.mark('settle short outage');

      // A long outage: renders run out of attempts and fail with a message naming S3 and the
      // attempts; the designs stay FAILED (no retry storm) until someone asks for a re-render.
      await proxy.cut();
      const longIds: string[] = [];
      for (let i = 0; i < LONG_OUTAGE_DESIGNS; i++) {
        const res = await api.create(DESIGN_BODY(`Long outage ${i}`));
        expect(res.status).toBe(201);
        longIds.push(res.body.id);
      }
      const failed = await waitUntilSettled(server.container.designs, longIds, 60_000);
      t.mark('long outage: renders give up');
      expect(countStatuses(failed).FAILED).toBe(LONG_OUTAGE_DESIGNS);
      for (const design of failed) {
        expect(design.error).toMatch(/^S3 is unreachable or failing \(ECONNREFUSED\) for PutObject on s3:\/\/.*the operation can be retried\. \(gave up after 4 attempts\)$/);
        const view = await api.get(design.id);
        expect(view.body).toMatchObject({ status: 'FAILED', preview_url: null, error: design.error });
      }
      await proxy.restore();
      for (const id of longIds) expect((await api.rerender(id)).status).toBe(202);
      const republished = await waitUntilSettled(server.container.designs, longIds, 60_000);
      expect(countStatuses(republished)).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: LONG_OUTAGE_DESIGNS, FAILED: 0 });
      ids.push(...longIds);
      t.mark('long outage: re-render');

      // Both objects of every design are in the bucket (read straight from Ceph, not through the proxy).
      const client = testS3Client(s3);
      try {
        await expectS3Assets(client, bucket, ids);
      } finally {
        client.destroy();
      }
      // And the API hands out working (presigned, through the proxy) URLs again.
      const sample = await api.get(ids[Math.floor(DESIGNS / 2)]!);
      expect(sample.body.status).toBe('PUBLISHED');
      expect((await fetch(sample.body.preview_url!)).status).toBe(200);
      t.mark('check objects');
      t.report(`short outage (${OUTAGE_MS / 1000}s): ${retries} render retries, ${storageErrors} failed S3 puts, ${failedShort.length} designs FAILED and re-rendered; long outage: ${LONG_OUTAGE_DESIGNS} FAILED with the S3 message, all published on re-render`);
    } finally {
      await server?.stop();
      await proxy?.close();
      await deleteTestBucket(s3, bucket).catch(() => undefined);
    }
  });
});
