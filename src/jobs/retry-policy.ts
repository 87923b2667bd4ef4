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
