import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenVerifier } from '../auth/jwt.js';
import type { DesignService } from '../designs/design-service.js';
import { ValidationError } from '../errors.js';
import { FINAL_DESIGN_EVENTS, isEventId, type EventBus, type Subscription } from '../events/index.js';
import { SseStream } from '../events/sse-stream.js';
import type { Metrics } from '../metrics.js';
import { requireBearerAuth } from './auth.js';
import { designIdParams, errorResponseFor } from './schemas.js';

export interface EventRoutesOptions {
  bus: EventBus;
  service: DesignService;
  verifyToken: TokenVerifier;
  metrics: Metrics;
  heartbeatMs: number;
  maxBufferedBytes: number;
}

const security = [{ bearerAuth: [] }];
const tags = ['events'];
const lastEventIdHeader = {
  type: 'object',
  properties: {
    'last-event-id': { type: 'string', description: 'The `id` of the last event received: the events since it are sent first (`reset` first when it is older than the replay window).' },
  },
} as const;
const eventStream = (description: string) => ({ description, content: { 'text/event-stream': { schema: { type: 'string' } } } });
const FINAL_STATUSES = new Set(['PUBLISHED', 'FAILED', 'DELETED']);

/**
 * Live status as Server-Sent Events (issue #14). Both routes need a Bearer token (never one in
 * the URL: browsers read the stream with fetch(), not EventSource) and stream only the
 * caller's own events. The response is written on the raw socket (reply.hijack()): Fastify's
 * reply is one payload, a stream of events is not.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify takes a plugin without `done` as promise-style only if it returns a promise.
export async function eventRoutes(app: FastifyInstance, options: EventRoutesOptions): Promise<void> {
  const { bus, service, metrics } = options;
  requireBearerAuth(app, options.verifyToken);
  // Open streams never end on their own (/events): they are ended so that close() can finish.
  const open = new Set<SseStream>();
  app.addHook('preClose', (done) => {
    for (const stream of open) stream.end();
    done();
  });

  /**
   * Hijacks the reply and opens the stream; the subscription closes with it, whoever ends it.
   * Undefined when the client left while the stream was being set up (the awaits before this):
   * its 'close' has fired already and would never be heard, so nothing is opened.
   */
  const openStream = (request: FastifyRequest, reply: FastifyReply, subscription: Subscription): SseStream | undefined => {
    reply.hijack();
    if (clientGone(reply)) {
      subscription.close();
      request.log.debug({ userId: request.userId }, 'Event stream not opened: the client left');
      return undefined;
    }
    metrics.sseConnections.inc();
    let stream: SseStream | undefined = undefined; // onClose may run before the constructor returns (a client already gone)
    // Headers set by hooks so far (request id, security headers, CORS) are kept.
    stream = new SseStream(reply.raw, reply.getHeaders() as OutgoingHttpHeaders, {
      heartbeatMs: options.heartbeatMs,
      maxBufferedBytes: options.maxBufferedBytes,
      onClose: () => {
        subscription.close();
        if (stream) open.delete(stream);
        metrics.sseConnections.dec();
      },
    });
    if (stream.closed) return undefined;
    open.add(stream);
    if (subscription.reset) stream.send({ event: 'reset', data: {} });
    request.log.debug({ userId: request.userId }, 'Event stream opened');
    return stream;
  };

  app.get('/events', {
    schema: {
      summary: 'Your designs\' and uploads\' changes, live (Server-Sent Events); never ends',
      description:
        'Each event is `id`, `event` (design.created, design.queued, design.rendering, design.retrying, design.published, design.failed, design.print, design.deleted, ' +
        'upload.received, upload.scanning, upload.clean, upload.published, upload.rejected, upload.deleted) and `data`: the design or upload as GET answers it ' +
        '(`{"id", "status": "DELETED"}` once deleted). Every stream starts with `event: ready` (`data: {}`) whose `id` is where it continues from (the newest event, `0-0` when there is none): ' +
        'load the state after it, and a reconnect with that `Last-Event-ID` misses nothing. A `: keep-alive` comment every SSE_HEARTBEAT. Resume with `Last-Event-ID`; ' +
        '`event: reset` (before `ready`) means events were missed: refetch.',
      operationId: 'streamEvents',
      tags, security,
      headers: lastEventIdHeader,
      response: { 200: eventStream('An endless event stream') },
    },
  }, async (request, reply) => {
    const subscription = await bus.subscribe(request.userId, { after: lastEventId(request) });
    const stream = openStream(request, reply, subscription);
    if (!stream) return;
    // An id on every open, even an idle one: a client that drops before any event resumes from here.
    stream.send({ id: subscription.from, event: 'ready', data: {} });
    subscription.listen((event) => stream.send({ id: event.id, event: event.type, data: event.data }));
  });

  app.get<{ Params: { id: string } }>('/designs/:id/events', {
    schema: {
      summary: 'One design\'s changes, live (Server-Sent Events), until it is PUBLISHED, FAILED or deleted',
      description:
        'First `event: snapshot` (the design as GET answers it, no id), then its events as /api/v1/events sends them; after design.published, design.failed or ' +
        'design.deleted (or a snapshot already PUBLISHED or FAILED) `event: end`, and the stream closes. Someone else\'s design is 404, as GET.',
      operationId: 'streamDesignEvents',
      tags, security,
      params: designIdParams,
      headers: lastEventIdHeader,
      response: { 200: eventStream('The design\'s event stream, ending with `event: end`'), 404: errorResponseFor(404) },
    },
  }, async (request, reply) => {
    const designId = request.params.id.toLowerCase();
    // Subscribed before the snapshot is read: a change in between is told after it, not lost.
    const subscription = await bus.subscribe(request.userId, { after: lastEventId(request) });
    let snapshot;
    try {
      snapshot = await service.get(request.userId, designId);
    } catch (error) {
      subscription.close();
      throw error;
    }
    const stream = openStream(request, reply, subscription);
    if (!stream) return;
    stream.send({ event: 'snapshot', data: snapshot });
    const end = () => {
      stream.send({ event: 'end', data: {} });
      stream.end();
    };
    // The latest state told, snapshot or event: the stream ends only when that is final, so a
    // replay of `published, queued, rendering` (or a re-render committed after the snapshot) goes on.
    let settled = FINAL_STATUSES.has(snapshot.status);
    let live = false;
    subscription.listen((event) => {
      if (event.subject !== designId || stream.closed) return;
      stream.send({ id: event.id, event: event.type, data: event.data });
      // A print change leaves the design PUBLISHED; live, only a final event ends the stream.
      settled = FINAL_DESIGN_EVENTS.has(event.type) || event.type === 'design.print';
      if (live && FINAL_DESIGN_EVENTS.has(event.type)) end();
    });
    // The replay and the events held meanwhile are told: nothing more comes without a request if settled.
    live = true;
    if (!stream.closed && settled) end();
  });
}

/** The client closed its connection (its 'close' has fired already, or will never come for this response). */
function clientGone(reply: FastifyReply): boolean {
  return reply.raw.destroyed || reply.raw.socket === null || reply.raw.socket.destroyed;
}

/** The Last-Event-ID header, checked: an id this service issued (`<ms>-<seq>`), or none. */
function lastEventId(request: FastifyRequest): string | undefined {
  const value = request.headers['last-event-id'];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !isEventId(value.trim())) {
    throw new ValidationError('INVALID_VALUE', 'Last-Event-ID must be the id of an event this service sent (such as 1764500000000-0), unchanged.', 'Last-Event-ID');
  }
  return value.trim();
}
