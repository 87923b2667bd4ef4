import { describe, expect, it } from 'vitest';
import { DEFAULT_INVALIDATION_BACKOFF } from '../../src/cdn/cdn-invalidator.js';
import { retryDelayMs } from '../../src/jobs/retry-policy.js';

describe('retryDelayMs (CloudFront invalidation retries)', () => {
  const low = () => 0;
  const high = () => 1;

  it('starts at 1 s and doubles with each failure, within the upper half of each step', () => {
    expect(DEFAULT_INVALIDATION_BACKOFF).toEqual({ baseMs: 1000, maxMs: 300_000 });
    const steps = [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000];
    steps.forEach((step, i) => {
      expect(retryDelayMs(i + 1, DEFAULT_INVALIDATION_BACKOFF, high)).toBe(step);
      expect(retryDelayMs(i + 1, DEFAULT_INVALIDATION_BACKOFF, low)).toBe(step / 2);
    });
  });

  it('never waits longer than 5 min, however many failures', () => {
    for (const failures of [10, 11, 50, 1000, 1e9]) {
      expect(retryDelayMs(failures, DEFAULT_INVALIDATION_BACKOFF, high)).toBe(300_000);
      expect(retryDelayMs(failures, DEFAULT_INVALIDATION_BACKOFF, low)).toBe(150_000);
    }
  });

  it('is jittered: random draws spread over [step/2, step]', () => {
    const draws = Array.from({ length: 200 }, () => retryDelayMs(3, DEFAULT_INVALIDATION_BACKOFF));
    for (const d of draws) {
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
    expect(new Set(draws).size).toBeGreaterThan(1);
  });

  it('treats 0 or fewer failures as the first, and clamps a random source outside [0, 1]', () => {
    expect(retryDelayMs(0, DEFAULT_INVALIDATION_BACKOFF, high)).toBe(1000);
    expect(retryDelayMs(-3, DEFAULT_INVALIDATION_BACKOFF, high)).toBe(1000);
    expect(retryDelayMs(1, DEFAULT_INVALIDATION_BACKOFF, () => 7)).toBe(1000);
    expect(retryDelayMs(1, DEFAULT_INVALIDATION_BACKOFF, () => -1)).toBe(500);
  });

  it('takes a shorter schedule (tests)', () => {
    expect(retryDelayMs(1, { baseMs: 10, maxMs: 50 }, high)).toBe(10);
    expect(retryDelayMs(4, { baseMs: 10, maxMs: 50 }, high)).toBe(50);
  });
});
