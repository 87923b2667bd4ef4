/**
 * Server-Sent Events read with fetch(), not EventSource: EventSource cannot send an
 * Authorization header, and a token must never go into a URL. `SseParser` is the wire format
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation);
 * `followEvents` holds a stream open and, when the connection drops, opens it again with
 * Last-Event-ID so that nothing that happened meanwhile is lost. That is a reconnect, not a poll:
 * the page never asks for a state it was not told has changed.
 */

export interface SseEvent {
  /** The event's `id:` line, when it had one. */
  id: string | undefined;
  /** `event:` (default `message`). */
  type: string;
  /** The `data:` lines joined with \n. */
  data: string;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private type = '';
  private id: string | undefined;
  /** The last `id:` seen, for Last-Event-ID on a reconnect. */
  lastEventId: string | undefined;

  /** `onComment` gets comment lines (`: keep-alive`), colon included; the page ignores them. */
  constructor(private readonly onEvent: (event: SseEvent) => void, private readonly onComment?: (line: string) => void) {}

  /** Feeds decoded text; events complete in it are dispatched, the rest is kept for the next chunk. */
  push(chunk: string): void {
    let text = this.buffer + chunk;
    // A CR at the very end may be the first half of a CRLF: keep it until the next chunk says.
    const held = text.endsWith('\r') ? '\r' : '';
    if (held) text = text.slice(0, -1);
    const lines = text.split(/\r\n|\r|\n/);
    this.buffer = lines.pop()! + held;
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return this.onComment?.(line); // a comment: the keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\0')) {
      this.id = value;
      this.lastEventId = value;
    }
  }

  private dispatch(): void {
    // Unlike EventSource, an event with a type and no data is dispatched too (`event: end`).
    if (this.data.length > 0 || this.type !== '') this.onEvent({ id: this.id, type: this.type || 'message', data: this.data.join('\n') });
    this.data = [];
    this.type = '';
    this.id = undefined;
  }
}

export interface FollowOptions {
  /** The stream's path on this origin. */
  path: string;
  /** The current token; null stops the stream. */
  token: () => string | null;
  onEvent: (event: SseEvent) => void;
  /** The stream is open (again). */
  onOpen?: () => void;
  /** It dropped and will be opened again in `retryMs`, or (`retryMs` null) it was refused and will not. */
  onTrouble?: (message: string, retryMs: number | null, status?: number) => void;
  /** Stops for good when this event type arrives (the per-design stream's `end`). */
  endOn?: string;
  signal: AbortSignal;
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15_000;

/** Reads the stream until `endOn` arrives, the server refuses it (4xx), or `signal` aborts. */
export async function followEvents(options: FollowOptions): Promise<void> {
  let lastEventId: string | undefined;
  let retryMs = FIRST_RETRY_MS;
  while (!options.signal.aborted) {
    const token = options.token();
    if (!token) return;
    let ended = false;
    // Jittered (half to all of the backoff): browsers dropped together by a restart do not all come back in the same instant.
    const delay = Math.round(retryMs * (0.5 + Math.random() / 2));
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const response = await fetch(options.path, { headers, signal: options.signal });
      if (!response.ok || !response.body) {
        if (response.status >= 400 && response.status < 500) {
          options.onTrouble?.(await errorMessage(response), null, response.status);
          return;
        }
        throw new Error(`the server answered ${response.status}`);
      }
      options.onOpen?.();
      retryMs = FIRST_RETRY_MS;
      const parser = new SseParser((event) => {
        if (event.type === options.endOn) ended = true;
        options.onEvent(event);
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
        // Any id'd event counts, `ready` included (/api/v1/events opens with one), so even an idle stream resumes without a gap.
        lastEventId = parser.lastEventId ?? lastEventId;
        if (ended) {
          await reader.cancel();
          return;
        }
      }
      if (ended) return;
      options.onTrouble?.('The live connection closed; reconnecting…', delay);
    } catch (error) {
      if (options.signal.aborted) return;
      options.onTrouble?.(`The live connection dropped (${error instanceof Error ? error.message : String(error)}); reconnecting…`, delay);
    }
    await sleep(delay, options.signal);
    retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
  }
}

async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? `The server answered ${response.status}.`;
  } catch {
    return `The server answered ${response.status}.`;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
