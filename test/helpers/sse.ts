import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { SseParser } from '../../web/sse.js';

/** One event as a browser's parser would see it. `data` is parsed JSON. */
export interface SseEvent {
  id?: string;
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- a test reads whatever the stream sent
}

export interface SseConnection {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body when the answer was not a stream (an error's JSON). */
  body: string;
  /** Every event so far, in order. */
  events: SseEvent[];
  /** Comment lines so far (`: keep-alive`). */
  comments: string[];
  /** Resolves with the first event (from `from` on) that `match` accepts; rejects after `timeoutMs` or if the stream ends first. */
  next(match: (event: SseEvent) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** GET `url` as an SSE client (a real socket, as a browser's fetch reads it). */
export function openSse(url: string, token: string | undefined, options: { lastEventId?: string } = {}): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const req = request(url, { headers, agent: false });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      res.setEncoding('utf8');
      const events: SseEvent[] = [];
      const comments: string[] = [];
      const waiters = new Set<() => void>();
      let body = '';
      // The page's own parser (web/sse.ts): the tests read the stream as the studio page does.
      const parser = new SseParser((event) => {
        events.push({ ...(event.id === undefined ? {} : { id: event.id }), event: event.type, data: JSON.parse(event.data || 'null') as unknown });
      }, (line) => comments.push(line));
      let done = false;
      const ended = new Promise<void>((resolveEnd) => res.once('close', () => {
        done = true;
        for (const wake of waiters) wake();
        resolveEnd();
      }));
      res.on('data', (chunk: string) => {
        if (res.statusCode !== 200) {
          body += chunk;
          return;
        }
        parser.push(chunk);
        for (const wake of waiters) wake();
      });
      const connection: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        get body() { return body; },
        events,
        comments,
        ended,
        next(match, { from = 0, timeoutMs = 20_000 } = {}) {
          return new Promise((resolveNext, rejectNext) => {
            const check = () => {
              const found = events.slice(from).find(match);
              if (found) finish(() => resolveNext(found));
              else if (done) finish(() => rejectNext(new Error(`The stream ended before the event; got ${events.map((e) => e.event).join(', ')}`)));
            };
            const timer = setTimeout(() => finish(() => rejectNext(new Error(`No such event within ${timeoutMs} ms; got ${events.map((e) => e.event).join(', ')}`))), timeoutMs);
            const finish = (settle: () => void) => {
              clearTimeout(timer);
              waiters.delete(check);
              settle();
            };
            waiters.add(check);
            check();
          });
        },
        close: () => req.destroy(),
      };
      if (res.statusCode === 200) resolve(connection);
      else res.once('end', () => resolve(connection));
    });
    req.end();
  });
}
