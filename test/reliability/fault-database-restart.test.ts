import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestServer, tokenFor, type TestServer } from '../helpers/app.js';
import { assertCapable, skipWithout, sleep, startPrivatePostgres, type PrivatePostgres } from '../helpers/services.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { ApiClient, countStatuses, DESIGN_BODY, expectLocalAssets, Timings, waitUntilSettled } from './harness.js';

/**
 * B5. The database goes away under load and comes back. A private PostgreSQL cluster
 * (initdb + pg_ctl, run as the postgres user; the shared one is never touched) is stopped
 * with `pg_ctl stop -m fast` while 10 clients create designs and the in-process worker
 * renders them, kept down for DOWN_MS, then started again. Requests may be refused with 503
 * DATABASE_UNAVAILABLE meanwhile (nothing else), but every design answered 201 publishes,
 * and nothing in the database is left PENDING or RENDERING.
 */

const CLIENTS = 10;
const LOAD_MS = 10_000;
const DOWN_MS = 3_000;

describe.skipIf(skipWithout('postgres'))('B5. the database (private PostgreSQL) restarted under load', () => {
  it('refuses with 503 while down, loses nothing, and publishes every accepted design afterwards', { timeout: 180_000 }, async () => {
    assertCapable('postgres');
    const t = new Timings('B5 database restart');
    const dir = await createTempDir('rel-db-restart');
    let postgres: PrivatePostgres | undefined;
    let server: TestServer | undefined;
    try {
      postgres = await startPrivatePostgres();
      server = await startTestServer({
        DATABASE_URL: postgres.url,
        LOCAL_STORAGE_PATH: path.join(dir, 'storage'),
        RENDER_CONCURRENCY: '2',
        RENDER_MAX_RETRIES: '5',
        RENDER_BACKOFF_MS: '200',
        RENDER_LEASE: '2s',
        PENDING_SWEEP_AFTER: '1s',
      });
      const api = new ApiClient(server.url, await tokenFor('db-restart'));
      t.mark('start');

      const accepted: string[] = [];
      const refused = new Map<string, number>();
      const tally = (key: string) => refused.set(key, (refused.get(key) ?? 0) + 1);
      const stopAt = Date.now() + LOAD_MS;
      let n = 0;
      const clients = Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < stopAt) {
          const res = await api.create(DESIGN_BODY(`DB restart ${n++}`));
          if (res.status === 201) accepted.push(res.body.id);
          else tally(`${res.status} ${(res.body as unknown as { error?: { code?: string } })?.error?.code ?? String(JSON.stringify(res.body)).slice(0, 80)}`);
          await sleep(150);
        }
      });
      const fault = (async () => {
        await sleep(3_000);
        const downAt = performance.now();
        await postgres.stop('fast');
        await sleep(DOWN_MS);
        await postgres.start();
        return (performance.now() - downAt) / 1000;
      })();
      await Promise.all(clients);
      const downSeconds = await fault;
      t.mark('load with restart');

      // The only refusal allowed is "retry shortly".
      expect([...refused.keys()].filter((k) => k !== '503 DATABASE_UNAVAILABLE')).toEqual([]);
      expect(accepted.length).toBeGreaterThan(100);
      const settled = await waitUntilSettled(server.container.designs, accepted, 90_000);
      t.mark('settle');
      expect(countStatuses(settled)).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: accepted.length, FAILED: 0 });
      // Nothing else is stuck either (a row written for a request whose answer was lost is rendered too).
      const everything = await waitUntilSettled(
        server.container.designs,
        (await server.container.db.selectFrom('designs').select('id').execute()).map((r) => r.id),
        60_000,
      );
      expect(countStatuses(everything).FAILED).toBe(0);
      await expectLocalAssets(path.join(dir, 'storage'), everything.map((d) => d.id));
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      t.mark('check');
      const refusedText = [...refused.entries()].map(([k, v]) => `${v}x ${k}`).join(', ') || 'none';
      t.report(`database down ${downSeconds.toFixed(1)}s; ${accepted.length} accepted (201), refused: ${refusedText}; designs in the database: ${everything.length}`);
    } finally {
      await server?.stop();
      await postgres?.destroy();
      await removeTempDir(dir);
    }
  });
});
