import { afterEach, describe, expect, it } from 'vitest';
import { compareEventIds, type BusEvent, type EventBus, type NewEvent } from '../../src/events/index.js';

/**
 * One behavioural suite for every event-log driver (in memory, Redis Streams), run through
 * the EventBus facade as the routes use it. `make(window)` gives a fresh, empty bus keeping
 * `window` events (at least: Redis trims approximately), and a cleanup.
 */
export type MakeBus = (window: number) => Promise<{ bus: EventBus; cleanup: () => Promise<void> }>;

const event = (ownerId: string, n: number): NewEvent => ({ type: 'design.queued', ownerId, subject: `design-${n}`, data: { n, text: 'ünïcode\nline' } });

/** Collects what a subscription hears; `until(n)` waits for n events. */
function collector() {
  const heard: BusEvent[] = [];
  const waiters: Array<() => void> = [];
  return {
    heard,
    listener: (e: BusEvent) => {
      heard.push(e);
      for (const wake of waiters.splice(0)) wake();
    },
    async until(n: number): Promise<BusEvent[]> {
      const deadline = Date.now() + 10_000;
      while (heard.length < n) {
        if (Date.now() > deadline) throw new Error(`heard ${heard.length} of ${n} events`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return heard;
    },
  };
}

export function eventBusContract(name: string, make: MakeBus): void {
  describe(`event bus contract: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    const fresh = async (window = 100) => {
      const made = await make(window);
      cleanups.push(made.cleanup);
      return made.bus;
    };
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    it('publishes with increasing ids and a time; a subscriber hears its owner\'s events only, in order, data intact', async () => {
      const bus = await fresh();
      const sub = await bus.subscribe('alice');
      expect(sub.reset).toBe(false);
      const got = collector();
      sub.listen(got.listener);
      const published: BusEvent[] = [];
      for (let n = 0; n < 10; n++) published.push(await bus.publish(event(n % 2 ? 'bob' : 'alice', n)));
      for (let i = 1; i < published.length; i++) expect(compareEventIds(published[i - 1]!.id, published[i]!.id)).toBeLessThan(0);
      const heard = await got.until(5);
      expect(heard).toEqual(published.filter((e) => e.ownerId === 'alice'));
      expect(heard[0]!.data).toEqual({ n: 0, text: 'ünïcode\nline' });
      expect(new Date(heard[0]!.createdAt).toISOString()).toBe(heard[0]!.createdAt);
      sub.close();
    });

    it('replays the kept events after an id, then goes live, without a gap or a duplicate while publishing goes on', async () => {
      const bus = await fresh();
      const before: BusEvent[] = [];
      for (let n = 0; n < 5; n++) before.push(await bus.publish(event('alice', n)));
      // Publishing continues while the subscriber replays.
      const during = Promise.all(Array.from({ length: 20 }, (_, n) => bus.publish(event('alice', 100 + n))));
      const sub = await bus.subscribe('alice', { after: before[1]!.id });
      const got = collector();
      sub.listen(got.listener);
      const all = [...before, ...(await during)].sort((a, b) => compareEventIds(a.id, b.id));
      const expected = all.filter((e) => compareEventIds(e.id, before[1]!.id) > 0);
      const heard = await got.until(expected.length);
      const after = await bus.publish(event('alice', 999));
      await got.until(expected.length + 1);
      expect(got.heard.map((e) => e.id)).toEqual([...expected, after].map((e) => e.id));
      expect(sub.reset).toBe(false);
      expect(heard.length).toBe(expected.length + 1);
      sub.close();
    });

    it('after the newest id: nothing replayed, no reset', async () => {
      const bus = await fresh();
      const last = await bus.publish(event('alice', 1));
      const sub = await bus.subscribe('alice', { after: last.id });
      const got = collector();
      sub.listen(got.listener);
      expect(sub.reset).toBe(false);
      const next = await bus.publish(event('alice', 2));
      expect((await got.until(1)).map((e) => e.id)).toEqual([next.id]);
      sub.close();
    });

    it('an id older than the window is `reset`, and what is kept is still replayed', async () => {
      const bus = await fresh(5);
      const published: BusEvent[] = [];
      // Far more than the window: Redis trims whole stream nodes (100 entries by default).
      for (let n = 0; n < 250; n++) published.push(await bus.publish(event('alice', n)));
      const sub = await bus.subscribe('alice', { after: published[0]!.id });
      expect(sub.reset).toBe(true);
      const got = collector();
      sub.listen(got.listener);
      const heard = await got.until(5);
      expect(heard.at(-1)!.id).toBe(published.at(-1)!.id);
      sub.close();
      // An id the log never issued, from before it began (another process lifetime): reset too.
      const old = await bus.subscribe('alice', { after: '1-0' });
      expect(old.reset).toBe(true);
      old.close();
    });

    it('a subscription continues from the log\'s head: resuming from it (even an empty log\'s) misses nothing and is no reset', async () => {
      const bus = await fresh();
      const empty = await bus.subscribe('alice');
      expect(empty.reset).toBe(false);
      empty.close();
      const first = await bus.publish(event('alice', 1));
      const resumed = await bus.subscribe('alice', { after: empty.from });
      expect(resumed.reset).toBe(false);
      const got = collector();
      resumed.listen(got.listener);
      expect((await got.until(1)).map((e) => e.id)).toEqual([first.id]);
      resumed.close();
      const fromHead = await bus.subscribe('alice');
      expect(fromHead.from).toBe(first.id);
      expect(await bus.log.head()).toBe(first.id);
      fromHead.close();
    });

    it('an id within the kept range that the log never issued is `reset` (exact, on every Redis version)', async () => {
      const bus = await fresh();
      const a = await bus.publish(event('alice', 1));
      await new Promise((resolve) => setTimeout(resolve, 5));
      await bus.publish(event('alice', 2));
      const [ms] = a.id.split('-');
      const sub = await bus.subscribe('alice', { after: `${ms}-999` });
      expect(sub.reset).toBe(true);
      sub.close();
    });

    it('a listener that throws does not keep the others from hearing the event', async () => {
      const bus = await fresh();
      const failing = await bus.subscribe('alice');
      failing.listen(() => {
        throw new Error('this browser\'s stream broke');
      });
      const healthy = await bus.subscribe('alice');
      const got = collector();
      healthy.listen(got.listener);
      const sent = await bus.publish(event('alice', 1));
      expect((await got.until(1)).map((e) => e.id)).toEqual([sent.id]);
      failing.close();
      healthy.close();
    });

    it('close() stops delivery', async () => {
      const bus = await fresh();
      const sub = await bus.subscribe('alice');
      const got = collector();
      sub.listen(got.listener);
      await bus.publish(event('alice', 1));
      await got.until(1);
      sub.close();
      const witness = await bus.subscribe('alice');
      const seen = collector();
      witness.listen(seen.listener);
      await bus.publish(event('alice', 2));
      await seen.until(1);
      expect(got.heard).toHaveLength(1);
      witness.close();
    });
  });
}
