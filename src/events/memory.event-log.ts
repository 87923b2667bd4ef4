import type { Logger } from '../logger.js';
import { compareEventIds, fanOut, type BusEvent, type EventLog, type NewEvent } from './event-bus.js';

/**
 * The embedded default's event log: the last `window` events of this process in memory.
 * Nothing crosses processes (without Redis the API renders in-process, so every change
 * happens here) and nothing survives a restart: an id from before it is older than the
 * log's start, and resuming from it is a `reset`.
 */
export class MemoryEventLog implements EventLog {
  private readonly events: BusEvent[] = [];
  private readonly listeners = new Set<(event: BusEvent) => void>();
  private lastMs: number;
  private seq = 0;
  /** Events at or before this id may have been dropped (or were never known to this log). */
  private horizon: string;

  constructor(private readonly options: { window: number; now?: () => number; logger?: Logger }) {
    // The first id issued sorts after the horizon, so that the horizon is this log's empty head.
    this.lastMs = this.now();
    this.horizon = `${this.lastMs}-0`;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Redis's id scheme: the time in ms, and a sequence within the ms (also if the clock steps back). */
  private nextId(): string {
    const ms = this.now();
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.seq = 0;
    } else {
      this.seq += 1;
    }
    return `${this.lastMs}-${this.seq}`;
  }

  append(event: NewEvent): Promise<BusEvent> {
    const stored: BusEvent = { ...event, id: this.nextId(), createdAt: new Date(this.lastMs).toISOString() };
    this.events.push(stored);
    // The window is small (EVENT_REPLAY_WINDOW, 1000 by default): dropping from the front is cheap.
    if (this.events.length > this.options.window) this.horizon = this.events.shift()!.id;
    fanOut(this.listeners, stored, this.options.logger);
    return Promise.resolve(stored);
  }

  /** The newest id; when empty, the horizon: resuming from it is a `reset` in a later process only. */
  head(): Promise<string> {
    return Promise.resolve(this.events.at(-1)?.id ?? this.horizon);
  }

  readAfter(id: string): Promise<{ events: BusEvent[]; reset: boolean }> {
    return Promise.resolve({
      events: this.events.filter((event) => compareEventIds(event.id, id) > 0),
      // Exact: resuming is whole only from an id still kept, or from the last one dropped.
      reset: id !== this.horizon && !this.events.some((event) => event.id === id),
    });
  }

  tail(listener: (event: BusEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    return Promise.resolve(() => this.listeners.delete(listener));
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}
