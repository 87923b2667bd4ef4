import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createTokenVerifier, mintToken, resolveJwtSecret } from '../auth/jwt.js';
import { assertScanningConfigured, buildContainer, type Container } from '../composition-root.js';
import type { Settings } from '../config.js';
import { dialectOf, sqlitePathOf } from '../db/database.js';
import { redactUrl } from '../shared/redact-url.js';
import { describeError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { buildApp } from './app.js';
import { createHealthChecks, scannerNotes } from './health-checks.js';
import { createDevSessions, isLoopbackHost } from './dev-session.routes.js';

export interface RunningServer {
  /** Where the server answers, e.g. http://127.0.0.1:53124. */
  url: string;
  app: FastifyInstance;
  container: Container;
  /** Where the HS256 secret came from: JWT_SECRET, the generated development file, or none (JWKS only). */
  jwtSecretSource: 'env' | 'dev-file' | 'none';
  /** Stops accepting requests, waits for in-flight ones, then closes queue, worker and database. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Overrides PORT; 0 picks a free port. */
  port?: number;
}

/**
 * Builds everything from `settings`, listens, and starts the background work (the
 * in-process worker, crash recovery, the sweep). No signal handling: `serve` adds that;
 * tests and benchmarks call this directly, on port 0.
 */
export async function startServer(settings: Readonly<Settings>, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(settings);
  const { secret, source } = await resolveJwtSecret(settings);
  const container = await buildContainer(settings, { logger, role: 'serve' });
  // The studio page's development sign-in exists only in the embedded default: the generated
  // development secret, no identity provider, and none of production mode's services. A staging
  // box started without NODE_ENV=production (Redis, S3) must not hand out anyone's token.
  const embeddedDefault = !settings.redisUrl && settings.useLocalStorage && settings.databaseUrl.startsWith('sqlite:');
  const devSessions = source === 'dev-file' && !settings.jwksUrl && embeddedDefault
    ? createDevSessions({ secret, maxLifetimeSeconds: Math.floor(settings.jwtMaxLifetimeMs / 1000) })
    : undefined;
  if (devSessions && !isLoopbackHost(settings.host)) {
    logger.info(`Development sign-in (POST /api/v1/dev/session) answers only requests from this machine; HOST is ${settings.host}, so others get 403 and must paste a token (customify token --user NAME).`);
  }
  let app: FastifyInstance | undefined;
  try {
    app = await buildApp({
      service: container.service,
      verifyToken: createTokenVerifier({
        secret,
        jwksUrl: settings.jwksUrl || undefined,
        clockSkewSeconds: Math.floor(settings.jwtClockSkewMs / 1000),
        maxLifetimeSeconds: Math.floor(settings.jwtMaxLifetimeMs / 1000),
      }),
      metrics: container.metrics,
      health: { checks: createHealthChecks(container), notes: scannerNotes(container) },
      settings,
      storage: container.storage.storage,
      uploads: container.uploadService,
      avatars: container.avatarService,
      tus: container.tus,
      logger,
      renditions: container.renditions,
      previews: container.previews,
      events: container.events,
      devSessions,
    });
    await app.listen({ host: settings.host, port: options.port ?? settings.port });
    await container.startBackground();
  } catch (error) {
    await app?.close().catch(() => undefined);
    await container.close();
    throw error;
  }
  const running = app;
  let closing: Promise<void> | undefined;
  return {
    url: urlOf(running.server.address() as AddressInfo),
    app: running,
    container,
    jwtSecretSource: source,
    close() {
      closing ??= (async () => {
        // A keep-alive connection busy when close() began becomes idle only later, and Node
        // would keep it (and the process) open until the keep-alive timeout: reap it as it idles.
        const reaper = setInterval(() => running.server.closeIdleConnections(), 100);
        try {
          await running.close();
        } finally {
          clearInterval(reaper);
          await container.close();
        }
      })();
      return closing;
    },
  };
}

function urlOf(address: AddressInfo): string {
  const host = address.address === '0.0.0.0' || address.address === '::' ? 'localhost' : address.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/** One line saying where everything lives, with no password in it. */
export function describeSetup(settings: Readonly<Settings>): string {
  const storage = settings.useLocalStorage
    ? `local ${settings.localStoragePath}`
    : `s3 ${settings.s3BucketName}${settings.s3Endpoint ? ` at ${settings.s3Endpoint}` : ''}${settings.s3PublicBucket ? '' : ' (private, signed URLs)'}`;
  const database = dialectOf(settings.databaseUrl) === 'sqlite' ? `sqlite ${sqlitePathOf(settings.databaseUrl)}` : `postgres ${redactUrl(settings.databaseUrl)}`;
  const queue = settings.redisUrl ? `redis ${redactUrl(settings.redisUrl)}` : 'in-process';
  return `storage: ${storage}, database: ${database}, queue: ${queue}`;
}

const SAMPLE_BODY = '{"product_type":"t-shirt","design_data":{"text":"Test Design","font":"Bebas-Bold","color":"#FF0000"}}';

/** What a newcomer needs to try the API: a token, a first design, how to fetch it, the docs. */
export async function gettingStarted(url: string, secret: string, maxLifetimeSeconds = 24 * 3600): Promise<string[]> {
  const ttlSeconds = Math.min(24 * 3600, maxLifetimeSeconds);
  const token = await mintToken({ secret, userId: 'dev-user', ttlSeconds, maxLifetimeSeconds });
  return [
    `Try it (development token for user dev-user, valid ${ttlSeconds === 24 * 3600 ? '24h' : `${ttlSeconds} s`}; mint others with: customify token --user <id>):`,
    `  export TOKEN=${token}`,
    `  curl -X POST ${url}/api/v1/designs -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '${SAMPLE_BODY}'`,
    `  curl ${url}/api/v1/designs/<id from the answer> -H "Authorization: Bearer $TOKEN"   # until "status":"PUBLISHED", then open preview_url`,
    `Docs: ${url}/docs`,
  ];
}

const SHUTDOWN_TIMEOUT_MS = 30_000;

/**
 * `customify serve` (`npm start`): the API, plus the in-process render worker when there
 * is no REDIS_URL. Owns the process concerns: the logger, listen, and graceful shutdown on
 * SIGTERM/SIGINT (stop accepting, finish in-flight requests and renders, close the
 * database); a second signal, or a shutdown slower than 30 s, exits at once.
 */
export async function serve(settings: Readonly<Settings>): Promise<void> {
  assertScanningConfigured(settings);
  const logger = createLogger(settings);
  const server = await startServer(settings, { logger });
  const url = server.url;
  // One line, in the process's one log format (readable at a terminal, JSON lines otherwise).
  logger.info({ url }, `Customify listening on ${url} (${describeSetup(settings)})`);
  // Signal handlers first: whoever reads the banner may signal at once.
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn(`${signal} again: exiting without waiting for in-flight work`);
        process.exit(1);
      }
      stopping = true;
      logger.info(`${signal}: no longer accepting requests; finishing in-flight requests and renders`);
      const force = setTimeout(() => {
        logger.error(`Shutdown took longer than ${SHUTDOWN_TIMEOUT_MS / 1000}s: exiting`);
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      force.unref();
      server.close().then(
        () => {
          clearTimeout(force);
          logger.info('Shut down cleanly');
          resolve();
        },
        (error: unknown) => {
          clearTimeout(force);
          logger.error(`Shutdown failed: ${describeError(error)}`);
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  if (!settings.isProduction) {
    // Instructions for a newcomer, as one entry whose lines can be copied as they are.
    const lines = server.jwtSecretSource === 'dev-file'
      ? await gettingStarted(url, (await resolveJwtSecret(settings)).secret, Math.floor(settings.jwtMaxLifetimeMs / 1000))
      : [`Docs: ${url}/docs`];
    lines.unshift(`Studio: open ${url}/ in a browser`);
    logger.info(`Getting started:\n${lines.join('\n')}`);
  }

  await stopped;
  // Everything is closed; should a stray handle keep the event loop alive, leave anyway.
  setTimeout(() => process.exit(), 2000).unref();
}
