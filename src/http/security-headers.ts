import type { IncomingMessage, ServerResponse } from 'node:http';
import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { TUS_REQUEST_HEADERS, TUS_RESPONSE_HEADERS } from '../uploads/tus-headers.js';

/**
 * Security headers (helmet) and CORS (@fastify/cors) for the whole app.
 *
 * The header values are helmet's, computed once at start from the options below, and set
 * on each reply by a hook. Not @fastify/helmet: it builds a new helmet middleware on every
 * request. Measured with app.inject (CPU per request, medians of 7 rounds on this loaded
 * 2-core machine): hand-set headers about 50-58 µs, @fastify/helmet 70-84 µs, these
 * precomputed headers with helmet's full default set 61-65 µs, i.e. each extra header costs
 * about 1 µs, against about 140 µs for a whole read of a design and a 5% budget.
 */
/**
 * Every answer: no MIME sniffing, no framing, no referrer, its own browsing context group:
 * the headers this service has always sent. Helmet's other defaults are off: for JSON they
 * protect nothing, and each header costs every request (see above). No HSTS: TLS ends in
 * front of the service, which decides.
 */
export const SECURITY_HEADERS: HelmetOptions = {
  contentSecurityPolicy: false,
  strictTransportSecurity: false,
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

/**
 * /docs, the one HTML page: helmet's default Content-Security-Policy, which Swagger UI works
 * with (its scripts and styles are files under /docs/static), without
 * upgrade-insecure-requests, which would break a plain-HTTP deployment.
 */
export const DOCS_SECURITY_HEADERS: HelmetOptions = {
  ...SECURITY_HEADERS,
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
};

/**
 * /static: user images, loadable from any site (like the bucket they stand in for), and
 * never run as a document: a sandbox with nothing allowed, should one be opened directly.
 */
export const STATIC_SECURITY_HEADERS: HelmetOptions = {
  ...SECURITY_HEADERS,
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], sandbox: [] } },
  crossOriginResourcePolicy: { policy: 'cross-origin' },
};

/**
 * The studio page (GET / and /studio/*): its own scripts, styles and fonts only, nothing
 * inline, no frames, no forms posted anywhere; it talks to this origin's API alone.
 * Images may come from elsewhere: in S3 mode a design's preview_url names the bucket or CDN.
 */
export const STUDIO_SECURITY_HEADERS: HelmetOptions = {
  ...SECURITY_HEADERS,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      fontSrc: ["'self'"],
      imgSrc: ["'self'", 'blob:', 'data:', 'https:', 'http:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
};

/** The seed's bucket CORS rule: GET and HEAD from any origin, any request header. */
const STATIC_CORS: FastifyCorsOptions = {
  origin: '*',
  methods: ['GET', 'HEAD'],
  // No allowedHeaders: whatever headers a preflight asks for are allowed (the rule's AllowedHeaders: ["*"]).
  strictPreflight: false,
};

/** The API to the origins of CORS_ORIGINS; the headers a browser client needs to read. */
function apiCors(origins: '*' | string[]): FastifyCorsOptions {
  return {
    origin: origins === '*' ? '*' : origins,
    methods: ['GET', 'HEAD', 'POST', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    exposedHeaders: ['Location', 'X-Request-Id', 'Retry-After', 'WWW-Authenticate'],
    // Bearer tokens, not cookies: credentials mode is never needed.
    credentials: false,
    maxAge: 600,
    strictPreflight: false,
  };
}

/** The API's rule for /api/v1/uploads/tus: PATCH too, and the tus protocol's headers both ways (a browser's tus client). */
function tusCors(origins: '*' | string[]): FastifyCorsOptions {
  const api = apiCors(origins);
  return {
    ...api,
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: [...(api.allowedHeaders as string[]), ...TUS_REQUEST_HEADERS],
    exposedHeaders: [...(api.exposedHeaders as string[]), ...TUS_RESPONSE_HEADERS],
  };
}

const TUS_PATH = /^\/api\/v1\/uploads\/tus(?:[/?]|$)/;

/** Which CORS rules a request gets: /static's, the API's (tus's for its mount), or none (origin false). */
export function corsDelegator(corsOrigins: '*' | string[]): (request: FastifyRequest, callback: (error: Error | null, options?: FastifyCorsOptions) => void) => void {
  const allowed = corsOrigins === '*' || corsOrigins.length > 0;
  const none: FastifyCorsOptions = { origin: false };
  const api = allowed ? apiCors(corsOrigins) : none;
  const tus = allowed ? tusCors(corsOrigins) : none;
  const tusDiscovery: FastifyCorsOptions = allowed ? { ...tus, preflight: false } : none;
  return (request, callback) => {
    const url = request.url;
    if (url.startsWith('/static/')) callback(null, STATIC_CORS);
    // tus discovery is an OPTIONS request too (with a token): only one asking a preflight is answered as one.
    else if (TUS_PATH.test(url)) callback(null, request.method === 'OPTIONS' && !request.headers['access-control-request-method'] ? tusDiscovery : tus);
    else if (url.startsWith('/api/')) callback(null, api);
    else callback(null, none);
  };
}

/** The headers helmet sets with `options`, as a plain object (helmet only calls setHeader and removeHeader). */
export function helmetHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => undefined);
  return Object.freeze(headers);
}

const API_HEADERS = helmetHeaders(SECURITY_HEADERS);
const DOCS_HEADERS = helmetHeaders(DOCS_SECURITY_HEADERS);
const STATIC_HEADERS = helmetHeaders(STATIC_SECURITY_HEADERS);
const STUDIO_HEADERS = helmetHeaders(STUDIO_SECURITY_HEADERS);

/** onRequest hook for /static's routes: its headers replace the app-wide ones. */
export function setStaticSecurityHeaders(_request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.headers(STATIC_HEADERS);
  done();
}

/** onRequest hook for the studio page's routes: its headers (with its Content-Security-Policy) replace the app-wide ones. */
export function setStudioSecurityHeaders(_request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.headers(STUDIO_HEADERS);
  done();
}

/** Registered first, so that every answer, refusals by later hooks included, has the headers. */
export async function registerSecurityHeaders(app: FastifyInstance, options: { corsOrigins: '*' | string[] }): Promise<void> {
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(request.url.startsWith('/docs') ? DOCS_HEADERS : API_HEADERS);
    done();
  });
  await app.register(cors, { delegator: corsDelegator(options.corsOrigins), hook: 'onRequest' });
}
