import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config.js';
import { compareEventIds, createEventBus, eventStreamKey, EventBus, isEventId, type BusEvent } from '../../src/events/index.js';
import { MemoryEventLog } from '../../src/events/memory.event-log.js';
import { silentLogger } from '../../src/logger.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { eventBusContract } from './event-bus.contract.js';

describe('compareEventIds', () => {
  it('orders ids by time, then by sequence, as numbers (not as text), whatever their lengths', () => {
    const ids = ['0-0', '9-5', '10-0', '10-2', '10-10', '99-1', '100-0', '1732900000000-0', '1732900000000-9', '1732900000000-10', '1732900000001-0'];
    for (const id of ids) expect(isEventId(id)).toBe(true);
    for (const [i, a] of ids.entries()) {
      for (const [j, b] of ids.entries()) expect(Math.sign(compareEventIds(a, b))).toBe(Math.sign(i - j));
    }
    expect(compareEventIds('0010-2', '10-2')).toBe(0);
  });
});

eventBusContract('memory', () => Promise.resolve({ bus: new EventBus(new MemoryEventLog({ window: 100 })), cleanup: () => Promise.resolve() }));

/** A bus on a stream of its own (the queue name namespaces the key), built as the composition root builds it. */
async function redisBus(queueName: string, window: number): Promise<EventBus> {
  return createEventBus(configFrom({ REDIS_URL, RENDER_QUEUE_NAME: queueName, EVENT_REPLAY_WINDOW: String(window) }), silentLogger);
}

async function dropStream(queueName: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  await redis.del(eventStreamKey(queueName));
  await redis.quit();
}

if (!skipRedis) {
  eventBusContract(`redis streams (${REDIS_URL})`, async (window) => {
    const queueName = `events-contract-${randomBytes(4).toString('hex')}`;
    const bus = await redisBus(queueName, window);
    return {
      bus,
      cleanup: async () => {
        await bus.close();
        await dropStream(queueName);
      },
    };
  });
}

describe.skipIf(skipRedis)('redis streams: across processes', () => {
  it('an event one process publishes is heard by another process\'s subscriber (two buses, two connections)', async () => {
    const queueName = `events-cross-${randomBytes(4).toString('hex')}`;
    const publisher = await redisBus(queueName, 100);
    const streamer = await redisBus(queueName, 100);
    try {
      const sub = await streamer.subscribe('alice');
      const heard: BusEvent[] = [];
      sub.listen((e) => heard.push(e));
      const sent = await publisher.publish({ type: 'design.published', ownerId: 'alice', subject: 'd1', data: { id: 'd1' } });
      for (let i = 0; i < 200 && heard.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(heard).toEqual([sent]);
      sub.close();
    } finally {
      await publisher.close();
      await streamer.close();
      await dropStream(queueName);
    }
  });

  it('the stream is capped near the window (XADD MAXLEN ~)', async () => {
    const queueName = `events-cap-${randomBytes(4).toString('hex')}`;
    const bus = await redisBus(queueName, 10);
    const redis = new Redis(REDIS_URL);
    try {
      for (let n = 0; n < 500; n++) await bus.publish({ type: 'design.queued', ownerId: 'a', subject: 's', data: n });
      // Approximate trimming keeps at most one stream node (100 entries) more than asked.
      expect(await redis.xlen(eventStreamKey(queueName))).toBeLessThanOrEqual(10 + 100);
    } finally {
      await bus.close();
      await redis.del(eventStreamKey(queueName));
      await redis.quit();
    }
  });
});
