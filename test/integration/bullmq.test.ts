import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BullmqRenderQueue, BullmqRenderWorker } from '../../src/jobs/bullmq.queue.js';
import type { RenderDesignTask } from '../../src/jobs/render-design.task.js';
import { silentLogger } from '../../src/logger.js';
import { createRenderStack, type RenderStack } from '../helpers/render-stack.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(skipRedis)('BullMQ queue and workers (real Redis)', () => {
  let stack: RenderStack;
  let queueName: string;
  const closers: Array<() => Promise<void>> = [];
  const policy = { maxRetries: 3, backoffMs: 50 };

  beforeEach(async () => {
    stack = await createRenderStack('sqlite', { leaseMs: 500 });
    queueName = `render-test-${randomUUID()}`;
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    const cleaner = new BullmqRenderQueue({ redisUrl: REDIS_URL, queueName, policy, logger: silentLogger });
    await cleaner.queue.obliterate({ force: true });
    await cleaner.close();
    await stack.destroy();
  });

  function makeQueue(): BullmqRenderQueue {
    const queue = new BullmqRenderQueue({ redisUrl: REDIS_URL, queueName, policy, logger: silentLogger });
    closers.push(() => queue.close());
    return queue;
  }

  function makeWorker(task: RenderDesignTask = stack.task, extra: { lockDurationMs?: number; stalledIntervalMs?: number } = {}): BullmqRenderWorker {
    const worker = new BullmqRenderWorker({ redisUrl: REDIS_URL, queueName, policy, logger: silentLogger, task, concurrency: 2, ...extra });
    closers.push(() => worker.close());
    return worker;
  }

  it('uses the design id as job id, so a design is never queued twice', async () => {
    const queue = makeQueue();
    const design = await stack.createDesign();
    await Promise.all([queue.enqueue(design.id), queue.enqueue(design.id), queue.enqueue(design.id)]);
    expect(await queue.depth()).toBe(1);
    const job = await queue.queue.getJob(design.id);
    expect(job?.data).toEqual({ designId: design.id });
    expect(job?.opts).toMatchObject({ attempts: 4, backoff: { type: 'exponential', delay: 50 } });
  });

  it('a worker publishes the design and the finished job is removed, so a re-render can queue it again', async () => {
    const queue = makeQueue();
    const design = await stack.createDesign();
    await queue.enqueue(design.id);
    await makeWorker().start();
    await until(async () => (await stack.designs.findById(design.id))!.status === 'PUBLISHED', 'PUBLISHED');
    await until(async () => (await queue.depth()) === 0, 'empty queue');
    await stack.designs.requestRerender(design.id, design.ownerId);
    await queue.enqueue(design.id);
    await until(async () => (await stack.designs.findById(design.id))!.status === 'PUBLISHED', 'PUBLISHED again');
  });

  it('retries with exponential backoff when storage fails twice, then publishes', async () => {
    const queue = makeQueue();
    const design = await stack.createDesign();
    stack.driver.failNextPuts('STORAGE_UNAVAILABLE', 'STORAGE_UNAVAILABLE', 'STORAGE_THROTTLED', 'STORAGE_THROTTLED');
    await queue.enqueue(design.id);
    await makeWorker().start();
    await until(async () => (await stack.designs.findById(design.id))!.status === 'PUBLISHED', 'PUBLISHED');
    expect((await stack.designs.findById(design.id))!.attempts).toBe(3);
    const starts = stack.driver.putTimes.filter((_, i) => i % 2 === 0);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(policy.backoffMs - 2);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(2 * policy.backoffMs - 2);
  });

  it('fails at once on an error retrying cannot fix', async () => {
    const queue = makeQueue();
    const design = await stack.createDesign();
    stack.driver.failNextPuts('STORAGE_BUCKET_NOT_FOUND', 'STORAGE_BUCKET_NOT_FOUND');
    await queue.enqueue(design.id);
    await makeWorker().start();
    await until(async () => (await stack.designs.findById(design.id))!.status === 'FAILED', 'FAILED');
    expect((await stack.designs.findById(design.id))!.attempts).toBe(1);
    expect(stack.driver.putTimes).toHaveLength(2);
  });

  it('a job whose worker died is recovered by stalled-job detection and published', async () => {
    const queue = makeQueue();
    const design = await stack.createDesign();
    let started!: () => void;
    const startedPromise = new Promise<void>((r) => (started = r));
    // The first worker claims the design, then hangs as a killed process would.
    const hanging: RenderDesignTask = async (id) => {
      await stack.designs.claimForRendering(id, 500);
      started();
      return new Promise(() => {});
    };
    const dying = new BullmqRenderWorker({ redisUrl: REDIS_URL, queueName, policy, logger: silentLogger, task: hanging, concurrency: 1, lockDurationMs: 1000, stalledIntervalMs: 500 });
    await dying.start();
    await queue.enqueue(design.id);
    await startedPromise;
    // Kill it: no lock renewal, no completion. Force-close stops its timers without finishing the job.
    await dying.worker.close(true);
    expect((await stack.designs.findById(design.id))!.status).toBe('RENDERING');
    await makeWorker(stack.task, { lockDurationMs: 1000, stalledIntervalMs: 500 }).start();
    await until(async () => (await stack.designs.findById(design.id))!.status === 'PUBLISHED', 'PUBLISHED after stall', 20_000);
  });

  it('enqueue fails fast when Redis is unreachable (the sweep queues the design later)', async () => {
    const queue = new BullmqRenderQueue({ redisUrl: 'redis://127.0.0.1:1', queueName, policy, logger: silentLogger });
    closers.push(() => queue.close());
    await expect(queue.enqueue(randomUUID())).rejects.toThrow();
    await expect(queue.ping()).rejects.toThrow();
  });
});
