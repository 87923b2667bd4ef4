import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesignView } from '../../src/designs/design-service.js';
import { SAMPLE_DESIGN, startTestServer, tokenFor, type TestServer } from '../helpers/app.js';
import { waitFor } from '../helpers/services.js';
import { openSse, type SseConnection, type SseEvent } from '../helpers/sse.js';

/**
 * Live status over Server-Sent Events in the embedded default (in-memory bus, in-process
 * renders), on a real listening server: SSE is a long response on a real socket.
 */

let server: TestServer;
const open: SseConnection[] = [];

/** `user` null: no Authorization header. */
async function sse(path: string, user: string | null = 'user-a', options: { lastEventId?: string } = {}): Promise<SseConnection> {
  const connection = await openSse(`${server.url}${path}`, user === null ? undefined : await tokenFor(user), options);
  open.push(connection);
  return connection;
}

async function createDesign(user = 'user-a', text = 'Live'): Promise<DesignView> {
  const res = await fetch(`${server.url}/api/v1/designs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await tokenFor(user)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text } }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as DesignView;
}

async function getDesign(id: string, user = 'user-a'): Promise<DesignView> {
  const res = await fetch(`${server.url}/api/v1/designs/${id}`, { headers: { authorization: `Bearer ${await tokenFor(user)}` } });
  return (await res.json()) as DesignView;
}

const publishedOf = (id: string) => (e: SseEvent) => e.event === 'design.published' && e.data.id === id;
const gauge = async () => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^customify_sse_connections (\d+)/m.exec(text)?.[1]);
};

describe('Server-Sent Events (embedded: in-memory bus)', () => {
  beforeAll(async () => {
    server = await startTestServer({ SSE_HEARTBEAT: '200ms' });
  });
  afterAll(async () => {
    for (const connection of open) connection.close();
    await server.stop();
  });

  it('GET /api/v1/events streams a design\'s life, created → rendering → published, each with the design as GET answers it', async () => {
    const stream = await sse('/api/v1/events');
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers['cache-control']).toBe('no-store');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    expect(stream.headers['x-request-id']).toBeTruthy();
    const design = await createDesign();
    const published = await stream.next(publishedOf(design.id));
    const mine = stream.events.filter((e) => e.data.id === design.id);
    expect(mine.map((e) => e.event)).toEqual(['design.created', 'design.rendering', 'design.published']);
    expect(mine[0]!.data.status).toBe('PENDING');
    expect(mine[1]!.data.status).toBe('RENDERING');
    expect(published.data).toEqual(await getDesign(design.id));
    // Ids are unique and increasing; ownerId never leaves the server.
    const ids = stream.events.map((e) => e.id!);
    expect(ids.every((id) => /^\d+-\d+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(JSON.stringify(stream.events)).not.toContain('user-a');
  });

  it('GET /api/v1/designs/{id}/events: a snapshot first, then the changes, then `end`, and the stream closes', async () => {
    // A baseline event before the design exists, so the whole life can be asked for with Last-Event-ID.
    const all = await sse('/api/v1/events');
    const before = await createDesign('user-a', 'Baseline');
    const baseline = await all.next(publishedOf(before.id));
    const design = await createDesign('user-a', 'Per design');
    await all.next(publishedOf(design.id));

    const stream = await sse(`/api/v1/designs/${design.id}/events`, 'user-a', { lastEventId: baseline.id! });
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['snapshot', 'design.created', 'design.rendering', 'design.published', 'end']);
    expect(stream.events[0]!.id).toBeUndefined();
    expect(stream.events[0]!.data).toEqual(await getDesign(design.id));
    expect(stream.events.slice(1, 4).map((e) => e.id)).toEqual(all.events.filter((e) => e.data.id === design.id).map((e) => e.id));

    // Already PUBLISHED and nothing to resume: the snapshot and `end`.
    const settled = await sse(`/api/v1/designs/${design.id}/events`);
    await settled.ended;
    expect(settled.events.map((e) => e.event)).toEqual(['snapshot', 'end']);
  });

  it('a re-render is streamed live on the design\'s stream: queued, rendering, published, end', async () => {
    const all = await sse('/api/v1/events');
    const design = await createDesign('user-a', 'Again');
    await all.next(publishedOf(design.id));
    const from = all.events.length;
    const res = await fetch(`${server.url}/api/v1/designs/${design.id}/render`, { method: 'POST', headers: { authorization: `Bearer ${await tokenFor('user-a')}` } });
    expect(res.status).toBe(202);
    const queued = await all.next((e) => e.event === 'design.queued' && e.data.id === design.id, { from });
    // Resuming the design's stream from just before the re-render: nothing missed, then `end`.
    const before = all.events[from - 1]!.id!;
    const stream = await sse(`/api/v1/designs/${design.id}/events`, 'user-a', { lastEventId: before });
    await stream.ended;
    const types = stream.events.map((e) => e.event);
    expect(types[0]).toBe('snapshot');
    expect(types.slice(1)).toEqual(['design.queued', 'design.rendering', 'design.published', 'end']);
    expect(stream.events[1]!.id).toBe(queued.id);
  });

  it('deleting a design ends its stream with design.deleted and `{id, status: DELETED}`', async () => {
    const all = await sse('/api/v1/events');
    const design = await createDesign('user-a', 'Gone');
    await all.next(publishedOf(design.id));
    const from = all.events.length;
    const res = await fetch(`${server.url}/api/v1/designs/${design.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${await tokenFor('user-a')}` } });
    expect(res.status).toBe(204);
    const deleted = await all.next((e) => e.event === 'design.deleted' && e.data.id === design.id, { from });
    expect(deleted.data).toEqual({ id: design.id, status: 'DELETED' });
  });

  it('an upload\'s life on /api/v1/events: received, scanning, clean, published, then deleted', async () => {
    const stream = await sse('/api/v1/events', 'user-u');
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
    const headers = { authorization: `Bearer ${await tokenFor('user-u')}` };
    const res = await fetch(`${server.url}/api/v1/uploads`, { method: 'POST', headers: { ...headers, 'content-type': 'image/png' }, body: png });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const published = await stream.next((e) => e.event === 'upload.published' && e.data.id === id);
    expect(published.data).toEqual(await (await fetch(`${server.url}/api/v1/uploads/${id}`, { headers })).json());
    expect((await fetch(`${server.url}/api/v1/uploads/${id}`, { method: 'DELETE', headers })).status).toBe(204);
    const deleted = await stream.next((e) => e.event === 'upload.deleted');
    expect(deleted.data).toEqual({ id, status: 'DELETED' });
    expect(stream.events.map((e) => e.event)).toEqual(['ready', 'upload.received', 'upload.scanning', 'upload.clean', 'upload.published', 'upload.deleted']);
  });

  it('owner isolation: another user\'s design is 404 as GET answers it, and their events never reach /api/v1/events', async () => {
    const design = await createDesign('user-a', 'Private');
    const other = await sse(`/api/v1/designs/${design.id}/events`, 'user-b');
    expect(other.status).toBe(404);
    const get = await fetch(`${server.url}/api/v1/designs/${design.id}`, { headers: { authorization: `Bearer ${await tokenFor('user-b')}` } });
    const { request_id: _one, ...streamError } = (JSON.parse(other.body) as { error: Record<string, unknown> }).error;
    const { request_id: _other, ...getError } = ((await get.json()) as { error: Record<string, unknown> }).error;
    expect(streamError).toEqual(getError);
    expect(JSON.parse(other.body).error.code).toBe('DESIGN_NOT_FOUND');

    const streamB = await sse('/api/v1/events', 'user-b');
    const streamA = await sse('/api/v1/events', 'user-a');
    const a = await createDesign('user-a', 'For A');
    await streamA.next(publishedOf(a.id));
    // B's own design, created after A's: once B hears it, B would have heard A's already.
    const b = await createDesign('user-b', 'For B');
    await streamB.next(publishedOf(b.id));
    expect(streamB.events.length).toBeGreaterThan(0);
    expect(streamB.events.filter((e) => e.event !== 'ready').every((e) => e.data.id === b.id)).toBe(true);
  });

  it('Last-Event-ID resumes: exactly the events missed while disconnected, in order', async () => {
    const observer = await sse('/api/v1/events');
    const first = await sse('/api/v1/events');
    const d1 = await createDesign('user-a', 'One');
    await first.next(publishedOf(d1.id));
    const lastSeen = first.events.at(-1)!.id!;
    first.close();
    await first.ended;
    const d2 = await createDesign('user-a', 'Two');
    const d3 = await createDesign('user-a', 'Three');
    await observer.next(publishedOf(d2.id));
    await observer.next(publishedOf(d3.id));

    const resumed = await sse('/api/v1/events', 'user-a', { lastEventId: lastSeen });
    const missed = observer.events.slice(observer.events.findIndex((e) => e.id === lastSeen) + 1);
    expect(await resumed.next(() => true)).toEqual({ id: lastSeen, event: 'ready', data: {} });
    resumed.events.shift();
    expect(missed.length).toBeGreaterThanOrEqual(6);
    await resumed.next((e) => e.id === missed.at(-1)!.id);
    expect(resumed.events.slice(0, missed.length).map((e) => `${e.id} ${e.event} ${e.data.id}`)).toEqual(missed.map((e) => `${e.id} ${e.event} ${e.data.id}`));
    // Live events continue after the replay.
    const d4 = await createDesign('user-a', 'Four');
    await resumed.next(publishedOf(d4.id));
  });

  it('every open of /api/v1/events starts with `ready`, id\'d with the newest event: an idle stream resumed from it misses nothing', async () => {
    const watcher = await sse('/api/v1/events', 'user-r');
    const ready = await watcher.next((e) => e.event === 'ready');
    expect(watcher.events[0]).toBe(ready);
    expect(ready.id).toMatch(/^\d+-\d+$/);
    expect(ready.data).toEqual({});
    // Nothing arrives on it; it drops, and meanwhile a design is made (the gap a browser would lose).
    watcher.close();
    await watcher.ended;
    const design = await createDesign('user-r', 'While away');
    const resumed = await sse('/api/v1/events', 'user-r', { lastEventId: ready.id! });
    await resumed.next(publishedOf(design.id));
    expect(resumed.events.map((e) => e.event)).toEqual(['ready', 'design.created', 'design.rendering', 'design.published']);
  });

  it('an id older than the replay window (or from before a restart) gets `event: reset` first', async () => {
    const stream = await sse('/api/v1/events', 'user-a', { lastEventId: '1-0' });
    const design = await createDesign('user-a', 'After reset');
    await stream.next(publishedOf(design.id));
    expect(stream.events[0]!.event).toBe('reset');
    expect(stream.events[0]!.id).toBeUndefined();
  });

  it('an idle stream gets `: keep-alive` comments; the open-stream gauge follows connections', async () => {
    const stream = await sse('/api/v1/events', 'user-c');
    await waitFor('a keep-alive', () => stream.comments.includes(': keep-alive'), 10_000);
    const openNow = await gauge();
    expect(openNow).toBeGreaterThanOrEqual(1);
    stream.close();
    await waitFor('the gauge to drop', async () => (await gauge()) === openNow - 1, 10_000);
  });

  it('both routes are in the OpenAPI document, answering text/event-stream, behind bearer auth', async () => {
    const doc = (await (await fetch(`${server.url}/docs/json`)).json()) as { paths: Record<string, { get: { security: unknown[]; responses: Record<string, { content: Record<string, unknown> }> } }> };
    for (const path of ['/api/v1/events', '/api/v1/designs/{id}/events']) {
      const get = doc.paths[path]!.get;
      expect(Object.keys(get.responses['200']!.content), path).toEqual(['text/event-stream']);
      expect(get.security, path).toEqual([{ bearerAuth: [] }]);
    }
    expect(doc.paths['/api/v1/designs/{id}/events']!.get.responses['404']).toBeDefined();
  });

  it('refuses bad requests with a JSON error naming the field', async () => {
    const noToken = await sse('/api/v1/events', null);
    expect(noToken.status).toBe(401);
    expect(JSON.parse(noToken.body).error.code).toBe('UNAUTHORIZED');

    const badId = await sse('/api/v1/designs/not-a-uuid/events');
    expect(badId.status).toBe(400);
    expect(JSON.parse(badId.body).error.field).toBe('id');

    for (const path of ['/api/v1/events', `/api/v1/designs/${(await createDesign()).id}/events`]) {
      const badLast = await sse(path, 'user-a', { lastEventId: 'yesterday' });
      expect(badLast.status, path).toBe(400);
      expect(JSON.parse(badLast.body).error).toMatchObject({ code: 'INVALID_VALUE', field: 'Last-Event-ID' });
    }
  });
});

describe('a stream outlives REQUEST_TIMEOUT (which bounds receiving a request, not answering it)', () => {
  it('keeps streaming past it', async () => {
    const short = await startTestServer({ REQUEST_TIMEOUT: '300ms', SSE_HEARTBEAT: '200ms' });
    try {
      const token = await tokenFor('user-t');
      const stream = await openSse(`${short.url}/api/v1/events`, token);
      // Five heartbeats: well past REQUEST_TIMEOUT (and Node's checks of it), and the stream is still open.
      await waitFor('five keep-alives', () => stream.comments.length >= 5, 20_000);
      const res = await fetch(`${short.url}/api/v1/designs`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(SAMPLE_DESIGN),
      });
      const { id } = (await res.json()) as { id: string };
      await stream.next((e) => e.event === 'design.published' && e.data.id === id);
      stream.close();
    } finally {
      await short.stop();
    }
  });
});
