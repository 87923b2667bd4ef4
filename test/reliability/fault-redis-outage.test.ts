import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BullmqRenderQueue } from '../../src/jobs/bullmq.queue.js';
import { startTestServer, tokenFor, type TestServer } from '../helpers/app.js';
import { createTestDatabase, skipDialect } from '../helpers/databases.js';
import { assertCapable, skipWithout, sleep, spawnCustomify, startPrivateRedis, type CustomifyProcess, type PrivateRedis } from '../helpers/services.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { ApiClient, countStatuses, DESIGN_BODY, expectLocalAssets, runPool, Timings, waitUntilSettled } from './harness.js';

/**
 * B3. Redis stopped while designs are created. A private redis-server (the shared one is
 * never touched), started with no persistence, so stopping it loses every job it held: the
 * worst case. The API (in this process) and a `customify worker` process both use it, with
 * PostgreSQL and a shared local storage folder. While Redis is down creation still answers
 * 201 and the designs wait as PENDING; once Redis is back the sweep queues them and they
 * publish.
 */

const OUTAGE_DESIGNS = 40;

describe.skipIf(skipWithout('redis') || skipDialect('postgres'))('B3. Redis (private instance) stopped while designs are created', () => {
  it('answers 201 throughout; designs stay PENDING, then publish once Redis is back', { timeout: 180_000 }, async () => {
    assertCapable('redis');
    const t = new Timings('B3 Redis outage');
    const database = await createTestDatabase('postgres', { migrate: false });
    const dir = await createTempDir('rel-redis');
    let redis: PrivateRedis | undefined;
    let server: TestServer | undefined;
    let worker: CustomifyProcess | undefined;
    try {
      redis = await startPrivateRedis();
      const env: Record<string, string> = {
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        RENDER_QUEUE_NAME: 'rel-redis-outage',
        LOCAL_STORAGE_PATH: path.join(dir, 'storage'),
        RENDER_CONCURRENCY: '2',
        PENDING_SWEEP_AFTER: '1s',
        RENDER_LEASE: '2s',
      };
      server = await startTestServer(env);
      worker = spawnCustomify(['worker'], { ...env, LOG_LEVEL: 'info' });
      await worker.waitForOutput(/Render worker ready/, 60_000);
      const api = new ApiClient(server.url, await tokenFor('redis-outage'));
      t.mark('start');

      // Before: the pipeline works.
      const before = await runPool(Array.from({ length: 20 }, (_, i) => i), 10, (i) => api.create(DESIGN_BODY(`Before ${i}`)));
      const beforeIds = before.map((r) => r.body.id);
      expect(countStatuses(await waitUntilSettled(server.container.designs, beforeIds, 30_000)).PUBLISHED).toBe(20);
      t.mark('baseline');

      await redis.stop();
      t.mark('stop redis');
      const started = performance.now();
      const during = await runPool(Array.from({ length: OUTAGE_DESIGNS }, (_, i) => i), 10, async (i) => {
        const sent = performance.now();
        const res = await api.create(DESIGN_BODY(`During outage ${i}`));
        return { ...res, ms: performance.now() - sent };
      });
      const slowest = Math.max(...during.map((d) => d.ms));
      t.mark('create during outage');
      expect(during.map((d) => d.status)).toEqual(Array(OUTAGE_DESIGNS).fill(201));
      // Each answer waited at most for the queue's 3 s timeout (plus the request itself).
      expect(slowest).toBeLessThan(6_000);
      const duringIds = during.map((d) => d.body.id);

      // Readiness names the queue; liveness stays up.
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { failing: string[] }).failing).toEqual(['queue']);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

      // Nothing renders without the queue, and nothing is lost: every design is there, PENDING.
      await sleep(2_000);
      const waiting = await server.container.designs.findByIds(duringIds);
      expect(waiting).toHaveLength(OUTAGE_DESIGNS);
      expect(countStatuses(waiting)).toEqual({ PENDING: OUTAGE_DESIGNS, RENDERING: 0, PUBLISHED: 0, FAILED: 0 });
      // Reads keep working during the outage.
      expect((await api.get(duringIds[0]!)).status).toBe(200);
      const outageSeconds = (performance.now() - started) / 1000;

      await redis.start();
      t.mark('restart redis');
      const settled = await waitUntilSettled(server.container.designs, duringIds, 60_000);
      t.mark('settle');
      expect(countStatuses(settled)).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: OUTAGE_DESIGNS, FAILED: 0 });
      expect(settled.filter((d) => d.attempts !== 1).map((d) => [d.id, d.attempts])).toEqual([]);
      await expectLocalAssets(env.LOCAL_STORAGE_PATH!, [...beforeIds, ...duringIds]);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      // And new designs go straight through again.
      const after = await api.create(DESIGN_BODY('After the outage'));
      expect(countStatuses(await waitUntilSettled(server.container.designs, [after.body.id], 30_000)).PUBLISHED).toBe(1);
      t.mark('check');
      t.report(`outage ${outageSeconds.toFixed(1)}s, slowest 201 during it ${Math.round(slowest)}ms`);
    } finally {
      await worker?.kill();
      if (server) {
        await (server.container.queue as BullmqRenderQueue).queue.obliterate({ force: true }).catch(() => undefined);
        await server.stop();
      }
      await redis?.destroy();
      await database.destroy();
      await removeTempDir(dir);
    }
  });
});
