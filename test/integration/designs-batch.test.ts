import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildContainer, type Container } from '../../src/composition-root.js';
import type { Environment } from '../../src/config.js';
import { MAX_BATCH_DESIGNS, type DesignView } from '../../src/designs/design-service.js';
import { AppError } from '../../src/errors.js';
import { BullmqRenderQueue } from '../../src/jobs/bullmq.queue.js';
import { sweepStaleDesigns } from '../../src/jobs/pending-sweep.js';
import { silentLogger } from '../../src/logger.js';
import type { UploadView } from '../../src/uploads/upload-service.js';
import { gpsOrientation6Jpeg } from '../fixtures/uploads/images.js';
import { authHeaders, createTestApp, SAMPLE_DESIGN, type TestApp } from '../helpers/app.js';
import { createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { until } from '../helpers/services.js';

/**
 * POST /api/v1/designs/batch (issue #14) on both stacks: the embedded default (SQLite, local
 * disk, in-process queue) and production's parts (PostgreSQL, BullMQ on Redis with a separate
 * worker container). Each design of a batch is created or refused on its own, as POST
 * /api/v1/designs would; the created ones are queued in one call and rendered.
 */

interface Stack {
  name: string;
  skip: boolean;
  dialect: 'sqlite' | 'postgres';
  prepare(): Promise<{ env: Environment; cleanup: () => Promise<void> }>;
}

const STACKS: Stack[] = [
  { name: 'SQLite, local disk, in-process queue', skip: false, dialect: 'sqlite', prepare: () => Promise.resolve({ env: {}, cleanup: async () => {} }) },
  {
    name: 'PostgreSQL, Redis (BullMQ) and a worker',
    skip: skipDialect('postgres') || skipRedis,
    dialect: 'postgres',
    prepare: async () => {
      const db: TestDatabase = await createTestDatabase('postgres', { migrate: false });
      return {
        env: { DATABASE_URL: db.url, REDIS_URL, RENDER_QUEUE_NAME: `batch-${randomUUID().slice(0, 8)}`, SCAN_REQUIRED: 'false' },
        cleanup: () => db.destroy(),
      };
    },
  },
];

interface BatchItem {
  index: number;
  status: number;
  design?: DesignView;
  error?: { code: string; message: string; field?: string };
}
interface BatchAnswer {
  items: BatchItem[];
  created: number;
  failed: number;
}

const design = (text: string, extra: Record<string, unknown> = {}) => ({ ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text }, ...extra });

describe.each(STACKS.filter((s) => !s.skip))('POST /api/v1/designs/batch ($name)', (stack) => {
  let t: TestApp;
  /** The BullMQ worker process's container (production stack only). */
  let worker: Container | undefined;
  let cleanup: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const prepared = await stack.prepare();
    cleanup = prepared.cleanup;
    t = await createTestApp({ env: prepared.env });
    if (t.settings.redisUrl) {
      worker = await buildContainer(t.settings, { logger: silentLogger, role: 'worker', migrate: false });
      await worker.startBackground();
    }
  });
  afterAll(async () => {
    await worker?.close();
    if (t?.container.queue instanceof BullmqRenderQueue) {
      for (const queue of [t.container.queue, t.container.uploadQueue, t.container.printQueue]) {
        await (queue as BullmqRenderQueue).queue.obliterate({ force: true }).catch(() => undefined);
      }
    }
    await t?.close();
    await cleanup();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function batch(body: unknown, user = 'user-a'): Promise<{ status: number; body: BatchAnswer & { error?: { code: string; field?: string; message: string } } }> {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/designs/batch', headers: await authHeaders(user), payload: body as object });
    return { status: res.statusCode, body: res.json() };
  }

  async function listIds(user: string): Promise<string[]> {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/designs?limit=100', headers: await authHeaders(user) });
    return res.json<{ items: DesignView[] }>().items.map((d) => d.id);
  }

  it('creates the valid designs and refuses the others, each in its place with the code and field POST /designs gives, then queues the created ones in one call and renders them', async () => {
    const user = `mixed-${stack.dialect}`;
    const enqueueMany = vi.spyOn(t.container.queue, 'enqueueMany');
    const enqueue = vi.spyOn(t.container.queue, 'enqueue');
    const bullmq = t.container.queue instanceof BullmqRenderQueue ? t.container.queue : undefined;
    const addBulk = bullmq ? vi.spyOn(bullmq.queue, 'addBulk') : undefined;
    const add = bullmq ? vi.spyOn(bullmq.queue, 'add') : undefined;
    const invalid = {
      1: design('Bad colour', { design_data: { text: 'Bad colour', font: 'Bebas-Bold', color: 'red' } }),
      3: 'not a design',
      4: design('Unknown font', { design_data: { text: 'x', font: 'Comic-Sans', color: '#000000' } }),
      5: design('Bad flag', { watermark: 'yes' }),
    };
    const designs = [design('First'), invalid[1], design('Third', { watermark: true }), invalid[3], invalid[4], invalid[5], design('Last')];

    const res = await batch({ designs });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: 3, failed: 4 });
    expect(res.body.items.map((item) => [item.index, item.status])).toEqual([[0, 201], [1, 400], [2, 201], [3, 400], [4, 400], [5, 400], [6, 201]]);
    const created = res.body.items.filter((item) => item.status === 201).map((item) => item.design!);
    expect(created.map((d) => [d.design_data.text, d.status, d.watermark])).toEqual([['First', 'PENDING', false], ['Third', 'PENDING', true], ['Last', 'PENDING', false]]);
    expect(res.body.items.filter((item) => item.status === 201).every((item) => item.error === undefined)).toBe(true);

    // Each refusal is POST /api/v1/designs's answer for that body, its field placed in the batch.
    for (const [index, body] of Object.entries(invalid)) {
      const alone = await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers: { ...(await authHeaders(user)), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
      expect(alone.statusCode, `item ${index}`).toBe(400);
      const { code, message, field } = alone.json<{ error: { code: string; message: string; field: string } }>().error;
      const item = res.body.items[Number(index)]!;
      expect(item.design).toBeUndefined();
      // A body that is not an object is `body` alone and `designs[3]` in a batch; a bad watermark
      // is told in the service's words ("true or false"), not the schema's ("must be boolean").
      const sameWords = index !== '3' && index !== '5';
      expect(item.error, `item ${index}`).toEqual({ code, message: sameWords ? message : expect.any(String) as unknown, field: index === '3' ? 'designs[3]' : `designs[${index}].${field}` });
    }
    expect(res.body.items[1]!.error).toMatchObject({ code: 'INVALID_COLOR', field: 'designs[1].design_data.color' });
    expect(res.body.items[3]!.error).toMatchObject({ code: 'INVALID_TYPE', field: 'designs[3]', message: expect.stringMatching(/must be an object, got a string/) as unknown });
    expect(res.body.items[4]!.error).toMatchObject({ code: 'UNKNOWN_FONT', field: 'designs[4].design_data.font' });
    expect(res.body.items[5]!.error).toMatchObject({ code: 'INVALID_TYPE', field: 'designs[5].watermark' });

    // The created ones, and only they, belong to the caller; all went to the queue in one call.
    expect((await listIds('user-a')).filter((id) => created.some((d) => d.id === id))).toHaveLength(3);
    expect(enqueueMany).toHaveBeenCalledTimes(1);
    expect(enqueueMany).toHaveBeenCalledWith(created.map((d) => d.id));
    if (bullmq) {
      // One addBulk with every id as its job id and the queue's retry policy; no single adds.
      expect(add).not.toHaveBeenCalled();
      expect(enqueue).not.toHaveBeenCalled();
      expect(addBulk).toHaveBeenCalledTimes(1);
      const jobs = await (addBulk!.mock.results[0]!.value as ReturnType<typeof bullmq.queue.addBulk>);
      expect(jobs.map((job) => job.id)).toEqual(created.map((d) => d.id));
      expect(jobs.map((job) => job.opts)).toEqual(created.map(() => expect.objectContaining({ attempts: t.settings.renderMaxRetries + 1, removeOnComplete: true }) as unknown));
    }
    for (const d of created) {
      const published = await t.waitForStatus(d.id, 'PUBLISHED', { timeoutMs: 60_000 });
      expect(published.preview_url).toBeTruthy();
    }
  }, 120_000);

  it.each([
    ['no design', { designs: [] }, 'INVALID_VALUE', 'designs', /got 0: send at least one/],
    [`${MAX_BATCH_DESIGNS + 1} designs`, { designs: Array.from({ length: MAX_BATCH_DESIGNS + 1 }, (_, i) => design(`Design ${i}`)) }, 'INVALID_VALUE', 'designs', /got 101: split them into batches of 100/],
    ['no designs field', {}, 'FIELD_REQUIRED', 'designs', /designs is required/],
    ['designs not an array', { designs: { product_type: 't-shirt' } }, 'INVALID_TYPE', 'designs', /must be an array/],
    ['an unknown field', { designs: [design('x')], dry_run: true }, 'UNKNOWN_FIELD', 'dry_run', /remove it/],
    ['an array body', [design('x')], 'INVALID_TYPE', 'body', /JSON object/],
  ])('%s: 400 %s naming %s, and nothing is created', async (_name, body, code, field, message) => {
    const user = `refused-${stack.dialect}-${randomUUID().slice(0, 8)}`;
    const res = await batch(body, user);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code, field, message: expect.stringMatching(message) as unknown });
    expect(await listIds(user)).toEqual([]);
  });

  it(`takes ${MAX_BATCH_DESIGNS} designs of long text, over the 64 KB other bodies are held to`, async () => {
    const user = `full-${stack.dialect}`;
    // Three UTF-8 bytes a character, close to the 200 characters a text may have.
    const text = '€—“”'.repeat(49);
    const body = { designs: Array.from({ length: MAX_BATCH_DESIGNS }, (_, i) => design(`${i} ${text}`)) };
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(64 * 1024);
    const res = await batch(body, user);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: MAX_BATCH_DESIGNS, failed: 0 });
    expect(res.body.items.map((item) => item.index)).toEqual([...Array(MAX_BATCH_DESIGNS).keys()]);
    const tooLarge = await t.app.inject({
      method: 'POST', url: '/api/v1/designs/batch', headers: { ...(await authHeaders(user)), 'content-type': 'application/json' },
      payload: JSON.stringify({ designs: [design('x'.repeat(1024 * 1024))] }),
    });
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  }, 60_000);

  it("refuses a design with another user's upload (404 UPLOAD_NOT_FOUND) or an unknown one, and creates the rest, the owner's image included", async () => {
    const upload = async (user: string): Promise<UploadView> => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/uploads', headers: { ...(await authHeaders(user)), 'content-type': 'image/jpeg' }, payload: await gpsOrientation6Jpeg() });
      expect(res.statusCode, res.body).toBe(201);
      const id = res.json<UploadView>().id;
      return until(`upload ${id} published`, async () => (await t.app.inject({ method: 'GET', url: `/api/v1/uploads/${id}`, headers: await authHeaders(user) })).json<UploadView>(), (u) => u.status === 'PUBLISHED', 60_000, 50);
    };
    const [mine, theirs] = await Promise.all([upload('user-a'), upload('user-b')]);
    const withImage = (uploadId: string) => ({ product_type: 'mug', design_data: { font: 'Roboto-Bold', color: '#000000', image: { upload_id: uploadId } } });

    const res = await batch({ designs: [design('Plain'), withImage(theirs.id), withImage(randomUUID()), withImage(mine.id)] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: 2, failed: 2 });
    expect(res.body.items.map((item) => item.status)).toEqual([201, 404, 404, 201]);
    for (const index of [1, 2]) {
      expect(res.body.items[index]!.error).toMatchObject({ code: 'UPLOAD_NOT_FOUND', field: `designs[${index}].design_data.image.upload_id` });
    }
    // The other user's upload id reads exactly like an unknown one: nothing confirms it exists.
    expect(res.body.items[1]!.error!.message).toBe(res.body.items[2]!.error!.message);
    const imageDesign = res.body.items[3]!.design!;
    expect(imageDesign.design_data).toMatchObject({ image: { upload_id: mine.id } });
    await t.waitForStatus(imageDesign.id, 'PUBLISHED', { timeoutMs: 60_000 });
    await t.waitForStatus(res.body.items[0]!.design!.id, 'PUBLISHED', { timeoutMs: 60_000 });
  }, 120_000);

  it('reports an insert the database refuses as that design\'s 500, stores nothing of it, and creates the others', async () => {
    const user = `db-refuses-${stack.dialect}`;
    const marker = 'REFUSED-BY-DATABASE';
    if (stack.dialect === 'sqlite') {
      await sql`create trigger refuse_batch_test before insert on designs when new.design_data like ${sql.lit(`%${marker}%`)} begin select raise(abort, 'refused by the test'); end`.execute(t.container.db);
    } else {
      await sql`alter table designs add constraint refuse_batch_test check (design_data not like ${sql.lit(`%${marker}%`)})`.execute(t.container.db);
    }
    try {
      const res = await batch({ designs: [design('Before'), design(marker), design('After')] }, user);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ created: 2, failed: 1 });
      expect(res.body.items[1]).toEqual({ index: 1, status: 500, error: { code: 'INTERNAL_ERROR', message: expect.stringMatching(/request id/) as unknown } });
      const ids = await listIds(user);
      expect(ids.sort()).toEqual([res.body.items[0]!.design!.id, res.body.items[2]!.design!.id].sort());
    } finally {
      await (stack.dialect === 'sqlite'
        ? sql`drop trigger refuse_batch_test`.execute(t.container.db)
        : sql`alter table designs drop constraint refuse_batch_test`.execute(t.container.db));
    }
  });

  it('answers the batch when the queue cannot be reached: the designs wait PENDING and the sweep queues them', async () => {
    const user = `queue-down-${stack.dialect}`;
    vi.spyOn(t.container.queue, 'enqueueMany').mockRejectedValueOnce(new AppError('QUEUE_UNAVAILABLE', 'Redis did not answer (test).', { retryable: true }));
    const res = await batch({ designs: [design('Swept one'), design('Swept two')] }, user);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: 2, failed: 0 });
    const ids = res.body.items.map((item) => item.design!.id);
    for (const id of ids) expect((await t.container.designs.findById(id))?.status).toBe('PENDING');
    const queued = await sweepStaleDesigns({ designs: t.container.designs, queue: t.container.queue, logger: silentLogger, pendingAfterMs: 0 }, { pendingBefore: new Date(Date.now() + 1000) });
    expect(queued).toBeGreaterThanOrEqual(2);
    for (const id of ids) await t.waitForStatus(id, 'PUBLISHED', { userId: user, timeoutMs: 60_000 });
  }, 120_000);

  it('needs a token, as every design route', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/designs/batch', payload: { designs: [design('x')] } });
    expect(res.statusCode).toBe(401);
  });
});

describe.skipIf(skipRedis)('BullmqRenderQueue.enqueueMany (real Redis)', () => {
  const policy = { maxRetries: 2, backoffMs: 50 };
  let queue: BullmqRenderQueue;
  beforeAll(() => {
    queue = new BullmqRenderQueue({ redisUrl: REDIS_URL, queueName: `batch-queue-${randomUUID()}`, policy, logger: silentLogger });
  });
  afterAll(async () => {
    await queue.queue.obliterate({ force: true });
    await queue.close();
  });

  it('queues each id as enqueue does (the id as job id, the retry policy), and an id already waiting is not queued twice', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await queue.enqueueMany([]);
    expect(await queue.depth()).toBe(0);
    await queue.enqueue(a);
    await queue.enqueueMany([a, b]);
    await queue.enqueueMany([b, c]);
    expect(await queue.depth()).toBe(3);
    for (const id of [a, b, c]) {
      const job = await queue.queue.getJob(id);
      expect(job?.name).toBe('render-design');
      expect(job?.data).toEqual({ designId: id });
      expect(job?.opts).toMatchObject({ attempts: policy.maxRetries + 1, backoff: { type: 'exponential', delay: policy.backoffMs } });
    }
  });

  it('throws QUEUE_UNAVAILABLE when Redis cannot be reached', async () => {
    const down = new BullmqRenderQueue({ redisUrl: 'redis://127.0.0.1:1', queueName: `batch-down-${randomUUID()}`, policy, logger: silentLogger, timeoutMs: 500 });
    try {
      await expect(down.enqueueMany([randomUUID()])).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE', retryable: true });
    } finally {
      await down.close().catch(() => undefined);
    }
  });
});
