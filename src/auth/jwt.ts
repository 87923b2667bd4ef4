import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';
import type { Settings } from '../config.js';
import { AppError, ConfigError } from '../errors.js';

/** Authentication failed: the request gets 401 whatever the detail. */
export class AuthError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('UNAUTHORIZED', message, { cause });
  }
}

const DEV_SECRET_FILE = 'jwt-secret';
const MIN_SECRET_BYTES = 32;

/**
 * The HS256 secret: JWT_SECRET, or in the embedded default a development secret generated
 * once and kept under DATA_DIR so tokens survive restarts. Production without JWT_SECRET
 * (and without JWKS_URL) refuses to start.
 */
export async function resolveJwtSecret(settings: Pick<Settings, 'jwtSecret' | 'jwksUrl' | 'isProduction' | 'dataDir'>): Promise<{ secret: string; source: 'env' | 'dev-file' | 'none' }> {
  if (settings.jwtSecret) {
    if (Buffer.byteLength(settings.jwtSecret) < MIN_SECRET_BYTES) {
      throw new ConfigError(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes long (e.g. openssl rand -hex 32).`, 'JWT_SECRET');
    }
    return { secret: settings.jwtSecret, source: 'env' };
  }
  if (settings.isProduction) {
    if (settings.jwksUrl) return { secret: '', source: 'none' };
    throw new ConfigError('JWT_SECRET is required when NODE_ENV=production (generate one with: openssl rand -hex 32), or set JWKS_URL for an identity provider.', 'JWT_SECRET');
  }
  const file = path.join(settings.dataDir, DEV_SECRET_FILE);
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= MIN_SECRET_BYTES) return { secret: existing, source: 'dev-file' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(settings.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  try {
    // 'wx': if another process created it meanwhile, theirs wins and we read it back.
    await writeFile(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
    return { secret, source: 'dev-file' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { secret: (await readFile(file, 'utf8')).trim(), source: 'dev-file' };
  }
}

/**
 * The token lifetime policy (README, "Tokens"): a token we mint or accept lives at most
 * JWT_MAX_LIFETIME (exp - iat, or exp - now without iat), and `exp`, `nbf` and `iat` are
 * checked with JWT_CLOCK_SKEW of leeway. A token "valid until 2100" is a stolen token that
 * never stops working; one issued in the future comes from a clock we should not trust.
 */
export const DEFAULT_JWT_CLOCK_SKEW_SECONDS = 60;
export const DEFAULT_JWT_MAX_LIFETIME_SECONDS = 7 * 86_400;

/** Throws INVALID_TTL when a token of `ttlSeconds` would outlive the maximum lifetime (and so be refused). */
export function checkTtl(ttlSeconds: number, maxLifetimeSeconds = DEFAULT_JWT_MAX_LIFETIME_SECONDS): void {
  if (ttlSeconds > maxLifetimeSeconds) {
    throw new AppError(
      'INVALID_TTL',
      `--ttl must be at most ${formatSeconds(maxLifetimeSeconds)} (JWT_MAX_LIFETIME), got ${formatSeconds(ttlSeconds)}: the server refuses longer-lived tokens.`,
      { field: 'ttl' },
    );
  }
}

/** A development token: HS256, `sub` = the user. Throws INVALID_TTL past the maximum lifetime. */
export async function mintToken(options: { secret: string; userId: string; ttlSeconds: number; maxLifetimeSeconds?: number }): Promise<string> {
  if (!options.userId.trim()) throw new AppError('INVALID_USER', '--user must be a non-empty user id.', { field: 'user' });
  checkTtl(options.ttlSeconds, options.maxLifetimeSeconds);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds)
    .sign(new TextEncoder().encode(options.secret));
}

function formatSeconds(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

export type TokenVerifier = (token: string) => Promise<{ userId: string }>;

const VERIFIED_CACHE_SIZE = 10_000;
const VERIFIED_CACHE_MS = 5 * 60_000;

/**
 * Verifies Bearer tokens: HS256 with the secret, RS256/ES256 through JWKS_URL when set.
 * The algorithm list is fixed here, so `alg: none` and algorithm-confusion tokens fail.
 */
export interface TokenVerifierOptions {
  secret: string;
  jwksUrl?: string;
  /** Leeway for exp, nbf and iat (default 60 s). */
  clockSkewSeconds?: number;
  /** Longest accepted exp - iat, or exp - now without iat (default 7 days). */
  maxLifetimeSeconds?: number;
  /** The clock, in milliseconds (tests pass their own). */
  now?: () => number;
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const skew = options.clockSkewSeconds ?? DEFAULT_JWT_CLOCK_SKEW_SECONDS;
  const maxLifetime = options.maxLifetimeSeconds ?? DEFAULT_JWT_MAX_LIFETIME_SECONDS;
  const now = options.now ?? Date.now;
  const hmacKey = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined;
  // Verified tokens are remembered until they expire (at most 5 minutes, so a key removed
  // from the JWKS stops working soon). Measured (bench/jwt-verify.bench.ts): jose's HS256
  // check of an unseen token takes 75-170 µs here (WebCrypto, asynchronous), a remembered one
  // 0.4 µs, and a whole GET /api/v1/designs/{id} about 140 µs: without the cache reads would
  // cost about half as much again. A remembered token passed every check below when it was
  // first seen, and is dropped at its exp.
  const verified = new Map<string, { userId: string; until: number }>();
  const remember = (token: string, userId: string, exp: number) => {
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, { userId, until: Math.min(exp * 1000, now() + VERIFIED_CACHE_MS) });
  };
  return async (token) => {
    const known = verified.get(token);
    if (known) {
      if (now() < known.until) return { userId: known.userId };
      verified.delete(token);
    }
    let alg: unknown;
    try {
      // Only `alg` is read here (jose checks the rest); a header that is JSON null throws on the read and is
      // malformed like one that is not JSON.
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: unknown };
      alg = header.alg;
    } catch {
      throw new AuthError('Malformed token: expected a JWT (header.payload.signature).');
    }
    try {
      const checks = { clockTolerance: skew, currentDate: new Date(now()) };
      const { payload } =
        alg === 'HS256' && hmacKey
          ? await jwtVerify(token, hmacKey, { ...checks, algorithms: ['HS256'] })
          : jwks && (alg === 'RS256' || alg === 'ES256')
            ? await jwtVerify(token, jwks, { ...checks, algorithms: ['RS256', 'ES256'] })
            : (() => { throw new AuthError(`Tokens signed with "${String(alg)}" are not accepted.`); })();
      if (typeof payload.sub !== 'string' || payload.sub === '') throw new AuthError('The token has no subject (sub claim).');
      if (payload.exp === undefined) throw new AuthError('The token has no expiry (exp claim).');
      const nowSeconds = Math.floor(now() / 1000);
      if (payload.iat !== undefined && payload.iat > nowSeconds + skew) {
        throw new AuthError('The token was issued in the future (iat): check the clock of whoever minted it, then mint a new one.');
      }
      if (payload.exp - (payload.iat ?? nowSeconds) > maxLifetime + skew) {
        throw new AuthError(`The token is valid for longer than the ${formatSeconds(maxLifetime)} this server accepts (exp - iat): mint a shorter-lived one.`);
      }
      remember(token, payload.sub, payload.exp);
      return { userId: payload.sub };
    } catch (error) {
      if (error instanceof AuthError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new AuthError('The token has expired: mint a new one (customify token --user <id>).', error);
      throw new AuthError('Invalid token: its signature or claims do not verify.', error);
    }
  };
}
