import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStreamKey } from '../../src/events/index.js';
import { SAMPLE_DESIGN, TEST_JWT_SECRET, tokenFor } from '../helpers/app.js';
import { createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { freePort, spawnCustomify, type CustomifyProcess } from '../helpers/services.js';
import { openSse, type SseConnection } from '../helpers/sse.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * Production shape: `customify serve` (no in-process renders with REDIS_URL) and a separate
 * `customify worker`, as child processes on one PostgreSQL and one Redis. The worker's
 * changes (rendering, published) reach the API process's event streams through the Redis stream.
 */
describe.skipIf(skipRedis || skipDialect('postgres'))('Server-Sent Events across processes (serve + worker on Redis)', () => {
  let database: TestDatabase;
  let dir: string;
  let serve: CustomifyProcess | undefined;
  let worker: CustomifyProcess | undefined;
  let url: string;
  const queueName = `events-x-${randomBytes(4).toString('hex')}`;
  const streams: SseConnection[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    dir = await createTempDir('events-redis');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const env = {
      DATABASE_URL: database.url, REDIS_URL, RENDER_QUEUE_NAME: queueName, JWT_SECRET: TEST_JWT_SECRET,
      LOCAL_STORAGE_PATH: path.join(dir, 'storage'), DATA_DIR: path.join(dir, 'data'),
      HOST: '127.0.0.1', PORT: String(port), PUBLIC_BASE_URL: url, LOG_LEVEL: 'info', LOG_FORMAT: 'json',
    };
    serve = spawnCustomify(['serve'], env);
    worker = spawnCustomify(['worker'], env);
    await serve.waitForOutput(/Customify listening/, 60_000);
    await worker.waitForOutput(/Render worker ready/, 60_000);
  }, 120_000);

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await worker?.stop();
    await serve?.stop();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`*${queueName}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await database.destroy();
    await removeTempDir(dir);
  });

  it('the API process streams the events the worker publishes: created (serve), rendering and published (worker)', async () => {
    const token = await tokenFor('user-x');
    const all = await openSse(`${url}/api/v1/events`, token);
    streams.push(all);
    expect(all.status).toBe(200);
    // The stream opens with `ready`, id'd with the stream's head: an empty stream's is 0-0.
    expect(await all.next((e) => e.event === 'ready')).toEqual({ id: '0-0', event: 'ready', data: {} });
    const res = await fetch(`${url}/api/v1/designs`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(SAMPLE_DESIGN),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const one = await openSse(`${url}/api/v1/designs/${id}/events`, token);
    streams.push(one);

    const published = await all.next((e) => e.event === 'design.published' && e.data.id === id, { timeoutMs: 60_000 });
    expect(all.events.filter((e) => e.data.id === id).map((e) => e.event)).toEqual(['design.created', 'design.rendering', 'design.published']);
    const get = await fetch(`${url}/api/v1/designs/${id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(published.data).toEqual(await get.json());
    // The design's own stream ends on the worker's event.
    await one.ended;
    expect(one.events.at(-2)).toEqual(published);
    expect(one.events.at(-1)!.event).toBe('end');

    // The ids are the Redis stream's.
    const redis = new Redis(REDIS_URL);
    try {
      const entries = await redis.xrange(eventStreamKey(queueName), '-', '+');
      expect(entries.map(([entryId]) => entryId)).toEqual(expect.arrayContaining(all.events.filter((e) => e.event !== 'ready').map((e) => e.id)));
    } finally {
      await redis.quit();
    }

    // Resuming on the API process from the empty stream's `ready` (0-0) replays from Redis, no reset: the worker's events included, in order.
    const resumed = await openSse(`${url}/api/v1/events`, token, { lastEventId: all.events[0]!.id! });
    streams.push(resumed);
    await resumed.next((e) => e.id === published.id);
    expect(resumed.events.map((e) => `${e.id} ${e.event}`)).toEqual(all.events.map((e) => `${e.id} ${e.event}`));
  });
});
