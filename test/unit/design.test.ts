import { describe, expect, it } from 'vitest';
import { AppError, ValidationError } from '../../src/errors.js';
import {
  DESIGN_STATUSES,
  assertTransition,
  canTransition,
  isLeaseExpired,
  newDesign,
  type Design,
  type DesignStatus,
} from '../../src/designs/design.js';

const NOW = new Date('2024-05-01T12:00:00.123Z');
const ID = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';

function designIn(status: DesignStatus, leaseUntil: Date | null = null): Design {
  return { ...newDesign({ id: ID, ownerId: 'user-1', productType: 'tshirt', designData: { text: 'Hi', font: 'Roboto', color: '#fff' }, now: NOW }), status, leaseUntil };
}

const ALLOWED: Array<[DesignStatus, DesignStatus]> = [
  ['PENDING', 'RENDERING'],
  ['RENDERING', 'PUBLISHED'],
  ['RENDERING', 'FAILED'],
  ['RENDERING', 'RENDERING'],
  ['PUBLISHED', 'PENDING'],
  ['FAILED', 'PENDING'],
];
const allowed = (from: DesignStatus, to: DesignStatus) => ALLOWED.some(([f, t]) => f === from && t === to);
const ALL_PAIRS = DESIGN_STATUSES.flatMap((from) => DESIGN_STATUSES.map((to) => [from, to] as [DesignStatus, DesignStatus]));

function refusal(design: Design, to: DesignStatus): AppError {
  try {
    assertTransition(design, to, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error(`expected ${design.status} → ${to} to be refused`);
}

describe('design status machine', () => {
  it.each(ALL_PAIRS)('canTransition(%s, %s) follows the graph', (from, to) => {
    expect(canTransition(from, to)).toBe(allowed(from, to));
  });

  it.each(ALLOWED.filter(([from, to]) => !(from === 'RENDERING' && to === 'RENDERING')))('allows %s → %s', (from, to) => {
    expect(() => assertTransition(designIn(from), to, NOW)).not.toThrow();
  });

  it.each(ALL_PAIRS.filter(([from, to]) => !allowed(from, to)))('refuses %s → %s with INVALID_STATUS_TRANSITION', (from, to) => {
    const error = refusal(designIn(from), to);
    expect(error.code).toBe('INVALID_STATUS_TRANSITION');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(new RegExp(`^Cannot move design ${ID} from ${from} to ${to}: .+`));
    expect(error.details).toEqual({ designId: ID, from, to });
  });

  it('tells a caller re-rendering a RENDERING design to wait for the current render', () => {
    expect(refusal(designIn('RENDERING', new Date(NOW.getTime() + 60_000)), 'PENDING').message).toMatch(/wait for the current render to finish/);
  });

  it('tells a caller re-rendering a PENDING design that a render is already queued', () => {
    expect(refusal(designIn('PENDING'), 'PENDING').message).toMatch(/already queued/);
  });

  it('tells a caller to re-render a PUBLISHED or FAILED design before rendering it again', () => {
    expect(refusal(designIn('PUBLISHED'), 'RENDERING').message).toMatch(/request a re-render/);
    expect(refusal(designIn('FAILED'), 'RENDERING').message).toMatch(/request a re-render/);
  });

  describe('RENDERING → RENDERING (reclaim after a crashed worker)', () => {
    it('is refused while the lease runs, naming when it ends', () => {
      const leaseUntil = new Date(NOW.getTime() + 1);
      const error = refusal(designIn('RENDERING', leaseUntil), 'RENDERING');
      expect(error.code).toBe('INVALID_STATUS_TRANSITION');
      expect(error.message).toContain(leaseUntil.toISOString());
    });

    it('is allowed once the lease has expired, including exactly at its end', () => {
      expect(() => assertTransition(designIn('RENDERING', new Date(NOW.getTime() - 1)), 'RENDERING', NOW)).not.toThrow();
      expect(() => assertTransition(designIn('RENDERING', NOW), 'RENDERING', NOW)).not.toThrow();
    });

    it('is allowed when there is no lease at all', () => {
      expect(() => assertTransition(designIn('RENDERING', null), 'RENDERING', NOW)).not.toThrow();
    });

    it('isLeaseExpired compares with millisecond precision', () => {
      expect(isLeaseExpired({ leaseUntil: new Date(NOW.getTime() + 1) }, NOW)).toBe(false);
      expect(isLeaseExpired({ leaseUntil: NOW }, NOW)).toBe(true);
    });
  });
});

describe('newDesign', () => {
  const input = { ownerId: 'user-1', productType: 'mug', designData: { text: 'Hello', font: 'Lobster', color: '#112233', text_color: '#ffffff' }, now: NOW };

  it('starts PENDING with no assets, no attempts and both timestamps at now', () => {
    const design = newDesign(input);
    expect(design).toMatchObject({
      ownerId: 'user-1',
      productType: 'mug',
      designData: { text: 'Hello', font: 'Lobster', color: '#112233', text_color: '#ffffff' },
      status: 'PENDING',
      previewKey: null,
      thumbnailKey: null,
      error: null,
      attempts: 0,
      leaseUntil: null,
      publishedAt: null,
    });
    expect(design.createdAt.getTime()).toBe(NOW.getTime());
    expect(design.updatedAt.getTime()).toBe(NOW.getTime());
    expect(design.createdAt).not.toBe(NOW);
  });

  it('generates a random UUID when no id is given', () => {
    const a = newDesign(input);
    const b = newDesign(input);
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.id).not.toBe(b.id);
  });

  it('keeps a given UUID, lowercased', () => {
    expect(newDesign({ ...input, id: ID.toUpperCase() }).id).toBe(ID);
  });

  it('refuses an id that is not a UUID', () => {
    expect(() => newDesign({ ...input, id: '../etc/passwd' })).toThrow(ValidationError);
    expect(() => newDesign({ ...input, id: 'nope' })).toThrow(expect.objectContaining({ code: 'INVALID_DESIGN_ID' }));
  });

  it('refuses an empty owner', () => {
    expect(() => newDesign({ ...input, ownerId: ' ' })).toThrow(expect.objectContaining({ code: 'INVALID_OWNER_ID', field: 'owner_id' }));
  });
});
