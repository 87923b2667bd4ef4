import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TokenVerifier } from '../auth/jwt.js';
import type { Settings } from '../config.js';
import type { DesignService } from '../designs/design-service.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ObjectStorage } from '../storage/index.js';
import { designRoutes } from './designs.routes.js';
import { registerDocs } from './docs.js';
import { createClientErrorHandler, decodeUtf8Body, refuseDuplicateHeaders } from './client-errors.js';
import { createErrorReplier, installErrorHandlers } from './error-handler.js';
import { healthRoutes, type HealthOptions } from './health.routes.js';
import { registerSecurityHeaders } from './security-headers.js';
import { installRequestMetrics, metricsRoutes } from './metrics.routes.js';
import { logAbortedRequests, RequestLogController } from './request-log.js';
import { BODY_LIMIT_BYTES } from './schemas.js';
import { staticRoutes } from './static.routes.js';
import type { UploadService } from '../uploads/upload-service.js';
import { uploadRoutes } from './uploads.routes.js';
import type { AvatarService } from '../avatars/avatar-service.js';
import { avatarRoutes } from './avatar.routes.js';
import type { TusUploads } from '../uploads/tus-uploads.js';
import { tusRoutes } from './tus.routes.js';
import { holdBodiesToRequestTimeout } from './upload-timeout.js';
import type { RenditionMaker } from '../designs/rendition-maker.js';
import { previewRoutes, type PreviewDeps } from './previews.routes.js';
import type { EventBus } from '../events/index.js';
import { eventRoutes } from './events.routes.js';
import { studioRoutes } from './studio.routes.js';
import { devSessionRoutes, type DevSessions } from './dev-session.routes.js';

export interface AppDeps {
  service: DesignService;
  verifyToken: TokenVerifier;
  metrics: Metrics;
  health: HealthOptions;
  settings: Pick<Settings, 'useLocalStorage' | 'publicBaseUrl' | 'requestTimeoutMs' | 'corsOrigins'> & Partial<Pick<Settings, 'uploadTimeoutMs'>>;
  storage: ObjectStorage;
  /** User uploads (/api/v1/uploads); the routes are absent without it. */
  uploads?: UploadService;
  /** The caller's avatar (/api/v1/users/me/avatar); the routes are absent without it. */
  avatars?: AvatarService;
  /** Resumable uploads (/api/v1/uploads/tus); absent without it (or without `uploads`). */
  tus?: TusUploads;
  /** Request logs (with request ids) go here; none when omitted. */
  logger?: Logger;
  /**
   * Renditions made on first request (issue #13) under `/static/designs/...`: served in local
   * mode, redirected to the bucket's URL (`url`) in S3 mode. Absent: only stored files are served.
   */
  renditions?: { maker: Pick<RenditionMaker, 'ensure'>; url: (key: string) => Promise<string>; publicBucket: boolean };
  /** Instant previews (POST /api/v1/previews, issue #14); the route is absent without it. */
  previews?: PreviewDeps;
  /** Live status as Server-Sent Events (/api/v1/events, issue #14); the routes are absent without it. */
  events?: { bus: EventBus; heartbeatMs: number; maxBufferedBytes: number };
  /** The studio page at GET / (issue #14): where its bundle is (default: the project's dist/web/). */
  studio?: { webRoot?: string };
  /**
   * Development sign-in (POST /api/v1/dev/session); server.ts gives it only with the generated
   * development secret and no JWKS_URL. Absent: the route does not exist.
   */
  devSessions?: DevSessions;
}

// A caller's X-Request-Id is kept when it looks like an id, so logs join up across services.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Builds the HTTP app from its dependencies. Never listens, reads no environment, opens
 * nothing: `server.ts` owns the process, tests call `app.inject`.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const replyWithError = createErrorReplier(deps.metrics);
  // Typed as Fastify's logger so that the app is FastifyInstance's default (FastifyBaseLogger), not pino's Logger.
  const loggerInstance: FastifyBaseLogger | undefined = deps.logger;
  // Uploads may take UPLOAD_TIMEOUT to arrive, cut by their routes (408 UPLOAD_TIMEOUT). Node's
  // request timeout is one for the whole server, so it becomes a backstop past that, and other
  // bodies are held to REQUEST_TIMEOUT by a hook (src/http/upload-timeout.ts).
  const uploadTimeoutMs = deps.settings.uploadTimeoutMs ?? deps.settings.requestTimeoutMs;
  const nodeRequestTimeoutMs = deps.uploads ? Math.max(deps.settings.requestTimeoutMs, uploadTimeoutMs + deps.settings.requestTimeoutMs) : deps.settings.requestTimeoutMs;
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: requestId,
    // Router errors (bad percent-encoding, over-long parameters) get the same JSON answer.
    frameworkErrors: replyWithError,
    logController: new RequestLogController(),
    // A whole request (headers and body) must arrive within REQUEST_TIMEOUT, or it gets 408 and
    // the connection closes: without it a client trickling a body keeps a socket forever.
    // Headers have the same bound; Node checks every connection every
    // connectionsCheckingInterval (30 s by default, too coarse for a 30 s limit).
    requestTimeout: nodeRequestTimeoutMs,
    http: { headersTimeout: deps.settings.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(deps.settings.requestTimeoutMs / 4))) },
    // Errors Node's HTTP parser raises (and the timeout) answer in the API's error shape.
    clientErrorHandler: createClientErrorHandler(deps.metrics, { requestTimeoutMs: nodeRequestTimeoutMs }),
    ajv: {
      customOptions: {
        // Refuse what the schema does not describe instead of quietly dropping it or
        // turning `"text": 123` into "123".
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: true,
        allErrors: false,
        // Errors carry their schema: an unknown field's message lists the fields its object takes.
        verbose: true,
      },
    },
  });

  installErrorHandlers(app, deps.metrics, replyWithError);
  if (nodeRequestTimeoutMs > deps.settings.requestTimeoutMs) holdBodiesToRequestTimeout(app, deps.settings.requestTimeoutMs);
  installRequestMetrics(app, deps.metrics);

  logAbortedRequests(app);
  await registerSecurityHeaders(app, { corsOrigins: deps.settings.corsOrigins });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onRequest', refuseDuplicateHeaders);

  // JSON only: without the text/plain parser a wrong Content-Type is 415, not a string body.
  // An empty body with Content-Type: application/json (curl -X POST .../render -H ...) is no body.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  // Read as bytes and decoded strictly: invalid UTF-8 is refused (INVALID_UTF8), not turned into U+FFFD.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    let text: string;
    try {
      text = decodeUtf8Body(body as Buffer);
    } catch (error) {
      return done(error as Error, undefined);
    }
    // Fastify's default JSON parser is the callback form: it answers through `done` (errors included) and
    // returns nothing. Its type also allows the promise form, which is routed to `done` as well, so that a
    // rejection could never go unhandled.
    const parsed = parseJson(request, text, done);
    if (parsed instanceof Promise) parsed.then((value: unknown) => done(null, value), (error: Error) => done(error, undefined));
  });

  await registerDocs(app);
  await app.register(healthRoutes, deps.health);
  await app.register(metricsRoutes, { metrics: deps.metrics });
  await app.register(designRoutes, { prefix: '/api/v1', service: deps.service, verifyToken: deps.verifyToken });
  if (deps.events) await app.register(eventRoutes, { prefix: '/api/v1', ...deps.events, service: deps.service, verifyToken: deps.verifyToken, metrics: deps.metrics });
  if (deps.previews) await app.register(previewRoutes, { prefix: '/api/v1', previews: deps.previews, verifyToken: deps.verifyToken });
  if (deps.uploads) await app.register(uploadRoutes, { prefix: '/api/v1', uploads: deps.uploads, verifyToken: deps.verifyToken, uploadTimeoutMs });
  if (deps.avatars) await app.register(avatarRoutes, { prefix: '/api/v1', avatars: deps.avatars, verifyToken: deps.verifyToken, uploadTimeoutMs });
  if (deps.uploads && deps.tus) await app.register(tusRoutes, { prefix: '/api/v1', tus: deps.tus, verifyToken: deps.verifyToken, uploadTimeoutMs });
  if (deps.devSessions) await app.register(devSessionRoutes, { prefix: '/api/v1', sessions: deps.devSessions });
  await app.register(studioRoutes, { webRoot: deps.studio?.webRoot, devSignIn: Boolean(deps.devSessions) });
  const renditions = deps.renditions;
  if (deps.settings.useLocalStorage) await app.register(staticRoutes, { storage: deps.storage, renditions: renditions?.maker });
  else if (renditions) await app.register(staticRoutes, { storage: deps.storage, renditions: renditions.maker, redirectTo: { url: renditions.url, publicBucket: renditions.publicBucket } });
  return app;
}
