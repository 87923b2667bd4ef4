import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/auth/jwt.js';
import type { DesignService, DesignView } from '../../src/designs/design-service.js';
import { EventBus, type BusEvent, type EventLog, type Subscription } from '../../src/events/index.js';
import { eventRoutes } from '../../src/http/events.routes.js';
import { Metrics } from '../../src/metrics.js';
import { createTestApp, TEST_JWT_SECRET, tokenFor, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/services.js';
import { openSse, type SseConnection } from '../helpers/sse.js';

/**
 * The event routes on a real socket, built from a real container (in-memory bus, SQLite) with
 * a seam where a test must act at an exact moment: a bus whose subscribe waits on a gate the
 * test opens (it wraps the real bus), a design service whose get commits a change right after
 * reading. Everything said on the wire is the real routes'.
 */

/** The container's event log, counting the listeners tailing it. */
function countingLog(log: EventLog): EventLog & { tails: number } {
  const counted = {
    tails: 0,
    append: log.append.bind(log),
    readAfter: log.readAfter.bind(log),
    head: log.head.bind(log),
    close: log.close.bind(log),
    async tail(listener: (event: BusEvent) => void) {
      const untail = await log.tail(listener);
      counted.tails += 1;
      let done = false;
      return () => {
        if (!done) counted.tails -= 1;
        done = true;
        untail();
      };
    },
  };
  return counted;
}

/** The real bus, with a subscribe that holds its answer until `open()` (as a slow Redis would). */
class GatedBus extends EventBus {
  entered: Promise<void>;
  answered: Promise<void>;
  private enter!: () => void;
  private answer!: () => void;
  private gate: Promise<void>;
  open!: () => void;

  constructor(log: EventLog) {
    super(log);
    this.entered = new Promise((resolve) => (this.enter = resolve));
    this.answered = new Promise((resolve) => (this.answer = resolve));
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  override async subscribe(ownerId: string, options: { after?: string } = {}): Promise<Subscription> {
    const subscription = await super.subscribe(ownerId, options);
    this.enter();
    await this.gate;
    // The route goes on synchronously from here; it has run once this settles.
    setImmediate(this.answer);
    return subscription;
  }
}

let testApp: TestApp;
let server: FastifyInstance | undefined;

async function serveEvents(bus: EventBus, metrics: Metrics, service: DesignService = testApp.container.service): Promise<string> {
  server = Fastify();
  await server.register(eventRoutes, { prefix: '/api/v1', bus, service, verifyToken: createTokenVerifier({ secret: TEST_JWT_SECRET }), metrics, heartbeatMs: 60_000, maxBufferedBytes: 1 << 20 });
  await server.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
}

const gaugeOf = async (metrics: Metrics) => (await metrics.sseConnections.get()).values[0]?.value ?? 0;

describe('event streams: set-up races (embedded: in-memory bus)', () => {
  const streams: SseConnection[] = [];
  beforeEach(async () => {
    testApp = await createTestApp();
  });
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await server?.close();
    server = undefined;
    await testApp.close();
  });

  it('a client that leaves while its stream is being set up leaves nothing behind: no open-stream count, no bus listener', async () => {
    const log = countingLog(testApp.container.events.bus.log);
    const bus = new GatedBus(log);
    const metrics = new Metrics();
    const url = await serveEvents(bus, metrics);
    const req = request(`${url}/api/v1/events`, { headers: { authorization: `Bearer ${await tokenFor('user-a')}`, accept: 'text/event-stream' }, agent: false });
    req.on('error', () => undefined);
    req.end();
    await bus.entered;
    expect(log.tails).toBe(1);
    req.destroy();
    await waitFor('the server to see the client go', () => new Promise<boolean>((resolve) => server!.server.getConnections((_, n) => resolve(n === 0))), 10_000);
    bus.open();
    await bus.answered;
    expect(await gaugeOf(metrics)).toBe(0);
    expect(log.tails).toBe(0);
  });

  it('a replay of published, queued, rendering does not end the design\'s stream: the re-render\'s published does', async () => {
    const bus = testApp.container.events.bus;
    const url = await serveEvents(bus, new Metrics());
    const design = await testApp.createDesign();
    const published = await testApp.waitForStatus(design.id, 'PUBLISHED');
    const before = (await bus.log.head())!;
    // As the worker tells a render and a re-render, told here at our pace.
    const tell = (type: BusEvent['type'], status: DesignView['status']) => bus.publish({ type, ownerId: 'user-a', subject: design.id, data: { ...published, status } });
    await tell('design.published', 'PUBLISHED');
    await tell('design.queued', 'PENDING');
    await tell('design.rendering', 'RENDERING');
    const stream = await openSse(`${url}/api/v1/designs/${design.id}/events`, await tokenFor('user-a'), { lastEventId: before });
    streams.push(stream);
    await stream.next((e) => e.event === 'design.rendering');
    expect(stream.events.map((e) => e.event)).toEqual(['snapshot', 'design.published', 'design.queued', 'design.rendering']);
    await tell('design.published', 'PUBLISHED');
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['snapshot', 'design.published', 'design.queued', 'design.rendering', 'design.published', 'end']);
  });

  it('a re-render committed just after the snapshot was read (PUBLISHED) is followed to its end, not cut at the snapshot', async () => {
    const real = testApp.container.service;
    const design = await testApp.createDesign();
    await testApp.waitForStatus(design.id, 'PUBLISHED');
    // The snapshot is read, then (before the stream opens) someone asks for a re-render.
    const service = Object.create(real, {
      get: {
        value: async (ownerId: string, id: string) => {
          const snapshot = await real.get(ownerId, id);
          await real.rerender(ownerId, id);
          return snapshot;
        },
      },
    }) as DesignService;
    const url = await serveEvents(testApp.container.events.bus, new Metrics(), service);
    const stream = await openSse(`${url}/api/v1/designs/${design.id}/events`, await tokenFor('user-a'));
    streams.push(stream);
    await stream.ended;
    const types = stream.events.map((e) => e.event);
    expect(types[0]).toBe('snapshot');
    expect(stream.events[0]!.data.status).toBe('PUBLISHED');
    expect(types.slice(1)).toEqual(['design.queued', 'design.rendering', 'design.published', 'end']);
  });
});
