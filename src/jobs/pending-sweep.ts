import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DesignRepository } from '../designs/design-repository.js';
import type { UploadRepository } from '../uploads/upload-repository.js';
import type { RenderQueue } from './render-queue.js';

export interface SweepDeps {
  designs: Pick<DesignRepository, 'findStale'>;
  queue: Pick<RenderQueue, 'enqueue'>;
  logger: Logger;
  /** A PENDING design older than this is assumed lost between the database and the queue. */
  pendingAfterMs: number;
  /**
   * Finishes deletions tombstoned before the given instant that never completed (the DELETE's
   * process died, or storage failed); returns how many. Tombstoned designs are never queued.
   */
  finishDeletions?: (before: Date) => Promise<number>;
}

/**
 * Queues designs the queue may have lost: PENDING for longer than `pendingAfterMs` (the
 * enqueue failed, Redis was down, the process died before its in-memory queue ran) and
 * RENDERING with an expired lease (the worker died). Enqueueing is idempotent, so a design
 * that is in fact queued is not queued twice. Returns how many were queued.
 */
export async function sweepStaleDesigns(deps: SweepDeps, options: { pendingBefore?: Date; limit?: number } = {}): Promise<number> {
  const pendingBefore = options.pendingBefore ?? new Date(Date.now() - deps.pendingAfterMs);
  const stale = await deps.designs.findStale({ pendingBefore, limit: options.limit ?? 500 });
  const queued = await enqueueAll(stale.map((design) => design.id), deps, { idField: 'designId', what: 'stale design' });
  if (deps.finishDeletions) {
    await deps.finishDeletions(pendingBefore).catch((error: unknown) =>
      deps.logger.warn(`Sweep could not finish interrupted deletions: ${describeError(error)}`));
  }
  return queued;
}

/**
 * Queues uploads left RECEIVED, SCANNING or CLEAN since before `before` and not leased: their
 * job was lost (in-process queue, crash, Redis down at enqueue) or its attempts were spent
 * while the virus scanner was out. A scanner outage holds the lease for a growing, capped
 * wait (see the upload task), so those come back at that pace, not on every sweep. Uploads
 * that failed for good are REJECTED and never queued again. Returns how many were queued.
 */
export async function sweepStaleUploads(
  deps: { uploads: Pick<UploadRepository, 'findStale'>; queue: Pick<RenderQueue, 'enqueue'>; logger: Logger },
  before: Date,
): Promise<number> {
  return enqueueAll(await deps.uploads.findStale(before), deps, { idField: 'uploadId', what: 'unfinished upload' });
}

/** Runs the sweep every `intervalMs` until the returned function is called. */
export function startSweep(deps: SweepDeps, intervalMs: number): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = sweepStaleDesigns(deps).catch((error: unknown) => deps.logger.warn(`Sweep failed: ${describeError(error)}`));
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/**
 * Queues print jobs (issue #12) the print queue may have lost: print PENDING, unclaimed and
 * requested before `before`, or claimed by a worker whose lease ended (it crashed). Enqueueing
 * is idempotent and the task's claim is a compare-and-set, so a job in fact still queued or
 * running is not done twice. Returns how many were queued.
 */
export async function sweepStalePrints(
  deps: { designs: Pick<DesignRepository, 'findStalePrints'>; queue: Pick<RenderQueue, 'enqueue'>; logger: Logger },
  before: Date,
): Promise<number> {
  return enqueueAll(await deps.designs.findStalePrints(before), deps, { idField: 'designId', what: 'unfinished print job' });
}

/**
 * Queues each id in turn; stops at the first failure (the queue is down: the next sweep tries
 * again). Logs what it queued as "Queued N {what}(s)". Returns how many were queued.
 */
async function enqueueAll(
  ids: readonly string[],
  deps: { queue: Pick<RenderQueue, 'enqueue'>; logger: Logger },
  log: { idField: 'designId' | 'uploadId'; what: string },
): Promise<number> {
  let queued = 0;
  for (const id of ids) {
    try {
      await deps.queue.enqueue(id);
      queued++;
    } catch (error) {
      deps.logger.warn({ [log.idField]: id }, `Sweep could not queue ${log.what} ${id}: ${describeError(error)}`);
      break;
    }
  }
  if (queued > 0) deps.logger.info({ queued }, `Queued ${queued} ${log.what}(s)`);
  return queued;
}
