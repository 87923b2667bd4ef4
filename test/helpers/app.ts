import { connect, createServer } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { mintToken } from '../../src/auth/jwt.js';
import { createTokenVerifier } from '../../src/auth/jwt.js';
import { buildContainer, type Container } from '../../src/composition-root.js';
import { configFrom, type Environment, type Settings } from '../../src/config.js';
import type { DesignView } from '../../src/designs/design-service.js';
import { buildApp } from '../../src/http/app.js';
import { createHealthChecks, scannerNotes } from '../../src/http/health-checks.js';
import type { HealthCheck } from '../../src/http/health.routes.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { createTempDir, removeTempDir } from './tmp.js';

/**
 * The real app for HTTP tests: a real SQLite file and real local storage in a fresh temp
 * folder, the in-process render queue running, a fixed JWT secret. Nothing of ours is mocked;
 * `checks` replaces readiness checks by name (to make one fail on purpose).
 */

export const TEST_JWT_SECRET = 'customify-test-secret-0123456789abcdef0123456789';

export const SAMPLE_DESIGN = {
  product_type: 't-shirt',
  design_data: { text: 'Test Design', font: 'Bebas-Bold', color: '#FF0000' },
} as const;

/** Settings for a test in `dir`: SQLite and local storage inside it, fast retries, no logs. */
export function testSettings(dir: string, env: Environment = {}): Readonly<Settings> {
  return configFrom({
    DATABASE_URL: `sqlite:${path.join(dir, 'db.sqlite')}`,
    LOCAL_STORAGE_PATH: path.join(dir, 'storage'),
    DATA_DIR: path.join(dir, 'data'),
    JWT_SECRET: TEST_JWT_SECRET,
    RENDER_BACKOFF_MS: '10',
    RENDER_CONCURRENCY: '2',
    LOG_LEVEL: 'silent',
    ...env,
  });
}

/** A valid token for `userId` (default `user-a`), signed with the test secret. */
export function tokenFor(userId = 'user-a', ttlSeconds = 3600): Promise<string> {
  return mintToken({ secret: TEST_JWT_SECRET, userId, ttlSeconds });
}

export async function authHeaders(userId = 'user-a'): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(userId)}` };
}

const FINAL = new Set(['PUBLISHED', 'FAILED']);

/**
 * Polls `get` until the design has `status`; fails at once if it settles on another final
 * status (a FAILED design will never be PUBLISHED) or after `timeoutMs`.
 */
export async function pollForStatus(
  get: () => Promise<DesignView>,
  status: DesignView['status'],
  timeoutMs = 15_000,
): Promise<DesignView> {
  const deadline = Date.now() + timeoutMs;
  let last: DesignView | undefined;
  for (;;) {
    last = await get();
    if (last.status === status) return last;
    if (FINAL.has(last.status) && FINAL.has(status)) {
      throw new Error(`Design ${last.id} is ${last.status}, not ${status}: ${last.error ?? ''}`);
    }
    if (Date.now() > deadline) throw new Error(`Design ${last.id} still ${last.status} after ${timeoutMs} ms (wanted ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface TestApp {
  app: FastifyInstance;
  container: Container;
  settings: Readonly<Settings>;
  /** The temp folder holding the database, storage and data dir. */
  dir: string;
  storageRoot: string;
  /** GET /api/v1/designs/:id until it has `status`, as `userId`. */
  waitForStatus(id: string, status: DesignView['status'], options?: { userId?: string; timeoutMs?: number }): Promise<DesignView>;
  /** Creates the sample design (or `body`) as `userId` through the API; returns the 201 body. */
  createDesign(body?: unknown, userId?: string): Promise<DesignView>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Environment;
  /** Readiness checks replacing the real ones of the same name. */
  checks?: Record<string, HealthCheck>;
  healthTimeoutMs?: number;
  /** Start the in-process worker (default true). */
  background?: boolean;
  /** Request logs go here (default: none), to assert what gets logged. */
  logger?: Logger;
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dir = await createTempDir('http');
  const settings = testSettings(dir, options.env);
  let container: Container | undefined;
  let app: FastifyInstance | undefined;
  try {
    container = await buildContainer(settings, { logger: silentLogger, role: 'serve' });
    app = await buildApp({
      service: container.service,
      verifyToken: createTokenVerifier({ secret: TEST_JWT_SECRET }),
      metrics: container.metrics,
      health: { checks: { ...createHealthChecks(container), ...options.checks }, notes: scannerNotes(container), timeoutMs: options.healthTimeoutMs },
      settings,
      storage: container.storage.storage,
      uploads: container.uploadService,
      avatars: container.avatarService,
      tus: container.tus,
      logger: options.logger,
      renditions: container.renditions,
      previews: container.previews,
      events: container.events,
    });
    await app.ready();
    if (options.background ?? true) await container.startBackground();
  } catch (error) {
    await app?.close();
    await container?.close();
    await removeTempDir(dir);
    throw error;
  }
  const ready = { app, container };

  const getDesign = async (id: string, userId = 'user-a'): Promise<DesignView> => {
    const res = await ready.app.inject({ method: 'GET', url: `/api/v1/designs/${id}`, headers: await authHeaders(userId) });
    if (res.statusCode !== 200) throw new Error(`GET /api/v1/designs/${id} answered ${res.statusCode}: ${res.body}`);
    return res.json<DesignView>();
  };

  return {
    ...ready,
    settings,
    dir,
    storageRoot: settings.localStoragePath,
    waitForStatus: (id, status, opts = {}) => pollForStatus(() => getDesign(id, opts.userId), status, opts.timeoutMs),
    async createDesign(body = SAMPLE_DESIGN, userId = 'user-a') {
      const res = await ready.app.inject({ method: 'POST', url: '/api/v1/designs', headers: await authHeaders(userId), payload: body as object });
      if (res.statusCode !== 201) throw new Error(`POST /api/v1/designs answered ${res.statusCode}: ${res.body}`);
      return res.json<DesignView>();
    },
    async close() {
      try {
        await ready.app.close();
        await ready.container.close();
      } finally {
        await removeTempDir(dir);
      }
    },
  };
}

/** A port that was free a moment ago (so PUBLIC_BASE_URL can name it before the server starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface TestServer extends RunningServer {
  settings: Readonly<Settings>;
  dir: string;
  /** Closes the server, then removes the temp folder. */
  stop(): Promise<void>;
}

/**
 * A real server on 127.0.0.1 and a free port, PUBLIC_BASE_URL pointing at it (so local
 * preview URLs can be fetched), everything else as in testSettings plus `env`.
 */
export async function startTestServer(env: Environment = {}): Promise<TestServer> {
  const dir = await createTempDir('server');
  const port = await freePort();
  const settings = testSettings(dir, { HOST: '127.0.0.1', PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, ...env });
  let server: RunningServer;
  try {
    server = await startServer(settings, { logger: silentLogger });
  } catch (error) {
    await removeTempDir(dir);
    throw error;
  }
  return {
    ...server,
    settings,
    dir,
    async stop() {
      try {
        await server.close();
      } finally {
        await removeTempDir(dir);
      }
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Sends `GET <path>` exactly as written (no URL normalisation, no client-side checks: `..`,
 * backslashes and NUL reach the server as they are) over a plain socket.
 */
export function rawRequest(baseUrl: string, rawPath: string, method = 'GET'): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${method} ${JSON.stringify(rawPath)}`)));
    socket.on('connect', () => socket.write(Buffer.from(`${method} ${rawPath} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`, 'latin1')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split === -1 ? all.length : split).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status, headers, body: split === -1 ? Buffer.alloc(0) : all.subarray(split + 4) });
    });
  });
}
