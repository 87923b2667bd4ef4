import type { FastifyInstance } from 'fastify';
import { mintToken } from '../auth/jwt.js';
import { AppError, ValidationError } from '../errors.js';

/** Mints a token for a named development user. */
export interface DevSessions {
  mint(userId: string): Promise<{ token: string; expiresAt: Date }>;
}

/** A development session lasts a working day, or less if JWT_MAX_LIFETIME is shorter. */
const DEV_SESSION_SECONDS = 12 * 3600;

/**
 * Development sign-in with the generated development secret (`./data/jwt-secret`). server.ts
 * creates it only in the embedded default (that secret, no JWKS_URL, no REDIS_URL, local
 * storage, SQLite): with JWT_SECRET, an identity provider or production services tokens come
 * from elsewhere, and the route does not exist (404). Even then it answers only loopback peers.
 */
export function createDevSessions(options: { secret: string; maxLifetimeSeconds: number; now?: () => number }): DevSessions {
  const ttlSeconds = Math.min(DEV_SESSION_SECONDS, options.maxLifetimeSeconds);
  const now = options.now ?? Date.now;
  return {
    async mint(userId) {
      const token = await mintToken({ secret: options.secret, userId, ttlSeconds, maxLifetimeSeconds: options.maxLifetimeSeconds });
      return { token, expiresAt: new Date(now() + ttlSeconds * 1000) };
    },
  };
}

/** Whether a listen address (HOST) or a peer address is this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.replace(/^::ffff:/i, '');
  return plain === 'localhost' || plain === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(plain);
}

/** The user names the page accepts: what `customify token --user` would be given, kept short and printable. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface DevSessionRoutesOptions {
  sessions: DevSessions;
}

/**
 * `POST /api/v1/dev/session` `{"name": "alice"}` → `{"token", "user_id", "expires_at"}`: the
 * studio page's "sign in as a development user". The token is the same as
 * `customify token --user alice` mints; it is answered in the body only (never in a URL, a
 * header or a log line) and is not kept by any cache.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify takes a plugin without `done` as promise-style only if it returns a promise.
export async function devSessionRoutes(app: FastifyInstance, options: DevSessionRoutesOptions): Promise<void> {
  app.post('/dev/session', { schema: { hide: true } }, async (request, reply) => {
    // Anyone who can reach it could sign in as anyone: only a browser on this machine may.
    if (!isLoopbackHost(request.socket.remoteAddress)) {
      throw new AppError('FORBIDDEN', 'Development sign-in answers only requests from the machine the server runs on; sign in with a token instead (customify token --user NAME, then paste it).', { field: 'name' });
    }
    const name = readName(request.body);
    const { token, expiresAt } = await options.sessions.mint(name);
    return reply.header('cache-control', 'no-store').send({ token, user_id: name, expires_at: expiresAt.toISOString() });
  });
}

function readName(body: unknown): string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('INVALID_TYPE', 'The body must be a JSON object: {"name": "alice"}.', 'body');
  }
  const fields = body as Record<string, unknown>;
  const extra = Object.keys(fields).find((key) => key !== 'name');
  if (extra !== undefined) throw new ValidationError('UNKNOWN_FIELD', `${extra} is not a known field; remove it (the body is {"name": "alice"}).`, extra);
  if (!Object.hasOwn(fields, 'name')) throw new ValidationError('FIELD_REQUIRED', 'name is required: the development user to sign in as, e.g. "alice".', 'name');
  const name = fields.name;
  if (typeof name !== 'string') throw new ValidationError('INVALID_TYPE', `name must be a string, got ${name === null ? 'null' : typeof name}.`, 'name');
  if (!NAME.test(name)) {
    throw new ValidationError('INVALID_VALUE', 'name must be 1 to 64 letters, digits, dots, dashes, underscores or @, starting with a letter or digit (e.g. "alice").', 'name');
  }
  return name;
}
