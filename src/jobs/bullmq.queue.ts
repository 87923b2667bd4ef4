import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { AppError, describeError } from '../errors.js';
import { withTimeout } from '../shared/timeout.js';
import type { Logger } from '../logger.js';
import type { Attempt } from './render-design.task.js';
import type { RenderQueue, RenderWorker } from './render-queue.js';
import { isRetryable, type RetryPolicy } from './retry-policy.js';

interface RenderJobData { designId: string }

export interface BullmqOptions {
  redisUrl: string;
  queueName: string;
  policy: RetryPolicy;
  logger: Logger;
  /** The job name on the queue; 'render-design' unless this queue runs another task (uploads). */
  jobName?: string;
}

/** The production producer: jobs on Redis, the design id as job id. */
export class BullmqRenderQueue implements RenderQueue {
  readonly kind = 'bullmq' as const;
  readonly queue: Queue<RenderJobData, unknown>;
  private readonly jobName: string;
  private readonly timeoutMs: number;

  constructor(options: BullmqOptions & { timeoutMs?: number }) {
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.jobName = options.jobName ?? 'render-design';
    this.queue = new Queue<RenderJobData, unknown>(options.queueName, {
      // Fail fast while Redis is down: the row is already written, and the sweep queues it later.
      connection: { url: options.redisUrl, enableOfflineQueue: false, maxRetriesPerRequest: 1 },
      defaultJobOptions: {
        attempts: options.policy.maxRetries + 1,
        backoff: { type: 'exponential', delay: options.policy.backoffMs },
        // Finished jobs are removed so the same design id can be queued again (a re-render).
        removeOnComplete: true,
        removeOnFail: true,
      },
    });
    this.queue.on('error', (error) => options.logger.warn({ err: error }, `Render queue: ${describeError(error)}`));
  }

  async enqueue(designId: string): Promise<void> {
    await this.withTimeout('queue the render', () => this.queue.add(this.jobName, { designId }, { jobId: designId }));
  }

  async enqueueMany(designIds: readonly string[]): Promise<void> {
    if (designIds.length === 0) return;
    // addBulk pipelines every job's script: one round trip for the lot.
    await this.withTimeout(`queue ${designIds.length} renders`, () =>
      this.queue.addBulk(designIds.map((designId) => ({ name: this.jobName, data: { designId }, opts: { jobId: designId } }))));
  }

  async depth(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async ping(): Promise<void> {
    // Any round trip will do; BullMQ's client interface has no PING.
    await this.withTimeout('reach Redis', async () => {
      const client = await this.queue.getBackend().client;
      await client.get(`${this.queue.name}:ping`);
    });
  }

  /** BullMQ waits for Redis indefinitely; callers here must hear about an outage in seconds. */
  private async withTimeout<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(run(), this.timeoutMs, () => new AppError('QUEUE_UNAVAILABLE', `Could not ${what}: Redis at REDIS_URL did not answer within ${this.timeoutMs} ms.`, { retryable: true }));
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new AppError('QUEUE_UNAVAILABLE', `Could not ${what}: ${describeError(error)}. Check that Redis at REDIS_URL is running.`, { cause: error, retryable: true });
    }
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface BullmqWorkerOptions extends BullmqOptions {
  task: (id: string, attempt: Attempt) => Promise<unknown>;
  concurrency: number;
  /** How often to look for jobs whose worker died; they are run again. */
  stalledIntervalMs?: number;
  lockDurationMs?: number;
}

/** A production worker: `customify worker` runs one per process, as many processes as needed. */
export class BullmqRenderWorker implements RenderWorker {
  readonly worker: Worker<RenderJobData, unknown>;

  constructor(private readonly options: BullmqWorkerOptions) {
    const { task, policy, logger } = options;
    this.worker = new Worker<RenderJobData, unknown>(
      options.queueName,
      async (job: Job<RenderJobData, unknown>) => {
        try {
          return await task(job.data.designId, { attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? policy.maxRetries + 1 });
        } catch (error) {
          // Retrying cannot fix it (or the task already recorded FAILED): don't spend attempts.
          if (!isRetryable(error)) throw new UnrecoverableError(describeError(error));
          throw error;
        }
      },
      {
        connection: { url: options.redisUrl, maxRetriesPerRequest: null },
        concurrency: options.concurrency,
        autorun: false,
        // Stalled-job recovery: a job whose worker died is moved back to waiting and run again.
        stalledInterval: options.stalledIntervalMs ?? 30_000,
        maxStalledCount: 3,
        lockDuration: options.lockDurationMs ?? 30_000,
      },
    );
    this.worker.on('error', (error) => logger.warn({ err: error }, `Render worker: ${describeError(error)}`));
  }

  async start(): Promise<void> {
    void this.worker.run().catch((error: unknown) => this.options.logger.error({ err: error }, 'render worker stopped'));
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker.close();
  }
}
