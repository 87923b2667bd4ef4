/**
 * Drives the design API over real HTTP the way users do: create a design, poll it until
 * PUBLISHED. A plain node:http client with keep-alive (cheaper per request than fetch: the
 * client shares the machine's two cores with the service it measures). Every loop is
 * bounded: by a count of designs and by a deadline.
 */
import { Agent, request } from 'node:http';
import type { DesignView } from '../../src/designs/design-service.js';
import { mintToken } from '../../src/auth/jwt.js';
import { SseParser } from '../../web/sse.js';

export const BENCH_JWT_SECRET = 'customify-bench-secret-0123456789abcdef0123456789';

const COLORS = ['#FF0000', '#0055AA', '#FFFFFF', '#222222', '#33CC66'];

/** The i-th design of a run: the seed's sample request, varied like bench/pillow_flow.py varies its input. */
export function designBody(i: number): object {
  return { product_type: 't-shirt', design_data: { text: `Custom Text ${i}`, font: 'Bebas-Bold', color: COLORS[i % COLORS.length] } };
}

export function benchToken(userId = 'bench-user'): Promise<string> {
  return mintToken({ secret: BENCH_JWT_SECRET, userId, ttlSeconds: 6 * 3600 });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ApiClient {
  private readonly agent: Agent;
  private readonly url: URL;
  /** GET requests sent (polls included). */
  gets = 0;

  constructor(baseUrl: string, private readonly token: string, maxSockets = 64) {
    this.url = new URL(baseUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  private send(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { authorization: `Bearer ${this.token}` };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = request({ host: this.url.hostname, port: this.url.port, path, method, headers, agent: this.agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async createDesign(body: object): Promise<DesignView> {
    const res = await this.send('POST', '/api/v1/designs', JSON.stringify(body));
    if (res.status !== 201) throw new Error(`POST /api/v1/designs answered ${res.status}: ${res.text.slice(0, 300)}`);
    return JSON.parse(res.text) as DesignView;
  }

  /** List requests sent (batch polls). */
  lists = 0;

  /** The user's newest designs, newest first (GET /api/v1/designs?limit=N). */
  async listDesigns(limit: number): Promise<DesignView[]> {
    this.lists++;
    const res = await this.send('GET', `/api/v1/designs?limit=${limit}`);
    if (res.status !== 200) throw new Error(`GET /api/v1/designs answered ${res.status}: ${res.text.slice(0, 300)}`);
    return (JSON.parse(res.text) as { items: DesignView[] }).items;
  }

  async getDesign(id: string): Promise<DesignView> {
    this.gets++;
    const res = await this.send('GET', `/api/v1/designs/${id}`);
    if (res.status !== 200) throw new Error(`GET /api/v1/designs/${id} answered ${res.status}: ${res.text.slice(0, 300)}`);
    return JSON.parse(res.text) as DesignView;
  }

  /** Polls every `pollMs` until PUBLISHED; throws on FAILED or after `timeoutMs`. */
  async waitForPublished(id: string, pollMs: number, timeoutMs: number): Promise<DesignView> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await sleep(pollMs);
      const view = await this.getDesign(id);
      if (view.status === 'PUBLISHED') return view;
      if (view.status === 'FAILED') throw new Error(`Design ${id} FAILED: ${view.error ?? ''}`);
      if (performance.now() > deadline) throw new Error(`Design ${id} still ${view.status} after ${timeoutMs} ms`);
    }
  }

  /** Requests to the design's event stream (GET /api/v1/designs/{id}/events). */
  streams = 0;

  /**
   * Waits on the design's event stream (Server-Sent Events) until it says PUBLISHED: the
   * snapshot first, then changes. No polling: one request per design, answered as it happens.
   * Throws on FAILED, on a stream that ends first, or after `timeoutMs`.
   */
  waitForPublishedEvent(id: string, timeoutMs: number): Promise<DesignView> {
    this.streams++;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | null, view?: DesignView) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          req.destroy();
          reject(error);
        } else {
          resolve(view!);
        }
      };
      const timer = setTimeout(() => finish(new Error(`Design ${id}: no PUBLISHED event within ${timeoutMs} ms`)), timeoutMs);
      // On the keep-alive agent, as a browser's fetch() would be: after PUBLISHED the server
      // sends `end` and ends the response, which is read to its end here so the connection
      // goes back to the pool for the client's next request.
      const req = request({ host: this.url.hostname, port: this.url.port, path: `/api/v1/designs/${id}/events`, agent: this.agent, headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return finish(new Error(`GET /api/v1/designs/${id}/events answered ${res.statusCode}`));
        }
        res.setEncoding('utf8');
        const parser = new SseParser((message) => {
          if (!message.data) return;
          const view = JSON.parse(message.data) as DesignView;
          if (view.status === 'PUBLISHED') finish(null, view);
          else if (view.status === 'FAILED') finish(new Error(`Design ${id} FAILED: ${view.error ?? ''}`));
        });
        res.on('data', (chunk: string) => parser.push(chunk));
        res.on('end', () => finish(new Error(`Design ${id}: its event stream ended before PUBLISHED`)));
        res.on('error', (error) => finish(error));
      });
      req.on('error', (error) => finish(error));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}


/** Creation to PUBLISHED as the service recorded it (created_at, published_at; ms resolution). */
export function serverLatencyMs(view: DesignView): number {
  return Date.parse(view.published_at ?? '') - Date.parse(view.created_at);
}

/**
 * How clients learn that their design is PUBLISHED:
 *  - `each`: every client polls its own design (GET /api/v1/designs/{id}) every `everyMs`;
 *  - `batch`: one poller lists the user's newest designs (GET /api/v1/designs?limit=100)
 *    every `everyMs` and tells each waiting client; a design that fell off that page is
 *    fetched on its own;
 *  - `sse`: no polling: each client waits on its design's event stream
 *    (GET /api/v1/designs/{id}/events), which the service answers as the status changes.
 */
export interface Polling {
  kind: 'each' | 'batch' | 'sse';
  /** Unused by `sse`. */
  everyMs: number;
}

export function describePolling(p: Polling): string {
  if (p.kind === 'sse') return 'each client waits on its design\'s event stream (SSE), no polling';
  return p.kind === 'each' ? `each client GETs its design every ${p.everyMs} ms` : `one poller lists the newest 100 every ${p.everyMs} ms`;
}

export interface LoadResult {
  designs: number;
  clients: number;
  polling: Polling;
  /** First POST sent to last PUBLISHED seen, seconds. */
  wallSeconds: number;
  designsPerSecond: number;
  /** Designs over the service's own span: earliest created_at to latest published_at. */
  serverDesignsPerSecond: number;
  /** POST sent to PUBLISHED seen by the client (includes up to one poll interval). */
  observedMs: number[];
  /** created_at to published_at. */
  serverMs: number[];
  /** Status requests: GETs of one design, list requests and event streams opened. */
  polls: number;
}

const BATCH_PAGE = 100;

/** Waits for designs to be PUBLISHED by listing the newest ones every `everyMs` (see Polling). */
class BatchPoller {
  private readonly waiting = new Map<string, { since: number; resolve: (v: DesignView) => void; reject: (e: Error) => void }>();
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly api: ApiClient, private readonly everyMs: number, private readonly timeoutMs: number) {
    this.loop = this.run();
  }

  wait(id: string): Promise<DesignView> {
    return new Promise((resolve, reject) => this.waiting.set(id, { since: performance.now(), resolve, reject }));
  }

  private settle(view: DesignView): void {
    const waiter = this.waiting.get(view.id);
    if (!waiter || (view.status !== 'PUBLISHED' && view.status !== 'FAILED')) return;
    this.waiting.delete(view.id);
    if (view.status === 'PUBLISHED') waiter.resolve(view);
    else waiter.reject(new Error(`Design ${view.id} FAILED: ${view.error ?? ''}`));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await sleep(this.everyMs);
      if (this.waiting.size === 0) continue;
      try {
        const seen = new Set<string>();
        for (const view of await this.api.listDesigns(BATCH_PAGE)) {
          seen.add(view.id);
          this.settle(view);
        }
        const now = performance.now();
        for (const [id, waiter] of [...this.waiting]) {
          // Created before the newest page began (or listed while the POST was in flight): ask for it alone.
          if (!seen.has(id) && now - waiter.since > 4 * this.everyMs) this.settle(await this.api.getDesign(id));
          if (now - waiter.since > this.timeoutMs && this.waiting.has(id)) {
            this.waiting.delete(id);
            waiter.reject(new Error(`Design ${id} not PUBLISHED after ${this.timeoutMs} ms`));
          }
        }
      } catch (error) {
        for (const waiter of this.waiting.values()) waiter.reject(error as Error);
        this.waiting.clear();
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/**
 * Closed loop: `clients` users, each creating a design, waiting until it is PUBLISHED (as
 * `polling` finds out), then creating the next, until `designs` designs are PUBLISHED.
 */
export async function runDesignLoad(api: ApiClient, options: { designs: number; clients: number; polling: Polling; timeoutMs?: number; offset?: number }): Promise<LoadResult> {
  const { designs, clients, polling } = options;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const offset = options.offset ?? 0;
  const observedMs: number[] = [];
  const serverMs: number[] = [];
  let firstCreated = Number.POSITIVE_INFINITY;
  let lastPublished = Number.NEGATIVE_INFINITY;
  let next = 0;
  const pollsBefore = api.gets + api.lists + api.streams;
  const batch = polling.kind === 'batch' ? new BatchPoller(api, polling.everyMs, timeoutMs) : undefined;
  const started = performance.now();
  const client = async () => {
    while (next < designs) {
      const i = next++;
      const sent = performance.now();
      const created = await api.createDesign(designBody(offset + i));
      const published = batch ? await batch.wait(created.id)
        : polling.kind === 'sse' ? await api.waitForPublishedEvent(created.id, timeoutMs)
          : await api.waitForPublished(created.id, polling.everyMs, timeoutMs);
      observedMs.push(performance.now() - sent);
      serverMs.push(serverLatencyMs(published));
      firstCreated = Math.min(firstCreated, Date.parse(published.created_at));
      lastPublished = Math.max(lastPublished, Date.parse(published.published_at!));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(clients, designs) }, client));
  } finally {
    await batch?.stop();
  }
  const wallSeconds = (performance.now() - started) / 1000;
  return {
    designs, clients, polling, wallSeconds,
    designsPerSecond: designs / wallSeconds,
    serverDesignsPerSecond: designs / ((lastPublished - firstCreated) / 1000),
    observedMs, serverMs,
    polls: api.gets + api.lists + api.streams - pollsBefore,
  };
}

/** One design at a time on an otherwise idle service: `runs` times create, poll every `pollMs` until PUBLISHED. */
export async function singleDesignLatency(api: ApiClient, options: { runs: number; pollMs: number; offset?: number }): Promise<{ observedMs: number[]; serverMs: number[] }> {
  const observedMs: number[] = [];
  const serverMs: number[] = [];
  for (let r = 0; r < options.runs; r++) {
    const sent = performance.now();
    const created = await api.createDesign(designBody((options.offset ?? 0) + r));
    const published = await api.waitForPublished(created.id, options.pollMs, 30_000);
    observedMs.push(performance.now() - sent);
    serverMs.push(serverLatencyMs(published));
    // Let the previous design's tail (logs, metrics, socket reuse) settle: each run starts idle.
    await sleep(20);
  }
  return { observedMs, serverMs };
}
