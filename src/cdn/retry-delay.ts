import { backoffDelay } from '../jobs/retry-policy.js';

export interface InvalidationBackoff {
  /** Delay before the first retry, doubled for each failure after it (default 1 s). */
  baseMs: number;
  /** The longest delay (default 5 min): an outage of hours is still retried every few minutes. */
  maxMs: number;
}

export const DEFAULT_INVALIDATION_BACKOFF: InvalidationBackoff = { baseMs: 1000, maxMs: 5 * 60_000 };

/**
 * How long paths that failed `failures` times (1 after the first failure) wait before the next
 * try: base × 2^(failures-1), capped, then a random point in its upper half ("equal jitter"),
 * so the processes that all failed against the same outage do not all retry in the same
 * millisecond, and no wait is shorter than half its step or longer than the cap.
 */
export function retryDelayMs(failures: number, backoff: InvalidationBackoff = DEFAULT_INVALIDATION_BACKOFF, random: () => number = Math.random): number {
  const step = Math.min(backoff.maxMs, backoffDelay({ maxRetries: Number.POSITIVE_INFINITY, backoffMs: backoff.baseMs }, Math.max(1, failures)));
  return Math.round(step / 2 + (step / 2) * Math.min(1, Math.max(0, random())));
}
