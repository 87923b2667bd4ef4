import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { StorageRepository } from '../storage/index.js';
import type { DesignRepository } from './design-repository.js';

export interface SupersededImagesDeps {
  designs: Pick<DesignRepository, 'dueSuperseded' | 'forgetSuperseded'>;
  /** deleteKeys tells the CDN of every key removed (ObjectStorage.onRemoved): exact paths, no wildcard. */
  storage: Pick<StorageRepository, 'deleteKeys'>;
  logger: Logger;
}

/**
 * Removes the images re-renders replaced once their grace period (ASSET_GRACE_PERIOD) is
 * over, key by key (the publish recorded every one), so the CDN is asked to drop exact paths
 * rather than wildcards, of which CloudFront allows only 15 in progress. Objects go
 * first, the record second, so a removal cut short is found again by the next sweep; a
 * failure leaves the record for the next sweep. Returns how many versions were removed.
 */
export async function removeSupersededImages(deps: SupersededImagesDeps, now: Date = new Date()): Promise<number> {
  const { designs, storage, logger } = deps;
  let removed = 0;
  for (const version of await designs.dueSuperseded(now)) {
    try {
      await storage.deleteKeys(version.keys);
      await designs.forgetSuperseded(version.designId, version.version);
      removed++;
    } catch (error) {
      logger.warn({ designId: version.designId, version: version.version }, `Could not remove superseded images (${describeError(error)}); the next sweep tries again.`);
    }
  }
  if (removed > 0) logger.info({ removed }, `Removed ${removed} superseded version(s) of design images`);
  return removed;
}
