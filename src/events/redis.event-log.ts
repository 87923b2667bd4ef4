import type { Redis } from 'ioredis';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { EMPTY_LOG_ID, fanOut, type BusEvent, type EventLog, type NewEvent } from './event-bus.js';

export interface RedisEventLogOptions {
  /** For XADD, XRANGE, XLEN. */
  redis: Redis;
  /** A connection of its own for the blocking XREAD (a blocked connection can send nothing else). */
  reader: Redis;
  /** One stream for every event of the deployment, e.g. `customify:render-design:events`. */
  key: string;
  /** Events kept (MAXLEN ~: Redis trims in whole nodes, so a little more may stay). */
  window: number;
  logger: Logger;
  /** How long one XREAD blocks before asking again (ms). */
  blockMs?: number;
}

type StreamEntry = [id: string, fields: string[]];

/**
 * The production event log: one Redis stream. Every process appends (XADD, trimmed to about
 * `window` entries); each process that streams to browsers runs one blocking XREAD loop and
 * fans what it reads out to its local subscribers, so 1,000 browsers cost one Redis
 * connection, not 1,000. Stream ids are the event ids. Replay is XRANGE from the client's id.
 */
export class RedisEventLog implements EventLog {
  private readonly listeners = new Set<(event: BusEvent) => void>();
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: RedisEventLogOptions) {}

  async append(event: NewEvent): Promise<BusEvent> {
    const createdAt = new Date().toISOString();
    const { redis, key, window } = this.options;
    const id = await redis.xadd(key, 'MAXLEN', '~', String(window), '*', 'e', JSON.stringify({ ...event, createdAt }));
    return { ...event, id: id!, createdAt };
  }

  async readAfter(after: string): Promise<{ events: BusEvent[]; reset: boolean }> {
    const { redis, key, window } = this.options;
    // Exact on every Redis version (XINFO's entries-added is 7.0+): the id itself is still kept,
    // or it was trimmed away (or never issued here) and events after it may be gone. An empty
    // log's head has no entry: nothing was dropped while the stream is shorter than trimming allows.
    const reset = after === EMPTY_LOG_ID
      ? (await redis.xlen(key)) >= window
      : ((await redis.xrange(key, after, after)) as StreamEntry[])[0] === undefined;
    const events: BusEvent[] = [];
    let from = `(${after}`;
    for (;;) {
      const page = (await redis.xrange(key, from, '+', 'COUNT', 500)) as StreamEntry[];
      for (const entry of page) events.push(toEvent(entry));
      if (page.length < 500) break;
      from = `(${page.at(-1)![0]}`;
    }
    return { events, reset };
  }

  async head(): Promise<string | null> {
    const [newest] = (await this.options.redis.xrevrange(this.options.key, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return newest?.[0] ?? null;
  }

  async tail(listener: (event: BusEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    if (!this.loop) {
      // The newest id now: the loop reads from there, so nothing appended after this resolves is missed.
      const [newest] = (await this.options.redis.xrevrange(this.options.key, '+', '-', 'COUNT', 1)) as StreamEntry[];
      this.loop ??= this.read(newest?.[0] ?? '0-0');
    }
    return () => this.listeners.delete(listener);
  }

  private async read(from: string): Promise<void> {
    const { reader, key, logger, blockMs = 5000 } = this.options;
    let cursor = from;
    while (!this.closed) {
      try {
        const reply = (await reader.xread('COUNT', 500, 'BLOCK', blockMs, 'STREAMS', key, cursor));
        for (const entry of reply?.[0]?.[1] ?? []) {
          cursor = entry[0];
          const event = toEvent(entry);
          fanOut(this.listeners, event, logger);
        }
      } catch (error) {
        if (this.closed) return;
        // Redis down or restarted: read on from the same id once it is back (ioredis reconnects).
        logger.warn(`Reading the event stream failed; retrying in 1 s: ${describeError(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    // The reader may be blocked in XREAD: QUIT would wait for it, so it is cut.
    this.options.reader.disconnect();
    await this.loop;
    // A lazy connection never used (a process that published nothing) has nothing to say goodbye to.
    const { redis } = this.options;
    if (redis.status === 'wait') redis.disconnect();
    else await redis.quit().catch(() => redis.disconnect());
  }
}

function toEvent([id, fields]: StreamEntry): BusEvent {
  const stored = JSON.parse(fields[fields.indexOf('e') + 1]!) as Omit<BusEvent, 'id'>;
  return { ...stored, id };
}
