import { AppError } from '../errors.js';

/** Retry policy as data (the seed's `max_retries=3`, `countdown=2 ** retries`). */
export interface RetryPolicy {
  /** Retries after the first attempt; 3 means up to 4 attempts. */
  maxRetries: number;
  /** Delay before the first retry; doubled for each one after (1, 2, 4 s). */
  backoffMs: number;
}

/** Delay before retry number `retry` (1-based). */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  return policy.backoffMs * 2 ** Math.max(0, retry - 1);
}

/**
 * Whether trying again can fix `error`. Typed errors say so themselves (storage
 * unreachable or throttled: yes; invalid design, access denied, missing bucket: no);
 * anything untyped is treated as transient, and the retry budget bounds it.
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof AppError ? error.retryable : true;
}

/** An exponential backoff with a cap, for retries that are a time in a row (CDN invalidations, webhooks). */
export interface Backoff {
  /** Delay step of the first retry, doubled for each failure after it. */
  baseMs: number;
  /** The longest step: an outage of hours is still retried every so often. */
  maxMs: number;
}

/**
 * How long something that failed `failures` times (1 after the first failure) waits before the
 * next try: base × 2^(failures-1), capped, then a random point in its upper half ("equal jitter"),
 * so the processes that all failed against the same outage do not all retry in the same
 * millisecond, and no wait is shorter than half its step or longer than the cap. The first
 * retry thus comes after base/2 to base.
 */
export function retryDelayMs(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  const step = Math.min(backoff.maxMs, backoffDelay({ maxRetries: Number.POSITIVE_INFINITY, backoffMs: backoff.baseMs }, Math.max(1, failures)));
  return Math.round(step / 2 + (step / 2) * Math.min(1, Math.max(0, random())));
}
