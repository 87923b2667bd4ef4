import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { followEvents, SseParser, type SseEvent } from '../../web/sse.js';

/** The studio page's Server-Sent Events reader (web/sse.ts): the wire format, and reconnection. */

const parse = (chunks: string[]): SseEvent[] => {
  const events: SseEvent[] = [];
  const parser = new SseParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(chunk);
  return events;
};

describe('SseParser', () => {
  const wire = 'id: 1764500000000-0\nevent: design.published\ndata: {"id":"a","status":"PUBLISHED"}\n\n: keep-alive\n\nevent: end\n\n';

  it('reads the contract\'s events, skips comments, and dispatches an event with a type and no data', () => {
    expect(parse([wire])).toEqual([
      { id: '1764500000000-0', type: 'design.published', data: '{"id":"a","status":"PUBLISHED"}' },
      { id: undefined, type: 'end', data: '' },
    ]);
  });

  it('gives the same events whatever the chunk boundaries, CRLF and CR line ends included', () => {
    const expected = parse([wire]);
    for (let size = 1; size < wire.length; size += 7) {
      const chunks: string[] = [];
      for (let i = 0; i < wire.length; i += size) chunks.push(wire.slice(i, i + size));
      expect(parse(chunks), `chunks of ${size}`).toEqual(expected);
    }
    const crlf = wire.replaceAll('\n', '\r\n');
    expect(parse([...crlf])).toEqual(expected);
    // A CR at a chunk's end waits for the next chunk (it may be a CRLF's first half): here a comment.
    expect(parse([wire.replaceAll('\n', '\r'), ':\r'])).toEqual(expected);
  });

  it('joins data lines with \\n, defaults the type to message, keeps the last id for Last-Event-ID', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser((event) => events.push(event));
    parser.push('data: one\ndata:two\n\nid: 7\n\n');
    expect(events).toEqual([{ id: undefined, type: 'message', data: 'one\ntwo' }]);
    expect(parser.lastEventId).toBe('7');
  });
});

describe('followEvents (against a real HTTP server)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server?.closeAllConnections();
  });

  async function serve(handler: (headers: IncomingHttpHeaders, res: ServerResponse, n: number) => void): Promise<string> {
    let n = 0;
    server = createServer((req, res) => handler(req.headers, res, n++));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/events`;
  }

  it('sends the token in Authorization, reopens a dropped stream with Last-Event-ID, and stops at `end`', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const url = await serve((headers, res, n) => {
      seen.push(headers);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (n === 0) res.end('id: 5-0\nevent: design.rendering\ndata: {}\n\n'); // dropped after one event
      else res.end('id: 6-0\nevent: design.published\ndata: {}\n\nevent: end\n\n');
    });
    const events: string[] = [];
    const troubles: Array<number | null> = [];
    await followEvents({
      path: url, token: () => 'the-token', signal: new AbortController().signal, endOn: 'end',
      onEvent: (event) => events.push(event.type),
      onTrouble: (_message, retryMs) => troubles.push(retryMs),
    });
    expect(events).toEqual(['design.rendering', 'design.published', 'end']);
    // Jittered: half to all of the first backoff (1 s).
    expect(troubles).toHaveLength(1);
    expect(troubles[0]).toBeGreaterThanOrEqual(500);
    expect(troubles[0]).toBeLessThanOrEqual(1000);
    expect(seen.map((h) => [h.authorization, h.accept, h['last-event-id']])).toEqual([
      ['Bearer the-token', 'text/event-stream', undefined],
      ['Bearer the-token', 'text/event-stream', '5-0'],
    ]);
  });

  it('an idle stream that drops resumes from its `ready` id; the reconnect delay is jittered', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const url = await serve((headers, res, n) => {
      seen.push(headers);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (n === 0) res.end('id: 7-0\nevent: ready\ndata: {}\n\n'); // nothing else arrives before it drops
      else res.end('id: 7-0\nevent: ready\ndata: {}\n\nid: 8-0\nevent: design.published\ndata: {}\n\nevent: end\n\n');
    });
    const troubles: Array<number | null> = [];
    const random = vi.spyOn(Math, 'random').mockReturnValue(0);
    try {
      await followEvents({
        path: url, token: () => 't', signal: new AbortController().signal, endOn: 'end',
        onEvent: () => undefined,
        onTrouble: (_message, retryMs) => troubles.push(retryMs),
      });
    } finally {
      random.mockRestore();
    }
    expect(seen.map((h) => h['last-event-id'])).toEqual([undefined, '7-0']);
    expect(troubles).toEqual([500]);
  });

  it('gives up on a 4xx (a route that is not there, a refused token) and says why', async () => {
    const url = await serve((_headers, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"ROUTE_NOT_FOUND","message":"No route GET /api/v1/events"}}');
    });
    const troubles: Array<[string, number | null, number | undefined]> = [];
    await followEvents({ path: url, token: () => 't', signal: new AbortController().signal, onEvent: () => undefined, onTrouble: (message, retryMs, status) => troubles.push([message, retryMs, status]) });
    expect(troubles).toEqual([['No route GET /api/v1/events', null, 404]]);
  });
});
