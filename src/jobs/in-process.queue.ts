import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Attempt } from './render-design.task.js';
import type { RenderQueue, RenderWorker } from './render-queue.js';
import { backoffDelay, isRetryable, type RetryPolicy } from './retry-policy.js';

export interface InProcessQueueOptions {
  /** The render task, or any task of the same shape (the upload pipeline runs on a second queue). */
  task: (id: string, attempt: Attempt) => Promise<unknown>;
  policy: RetryPolicy;
  concurrency: number;
  logger: Logger;
}

interface Entry { designId: string; attempt: number }

/**
 * The embedded default's queue: the same guarantees as the BullMQ adapter (one job per
 * design, exponential backoff, unrecoverable errors fail at once, a concurrency limit),
 * in memory. What it holds is lost with the process; the designs are not: they stay
 * PENDING or RENDERING in the database and are queued again at start and by the sweep.
 */
export class InProcessRenderQueue implements RenderQueue, RenderWorker {
  readonly kind = 'in-process' as const;
  private readonly ready: Entry[] = [];
  /** Design ids waiting, delayed or running. */
  private readonly queued = new Set<string>();
  /** Ids enqueued again while running (a re-render): run once more after. */
  private readonly again = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  private started = false;
  private closed = false;

  constructor(private readonly options: InProcessQueueOptions) {}

  // The queue port is asynchronous (BullMQ's enqueue is); this queue settles at once.
  enqueue(designId: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The render queue is closed.'));
    if (this.queued.has(designId)) {
      if (this.running.has(designId)) this.again.add(designId);
      return Promise.resolve();
    }
    this.queued.add(designId);
    this.ready.push({ designId, attempt: 1 });
    this.pump();
    return Promise.resolve();
  }

  async enqueueMany(designIds: readonly string[]): Promise<void> {
    for (const designId of designIds) await this.enqueue(designId);
  }

  depth(): Promise<number> {
    return Promise.resolve(this.queued.size);
  }

  async ping(): Promise<void> {}

  start(): Promise<void> {
    this.started = true;
    this.pump();
    return Promise.resolve();
  }

  /** Waits for running renders; retries still waiting are handed back to the database's sweep. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.ready.length = 0;
    await Promise.allSettled([...this.running.values()]);
  }

  /** Resolves when nothing is waiting, delayed or running (for tests and the CLI). */
  async drain(): Promise<void> {
    while (this.queued.size > 0 && !this.closed) {
      await Promise.race([...this.running.values(), new Promise((r) => setTimeout(r, 10))]);
    }
  }

  private pump(): void {
    while (this.started && !this.closed && this.running.size < this.options.concurrency && this.ready.length > 0) {
      const entry = this.ready.shift()!;
      const run = this.run(entry).finally(() => {
        this.running.delete(entry.designId);
        this.pump();
      });
      this.running.set(entry.designId, run);
    }
  }

  private async run(entry: Entry): Promise<void> {
    const { policy, logger } = this.options;
    const maxAttempts = policy.maxRetries + 1;
    try {
      await this.options.task(entry.designId, { attempt: entry.attempt, maxAttempts });
    } catch (error) {
      if (isRetryable(error) && entry.attempt < maxAttempts && !this.closed) {
        const delay = backoffDelay(policy, entry.attempt);
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.ready.push({ designId: entry.designId, attempt: entry.attempt + 1 });
          this.pump();
        }, delay);
        this.timers.add(timer);
        return;
      }
      logger.debug({ designId: entry.designId, error: describeError(error) }, 'render job ended in failure');
    }
    this.queued.delete(entry.designId);
    if (this.again.delete(entry.designId)) void this.enqueue(entry.designId).catch(() => undefined);
  }
}
