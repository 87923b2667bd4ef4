import { checkTtl, mintToken, resolveJwtSecret } from '../auth/jwt.js';
import type { Settings } from '../config.js';
import { AppError } from '../errors.js';
import { DurationError, parseDuration } from '../shared/duration.js';

export interface TokenOptions {
  user?: string | undefined;
  ttl: string;
}

/**
 * `customify token --user ID [--ttl 1h]`: prints only the JWT, so that
 * `export TOKEN=$(customify token --user alice)` works. The secret is the one the server
 * verifies with: JWT_SECRET, or in development the secret kept under DATA_DIR (created on
 * first use). Throws AppError for a missing user or a bad ttl, ConfigError in production
 * without JWT_SECRET.
 */
export async function tokenCommand(settings: Readonly<Settings>, options: TokenOptions, print: (line: string) => void): Promise<number> {
  const user = options.user?.trim();
  if (!user) {
    throw new AppError('INVALID_USER', '--user is required: customify token --user <user-id> [--ttl 1h].', { field: 'user' });
  }
  // Check the ttl before resolving the secret, which may create the development secret file.
  const ttlSeconds = parseTtl(options.ttl);
  const maxLifetimeSeconds = Math.floor(settings.jwtMaxLifetimeMs / 1000);
  checkTtl(ttlSeconds, maxLifetimeSeconds);
  const { secret, source } = await resolveJwtSecret(settings);
  if (source === 'none' || !secret) {
    throw new AppError(
      'NO_SIGNING_SECRET',
      'This deployment verifies tokens from JWKS_URL only, so there is no secret to sign with: get a token from the identity provider, or set JWT_SECRET (openssl rand -hex 32) to accept HS256 tokens too.',
      { field: 'JWT_SECRET' },
    );
  }
  print(await mintToken({ secret, userId: user, ttlSeconds, maxLifetimeSeconds }));
  return 0;
}

/** `--ttl` → whole seconds (a JWT's `exp` is in seconds): `30m`, `1h`, `7d`. A unit is required. */
export function parseTtl(ttl: string): number {
  const refuse = (cause?: Error) =>
    new AppError('INVALID_TTL', `--ttl must be a positive duration such as 30m, 1h or 7d${cause ? `: ${cause.message}` : `, got ${JSON.stringify(ttl)}`}.`, { field: 'ttl', cause });
  let ms: number;
  try {
    ms = parseDuration(ttl);
  } catch (error) {
    if (error instanceof DurationError) throw refuse(error);
    throw error;
  }
  if (ms <= 0 || ms % 1000 !== 0) throw refuse();
  return ms / 1000;
}
