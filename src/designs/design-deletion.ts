import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { StorageRepository } from '../storage/index.js';
import type { Design } from './design.js';
import type { DesignRepository } from './design-repository.js';

export interface DesignDeletionDeps {
  designs: Pick<DesignRepository, 'tombstone' | 'renderLeaseOfDeleted' | 'removeTombstoned' | 'findTombstoned'>;
  storage: Pick<StorageRepository, 'deleteDesignAssets'>;
  logger: Logger;
  clock?: () => Date;
  /** Longest pause between two looks at a render's lease while a DELETE waits for it. */
  maxPollMs?: number;
}

/**
 * Deleting a design while a render of it may be running, in another process or on another
 * machine. The protocol lives in the database, so it holds across API processes and
 * workers:
 *
 *   1. tombstone: one UPDATE sets `deleted_at`. From here the API answers 404, and no render
 *      can claim, publish, fail or release the design (each of those is a conditional UPDATE
 *      that requires no tombstone). The row the UPDATE returns says whether a render holds a
 *      lease on the design at that moment, i.e. may still be writing its files.
 *   2. wait for that render: until its lease ends. A render that finds its design deleted
 *      (its publish, fail or release UPDATE matched nothing) removes what it wrote and ends
 *      its lease at once, so the wait normally lasts one render. A render can write files
 *      only while it holds a lease, and none can be taken after the tombstone.
 *   3. remove every stored object under `designs/{id}/`, then the row.
 *
 * So when DELETE answers, no render can still add a file, and none is left. A render that
 * ran past its lease (a process paused for longer than RENDER_LEASE) is the one case the
 * wait cannot see; it too finds its design gone when it tries to publish and removes what it
 * wrote. A deletion interrupted after step 1 (crash, storage down) is finished by the next
 * DELETE of the same design or by the sweep (finishInterrupted).
 */
export class DesignDeletion {
  private readonly clock: () => Date;
  private readonly maxPollMs: number;

  constructor(private readonly deps: DesignDeletionDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.maxPollMs = deps.maxPollMs ?? 100;
  }

  /** Deletes the owner's design and everything stored for it. False when the owner has no such design. */
  async delete(id: string, ownerId: string): Promise<boolean> {
    const design = await this.deps.designs.tombstone(id, ownerId);
    if (!design) return false;
    await this.finish(design);
    return true;
  }

  /**
   * Finishes deletions a crashed process or a storage outage left half done: designs
   * tombstoned before `before`. Returns how many were finished; one that fails again is
   * logged and left for the next run.
   */
  async finishInterrupted(before: Date, limit = 100): Promise<number> {
    const designs = await this.deps.designs.findTombstoned(before, limit);
    let finished = 0;
    for (const design of designs) {
      try {
        await this.finish(design);
        finished++;
      } catch (error) {
        this.deps.logger.warn({ designId: design.id }, `Could not finish deleting design ${design.id}: ${describeError(error)}; the next sweep tries again.`);
      }
    }
    if (finished > 0) this.deps.logger.info({ finished }, `Finished ${finished} interrupted design deletion(s)`);
    return finished;
  }

  private async finish(design: Pick<Design, 'id' | 'status' | 'leaseUntil' | 'print'>): Promise<void> {
    await this.waitForRender(design);
    await this.deps.storage.deleteDesignAssets(design.id);
    await this.deps.designs.removeTombstoned(design.id);
  }

  /** Returns once no render or print job holds a lease on the (tombstoned) design. */
  private async waitForRender(design: Pick<Design, 'id' | 'status' | 'leaseUntil' | 'print'>): Promise<void> {
    // A print job writes under the same prefix: wait for whichever lease ends later.
    const renderLease = design.status === 'RENDERING' ? design.leaseUntil : null;
    const printLease = design.print.status === 'PENDING' ? design.print.leaseUntil : null;
    let leaseUntil = renderLease && printLease ? (renderLease > printLease ? renderLease : printLease) : renderLease ?? printLease;
    let pause = 5;
    let waited = false;
    for (;;) {
      const left = leaseUntil ? leaseUntil.getTime() - this.clock().getTime() : 0;
      if (left <= 0) break;
      waited = true;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(pause * 2, this.maxPollMs);
      leaseUntil = await this.deps.designs.renderLeaseOfDeleted(design.id);
    }
    if (waited) this.deps.logger.debug({ designId: design.id }, 'delete waited for a running render to stop');
  }
}
