import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookDeliveryLog } from '../../src/webhooks/index.js';
import { createTestDatabase, DIALECTS, skipDialect, type TestDatabase } from '../helpers/databases.js';

/**
 * The delivery log's guarantees on both dialects: one event per change, no two claims of one
 * event at once, outcomes only under the claim's lease, events of one subject in order, and
 * replay.
 */

for (const dialect of DIALECTS) {
  describe.skipIf(skipDialect(dialect))(`webhook delivery log, ${dialect}`, () => {
    let tdb: TestDatabase;
    let log: WebhookDeliveryLog;
    beforeEach(async () => {
      tdb = await createTestDatabase(dialect);
      log = new WebhookDeliveryLog(tdb.db);
    });
    afterEach(() => tdb.destroy());

    const event = (eventId: string, subjectVersion: number, subjectId = 'design-1') => ({
      eventId, type: 'design.published' as const, subjectId, subjectVersion, body: `{"id":"${eventId}"}`, createdAt: new Date(1_000),
    });

    it('records a change once, whichever path records it first', async () => {
      expect(await log.record(event('evt_a', 1), 1_000)).toBe(true);
      expect(await log.record(event('evt_b', 1), 1_000)).toBe(false);
      expect((await log.list()).map((d) => d.eventId)).toEqual(['evt_a']);
    });

    it('lets one claim at a time send an event, and records outcomes only under that claim', async () => {
      await log.record(event('evt_a', 1), 1_000);
      const claim = await log.claim('evt_a', 2_000, 10_000, { inOrder: true });
      expect(claim).toMatchObject({ eventId: 'evt_a', status: 'pending' });
      expect(await log.claim('evt_a', 2_001, 10_001, { inOrder: true })).toBeNull();
      // After the lease has passed (the sender died), another process may take it; the first one's outcome is then refused.
      const second = await log.claim('evt_a', 10_000, 20_000, { inOrder: true });
      expect(second).not.toBeNull();
      expect(await log.delivered(claim!, 10_500, 200)).toBe(false);
      expect(await log.delivered(second!, 10_500, 200)).toBe(true);
      expect(await log.claim('evt_a', 30_000, 40_000, { inOrder: true })).toBeNull();
      expect(await log.find('evt_a')).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200, leaseUntil: null });
    });

    it('holds a later event of the same subject until the earlier one is no longer pending; replay skips the line', async () => {
      await log.record(event('evt_1', 1), 1_000);
      await log.record(event('evt_2', 2), 1_000);
      await log.record(event('evt_3', 1, 'design-2'), 1_000);
      expect(await log.due(2_000)).toEqual(['evt_1', 'evt_3']);
      expect(await log.claim('evt_2', 2_000, 9_000, { inOrder: true })).toBeNull();
      const first = await log.claim('evt_1', 2_000, 9_000, { inOrder: true });
      await log.retryLater(first!, 2_100, 5_000, 503, 'Answered 503.');
      expect(await log.due(4_000)).toEqual(['evt_3']);
      expect(await log.claim('evt_2', 4_000, 9_000, { inOrder: false })).not.toBeNull();
      const again = await log.claim('evt_1', 5_000, 9_000, { inOrder: true });
      await log.giveUp(again!, 5_100, 410, 'Answered 410 Gone.', true);
      expect(await log.find('evt_1')).toMatchObject({ status: 'failed', attempts: 2, lastStatusCode: 410 });
    });

    it('replays any event (a delivered one too), not while it is being sent, and knows unknown ids', async () => {
      await log.record(event('evt_a', 1), 1_000);
      const claim = await log.claim('evt_a', 2_000, 10_000, { inOrder: true });
      expect(await log.replay('evt_a', 3_000)).toBe('busy');
      await log.delivered(claim!, 3_000, 204);
      expect(await log.replay('evt_a', 4_000)).toBe('ready');
      expect(await log.find('evt_a')).toMatchObject({ status: 'pending', windowStartedAt: new Date(4_000), attempts: 1 });
      expect(await log.replay('evt_missing', 4_000)).toBe('missing');
    });
  });
}
