import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { EventType } from './event-types.js';

/**
 * The event bus (issue #14): every committed change of a design or an upload, published once
 * by the process that made it, heard by every API process that streams to a browser (SSE).
 *
 * Two drivers keep the log (`EventLog`): in memory for the embedded default, Redis Streams
 * with REDIS_URL (a worker publishes, any API process streams). The subtle part, resuming
 * after `Last-Event-ID` without a gap or a duplicate while new events keep coming, is done
 * once, here, above both.
 */

/** An event as kept and heard. `ownerId` picks who may hear it and is never sent to a client. */
export interface BusEvent {
  /** `<ms>-<seq>`, as Redis stream ids: unique, and they sort in publishing order (compareEventIds). */
  id: string;
  type: EventType;
  ownerId: string;
  /** The design's or upload's id. */
  subject: string;
  /** ISO time it was published. */
  createdAt: string;
  /** What the API answers for the subject (GET /api/v1/designs/{id} or /uploads/{id}). */
  data: unknown;
}

export type NewEvent = Omit<BusEvent, 'id' | 'createdAt'>;

/**
 * What a driver does. Ids are given by the log, increasing. Errors: append and readAfter
 * reject when the store cannot be reached (the caller logs; an event not appended is lost,
 * and a resuming client is told `reset`, never given a partial replay as whole).
 */
export interface EventLog {
  append(event: NewEvent): Promise<BusEvent>;
  /**
   * The kept events after `id` (exclusive), oldest first. `reset` when events after `id`
   * may have been dropped: `id` is older than the replay window (or unknown to the log).
   */
  readAfter(id: string): Promise<{ events: BusEvent[]; reset: boolean }>;
  /**
   * The newest id in the log, or null when it holds none. Resuming from it (readAfter) is never
   * a `reset` while it is kept; `EMPTY_LOG_ID` stands for an empty log's head.
   */
  head(): Promise<string | null>;
  /** Hears every event appended from now on (by any process), in id order. Resolves once listening. */
  tail(listener: (event: BusEvent) => void): Promise<() => void>;
  close(): Promise<void>;
}

/** One listener's view of the bus: events of one owner, each once, in order. */
export interface Subscription {
  /** The `after` id was older than the replay window: events were missed; refetch state. */
  readonly reset: boolean;
  /**
   * The id delivery continues from: every event of the owner after it is told, none before.
   * The `after` given, or without one the log's head when subscribing (`EMPTY_LOG_ID` when empty).
   * A client that resumes from it (Last-Event-ID) misses nothing.
   */
  readonly from: string;
  /** Starts delivery: first the events missed since `after`, then new ones as they come. */
  listen(listener: (event: BusEvent) => void): void;
  close(): void;
}

/** The head of an empty log: sorts before every id a log issues, and resuming from it is no `reset` while nothing was dropped. */
export const EMPTY_LOG_ID = '0-0';

const EVENT_ID = /^(\d{1,16})-(\d{1,16})$/;

export function isEventId(value: string): boolean {
  return EVENT_ID.test(value);
}

/**
 * Orders two event ids (negative when `a` is older); both must be ids (isEventId). Called for
 * every event and every open stream, so it cuts at the dash instead of matching the pattern.
 */
export function compareEventIds(a: string, b: string): number {
  const aDash = a.indexOf('-');
  const bDash = b.indexOf('-');
  return Number(a.slice(0, aDash)) - Number(b.slice(0, bDash)) || Number(a.slice(aDash + 1)) - Number(b.slice(bDash + 1));
}

/**
 * Tells `event` to every listener, each on its own: one that throws is logged and the others
 * are still told (a listener is one browser's stream; its failure is not the others').
 */
export function fanOut(listeners: Iterable<(event: BusEvent) => void>, event: BusEvent, logger?: Logger): void {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch (error) {
      logger?.error(`An event listener failed on event ${event.id} (${event.type}); the others are still told: ${describeError(error)}`);
    }
  }
}

export class EventBus {
  constructor(readonly log: EventLog) {}

  publish(event: NewEvent): Promise<BusEvent> {
    return this.log.append(event);
  }

  /**
   * Subscribes to `ownerId`'s events; with `after`, those kept since it are replayed first.
   * Live events are held from the start of the replay, so one published meanwhile is neither
   * lost nor told twice (only ids above the last one told are told).
   */
  async subscribe(ownerId: string, options: { after?: string } = {}): Promise<Subscription> {
    let last = options.after;
    let held: BusEvent[] | undefined = [];
    let listener: ((event: BusEvent) => void) | undefined;
    let closed = false;
    const tell = (event: BusEvent) => {
      if (closed || event.ownerId !== ownerId) return;
      if (last !== undefined && compareEventIds(event.id, last) <= 0) return;
      last = event.id;
      listener!(event);
    };
    const untail = await this.log.tail((event) => (held ? held.push(event) : tell(event)));
    let replay: { events: BusEvent[]; reset: boolean } = { events: [], reset: false };
    try {
      // Read once tailing: every event after the head is heard live (held until `listen`).
      const head = (await this.log.head()) ?? EMPTY_LOG_ID;
      // A fresh start continues from the head: what came before is the client's to fetch.
      if (options.after === undefined) last = head;
      else replay = await this.log.readAfter(options.after);
    } catch (error) {
      untail();
      throw error;
    }
    return {
      reset: replay.reset,
      from: last!,
      listen(given) {
        listener = given;
        const pending = [...replay.events, ...held!];
        held = undefined;
        for (const event of pending) tell(event);
      },
      close() {
        closed = true;
        held = undefined;
        untail();
      },
    };
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
