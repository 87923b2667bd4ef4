import type { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import type { Database } from '../db/database.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { retryDelayMs, type Backoff } from '../jobs/retry-policy.js';
import { formatDuration } from '../shared/duration.js';
import { describeCloudFrontFailure } from './cloudfront-errors.js';
import { createInvalidationSender, type CloudFrontSettings, type InvalidationSender } from './cloudfront.sender.js';
import { InvalidationOutbox, type Claim } from './invalidation-outbox.js';
import { invalidationPaths, MAX_PATHS_PER_REQUEST } from './invalidation-paths.js';

/** Invalidation retries: 1 s doubling, at most 5 min (an outage of hours is still retried every few minutes). */
export const DEFAULT_INVALIDATION_BACKOFF: Backoff = { baseMs: 1000, maxMs: 5 * 60_000 };

export interface CdnInvalidator {
  /**
   * Records storage keys (`designs/<id>/<v>/preview.png`) or prefixes (ending in '/',
   * invalidated as `/<prefix>*`) durably in cdn_invalidations and schedules a flush; resolves
   * once recorded. A no-op when disabled.
   *
   * Throws STORAGE_INVALID_KEY for a key or prefix outside the storage key rules (the empty
   * prefix included), whether enabled or not, and DATABASE_UNAVAILABLE / DATABASE_ERROR when
   * the paths cannot be recorded. CloudFront failures never reach the caller.
   */
  invalidate(keysOrPrefixes: readonly string[]): Promise<void>;
  /** Sends every due path now (one CreateInvalidation per up to 3000 paths); for shutdown and tests. Resolves when done (failures are recorded for retry, not thrown). */
  flush(): Promise<void>;
  /** Stops timers; a pending burst is flushed first (best effort). */
  close(): Promise<void>;
  readonly enabled: boolean;
}

/** Counts requests and paths for /metrics (src/metrics.ts implements it). */
export interface CdnObserver {
  /** CloudFront accepted one request holding `paths` paths. */
  sent(paths: number): void;
  /** One request failed; its paths wait for a retry. */
  failed(): void;
  /** Where the backlog gauge reads the paths waiting. */
  backlog(read: () => Promise<number>): void;
}

export interface CdnInvalidatorDeps {
  db: Database;
  settings: CloudFrontSettings;
  logger: Logger;
  metrics?: { cdnObserver: CdnObserver };
  /** How long the first path recorded waits for others, so a burst is one request (default 1 s). */
  batchDelayMs?: number;
  /** How often due paths are looked for: retries, and paths other processes recorded (default 5 s). */
  pollIntervalMs?: number;
  /** Retry backoff (default 1 s doubling, at most 5 min). */
  backoff?: Backoff;
  /** How long a claim holds its paths; longer than a request can take (default 2 min). */
  claimLeaseMs?: number;
  /** Paths per request (default and CloudFront's maximum: 3000). */
  maxPathsPerRequest?: number;
  client?: CloudFrontClient;
}

/**
 * Invalidation of CloudFront's cached copies of paths whose bytes were deleted or changed in
 * place, through a durable outbox (cdn_invalidations): a path is recorded before anything is
 * sent and removed only once CloudFront accepted it, so an outage, a crash or a restart loses
 * none. The first path recorded starts a short timer; when it fires, every due path goes, one
 * request per 3000. A failed request leaves its paths with a backoff (1 s doubling, at most
 * 5 min, jittered); a poll picks up due paths, including those other processes recorded.
 *
 * With CLOUDFRONT_DISTRIBUTION_ID empty it records and sends nothing.
 */
export function createCdnInvalidator(deps: CdnInvalidatorDeps): CdnInvalidator {
  if (!deps.settings.cloudfrontDistributionId) return disabledInvalidator;
  return new OutboxInvalidator(deps, createInvalidationSender(deps.settings, deps.client));
}

const disabledInvalidator: CdnInvalidator = {
  enabled: false,
  invalidate(keysOrPrefixes) {
    // The same keys are refused either way, so a bad key shows in tests that run without CloudFront.
    invalidationPaths(keysOrPrefixes);
    return Promise.resolve();
  },
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

class OutboxInvalidator implements CdnInvalidator {
  readonly enabled = true;
  private readonly outbox: InvalidationOutbox;
  private readonly logger: Logger;
  private readonly observer: CdnObserver | undefined;
  private readonly batchDelayMs: number;
  private readonly backoff: Backoff;
  private readonly claimLeaseMs: number;
  private readonly maxPaths: number;
  private readonly distributionId: string;
  private burstTimer: NodeJS.Timeout | undefined;
  private readonly pollTimer: NodeJS.Timeout;
  /** Flushes run one at a time; each waits for the one before. */
  private flushes: Promise<void> = Promise.resolve();
  private flushesPending = 0;
  /** invalidate() calls writing to the outbox. */
  private recording = 0;
  private closed = false;

  constructor(deps: CdnInvalidatorDeps, private readonly sender: InvalidationSender) {
    this.outbox = new InvalidationOutbox(deps.db);
    this.logger = deps.logger;
    this.observer = deps.metrics?.cdnObserver;
    this.batchDelayMs = deps.batchDelayMs ?? 1000;
    this.backoff = deps.backoff ?? DEFAULT_INVALIDATION_BACKOFF;
    this.claimLeaseMs = deps.claimLeaseMs ?? 120_000;
    this.maxPaths = Math.min(MAX_PATHS_PER_REQUEST, Math.max(1, deps.maxPathsPerRequest ?? MAX_PATHS_PER_REQUEST));
    this.distributionId = deps.settings.cloudfrontDistributionId;
    this.observer?.backlog(() => this.outbox.backlog());
    this.pollTimer = setInterval(() => {
      // A burst being recorded or waiting for its timer is sent by that timer, whole.
      if (!this.burstTimer && this.recording === 0 && this.flushesPending === 0) void this.flush();
    }, deps.pollIntervalMs ?? 5000);
    this.pollTimer.unref();
  }

  async invalidate(keysOrPrefixes: readonly string[]): Promise<void> {
    const paths = invalidationPaths(keysOrPrefixes);
    if (paths.length === 0) return;
    // The burst's clock starts with its first call, and the poll leaves paths being recorded to it.
    this.scheduleBurst();
    this.recording += 1;
    try {
      await this.outbox.record(paths, Date.now());
    } finally {
      this.recording -= 1;
    }
    // Again: a record slower than the delay missed the timer it started.
    this.scheduleBurst();
  }

  private scheduleBurst(): void {
    if (this.closed || this.burstTimer) return;
    this.burstTimer = setTimeout(() => {
      this.burstTimer = undefined;
      void this.flush();
    }, this.batchDelayMs);
    // Recorded paths are durable: a process exiting before the timer leaves them to the next poll, here or elsewhere.
    this.burstTimer.unref();
  }

  flush(): Promise<void> {
    this.flushesPending += 1;
    const run = this.flushes.then(() => this.sendDue()).finally(() => {
      this.flushesPending -= 1;
    });
    this.flushes = run;
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return this.flushes;
    this.closed = true;
    clearInterval(this.pollTimer);
    if (this.burstTimer) {
      clearTimeout(this.burstTimer);
      this.burstTimer = undefined;
      await this.flush();
    }
    await this.flushes;
    this.sender.close();
  }

  /** Claims and sends due paths until none is left or a request fails (the rest wait for the poll). Never throws. */
  private async sendDue(): Promise<void> {
    try {
      for (;;) {
        const now = Date.now();
        if (!(await this.outbox.hasDue(now))) return;
        const claim = await this.outbox.claim(now, now + this.claimLeaseMs, this.maxPaths);
        if (claim.paths.length === 0 || !(await this.send(claim))) return;
      }
    } catch (error) {
      // The database, not CloudFront: the paths are still recorded, and claimed ones come back when their lease passes.
      this.logger.warn(`CDN invalidations could not be read or updated: ${describeError(error)}. They stay recorded and are sent once the database answers.`);
    }
  }

  /** One request; true when CloudFront accepted it. */
  private async send(claim: Claim): Promise<boolean> {
    const paths = claim.paths.map((p) => p.path);
    try {
      await this.sender.send(paths);
    } catch (error) {
      this.observer?.failed();
      const { reason, advice } = describeCloudFrontFailure(error, this.distributionId);
      const failures = Math.max(...claim.paths.map((p) => p.attempts)) + 1;
      // Logged first: should the database fail too, its warning follows this one rather than replacing it.
      this.logger.warn(
        { distributionId: this.distributionId, paths: paths.length, failures, error: reason },
        `CloudFront invalidation of ${paths.length} path(s) failed: ${reason}. What to do: ${advice}. ` +
          `The paths stay in cdn_invalidations and are retried with backoff (at least every ${formatDuration(this.backoff.maxMs)}) until CloudFront accepts them; cached copies are served until then.`,
      );
      await this.outbox.fail(claim, reason, Date.now(), (n) => retryDelayMs(n, this.backoff));
      return false;
    }
    this.observer?.sent(paths.length);
    await this.outbox.complete(claim, Date.now());
    this.logger.debug({ distributionId: this.distributionId, paths: paths.length }, `CloudFront invalidation of ${paths.length} path(s) sent`);
    return true;
  }
}
