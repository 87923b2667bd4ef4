/**
 * The render queue port. Producers (the API) enqueue design ids; workers run the render
 * task for each. Both adapters give the same guarantees: a design is queued at most once
 * at a time (the design id is the job id), failures retry with the same backoff policy,
 * and a failure that retrying cannot fix ends the job at once.
 */
export interface RenderQueue {
  readonly kind: 'in-process' | 'bullmq';
  /** Queues a render of `designId`; a no-op if one is already waiting. Throws if the queue is unreachable. */
  enqueue(designId: string): Promise<void>;
  /**
   * Queues renders of `designIds` in one round trip to the backing service, each as `enqueue`
   * would (same job id and options; a no-op for one already waiting). Throws if the queue is
   * unreachable; some of them may have been queued then, and queueing them again is harmless.
   */
  enqueueMany(designIds: readonly string[]): Promise<void>;
  /** Jobs waiting, delayed or running. */
  depth(): Promise<number>;
  /** Throws if the queue's backing service is unreachable. */
  ping(): Promise<void>;
  /** Stops taking new jobs and waits for running ones (or hands them back). */
  close(): Promise<void>;
}

export interface RenderWorker {
  /** Starts taking jobs. */
  start(): Promise<void>;
  /** Finishes running jobs (BullMQ hands unfinished ones back to Redis) and stops. */
  close(): Promise<void>;
}
