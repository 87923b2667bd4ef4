import type { Settings } from '../config.js';
import type { Logger } from '../logger.js';
import { EventBus } from './event-bus.js';
import { MemoryEventLog } from './memory.event-log.js';

export { EMPTY_LOG_ID, EventBus, compareEventIds, isEventId, type BusEvent, type EventLog, type NewEvent, type Subscription } from './event-bus.js';
export { classifyChange, FINAL_DESIGN_EVENTS, type EventType } from './event-types.js';
export { createEventPublisher } from './event-publisher.js';

/** The Redis stream of a deployment's events: namespaced like its queues, so tests and deployments sharing a Redis stay apart. */
export function eventStreamKey(renderQueueName: string): string {
  return `customify:${renderQueueName}:events`;
}

/**
 * The event bus for these settings: Redis Streams with REDIS_URL (events cross processes),
 * else in memory. ioredis is imported only when used.
 */
export async function createEventBus(settings: Pick<Settings, 'redisUrl' | 'renderQueueName' | 'eventReplayWindow'>, logger: Logger): Promise<EventBus> {
  if (!settings.redisUrl) return new EventBus(new MemoryEventLog({ window: settings.eventReplayWindow, logger }));
  const [{ Redis }, { RedisEventLog }] = await Promise.all([import('ioredis'), import('./redis.event-log.js')]);
  // Publishing fails fast during an outage (the change is committed; its event is logged as lost)
  // rather than queueing behind reconnects; the reader waits for Redis to come back.
  const redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  const reader = new Redis(settings.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  for (const connection of [redis, reader]) connection.on('error', () => undefined); // reported by the failing command
  return new EventBus(new RedisEventLog({ redis, reader, key: eventStreamKey(settings.renderQueueName), window: settings.eventReplayWindow, logger }));
}
