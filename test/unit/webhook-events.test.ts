import { describe, expect, it } from 'vitest';
import { newDesign, type Design } from '../../src/designs/design.js';
import { ASSETS_REMOVED_ERROR } from '../../src/designs/design-repository.js';
import type { Upload } from '../../src/uploads/upload.js';
import { webhookChange } from '../../src/webhooks/index.js';
import { retryDelayMs } from '../../src/jobs/retry-policy.js';

/** Which committed state changes are webhook events, and the key that names each change once. */

const t0 = new Date('2026-11-30T12:00:00.000Z');
const t1 = new Date('2026-11-30T12:00:05.000Z');

function design(overrides: Partial<Design>): Design {
  const base = newDesign({ ownerId: 'user-a', productType: 't-shirt', designData: { text: 'Hi', font: 'Bebas-Bold', color: '#FF0000' }, now: t0 });
  return { ...base, ...overrides };
}

describe('webhookChange', () => {
  it('a publish is design.published, keyed by published_at; later changes of a PUBLISHED design are not', () => {
    expect(webhookChange({ kind: 'design', design: design({ status: 'PUBLISHED', publishedAt: t1, updatedAt: t1 }), deleted: false }))
      .toMatchObject({ type: 'design.published', subjectVersion: t1.getTime(), occurredAt: t1 });
    expect(webhookChange({ kind: 'design', design: design({ status: 'PUBLISHED', publishedAt: t0, updatedAt: t1 }), deleted: false })).toBeNull();
  });

  it('a failure is design.failed, keyed by its time; a cleanup that clears a FAILED design\'s images is not', () => {
    expect(webhookChange({ kind: 'design', design: design({ status: 'FAILED', error: 'Unknown font', updatedAt: t1 }), deleted: false }))
      .toMatchObject({ type: 'design.failed', subjectVersion: t1.getTime() });
    expect(webhookChange({ kind: 'design', design: design({ status: 'FAILED', error: ASSETS_REMOVED_ERROR, updatedAt: t1 }), deleted: false })).toBeNull();
  });

  it('PENDING, RENDERING and deletions are not webhook events', () => {
    expect(webhookChange({ kind: 'design', design: design({ status: 'PENDING' }), deleted: false })).toBeNull();
    expect(webhookChange({ kind: 'design', design: design({ status: 'RENDERING' }), deleted: false })).toBeNull();
    expect(webhookChange({ kind: 'design', design: design({ status: 'PUBLISHED', publishedAt: t1, updatedAt: t1 }), deleted: true })).toBeNull();
  });

  it('an upload that ends is upload.published or upload.rejected, once', () => {
    const upload = { id: 'u1', status: 'PUBLISHED', publishedAt: t1, updatedAt: t1 } as Upload;
    expect(webhookChange({ kind: 'upload', upload, deleted: false })).toEqual({ type: 'upload.published', subjectId: 'u1', subjectVersion: 0, occurredAt: t1 });
    expect(webhookChange({ kind: 'upload', upload: { ...upload, status: 'REJECTED', publishedAt: null }, deleted: false })).toMatchObject({ type: 'upload.rejected', subjectVersion: 0 });
    expect(webhookChange({ kind: 'upload', upload: { ...upload, status: 'SCANNING' }, deleted: false })).toBeNull();
  });
});

describe('the retry schedule', () => {
  it('doubles from WEBHOOK_BACKOFF with jitter in the upper half of each step, capped at 1 h', () => {
    const backoff = { baseMs: 10_000, maxMs: 3_600_000 };
    expect([1, 2, 3].map((n) => retryDelayMs(n, backoff, () => 0))).toEqual([5_000, 10_000, 20_000]);
    expect([1, 2, 3].map((n) => retryDelayMs(n, backoff, () => 1))).toEqual([10_000, 20_000, 40_000]);
    expect(retryDelayMs(30, backoff, () => 1)).toBe(3_600_000);
  });
});
