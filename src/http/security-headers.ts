import cors, { type FastifyCorsOptions } from '@fastify/cors';
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Security headers (@fastify/helmet) and CORS (@fastify/cors) for the whole app, registered
 * before the routes so that route-level settings (the /static ones) apply.
 */

/**
 * Every answer but /static: no framing, no referrer, its own browsing context group, and
 * helmet's default Content-Security-Policy (which /docs, whose scripts and styles are all
 * files under /docs/static, works with) without upgrade-insecure-requests, which would break
 * a plain-HTTP deployment. No HSTS: TLS ends in front of the service, which decides.
 */
export const SECURITY_HEADERS: FastifyHelmetOptions = {
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  strictTransportSecurity: false,
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
};

/**
 * /static: user images, loadable from any site (like the bucket they stand in for), and
 * never run as a document: a sandbox with nothing allowed, should one be opened directly.
 */
export const STATIC_SECURITY_HEADERS: Omit<FastifyHelmetOptions, 'global'> = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], sandbox: [] } },
  crossOriginResourcePolicy: { policy: 'cross-origin' },
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

/** Which CORS rules a request gets: /static's, the API's, or none (origin false). */
export function corsDelegator(corsOrigins: '*' | string[]): (request: FastifyRequest, callback: (error: Error | null, options?: FastifyCorsOptions) => void) => void {
  const api = corsOrigins === '*' || corsOrigins.length > 0 ? apiCors(corsOrigins) : { origin: false };
  const none: FastifyCorsOptions = { origin: false };
  return (request, callback) => {
    const url = request.url;
    if (url.startsWith('/static/')) callback(null, STATIC_CORS);
    else if (url.startsWith('/api/')) callback(null, api);
    else callback(null, none);
  };
}

export async function registerSecurityHeaders(app: FastifyInstance, options: { corsOrigins: '*' | string[] }): Promise<void> {
  await app.register(helmet, SECURITY_HEADERS);
  await app.register(cors, { delegator: corsDelegator(options.corsOrigins), hook: 'onRequest' });
}
