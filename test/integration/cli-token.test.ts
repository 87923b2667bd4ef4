import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTokenVerifier, resolveJwtSecret } from '../../src/auth/jwt.js';
import { tokenCommand } from '../../src/cli/token.js';
import { configFrom } from '../../src/config.js';
import { AppError, ConfigError } from '../../src/errors.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

let dataDir: string;
beforeEach(async () => {
  dataDir = await createTempDir('cli-token');
});
afterEach(async () => {
  await removeTempDir(dataDir);
});

async function mint(env: Record<string, string>, options: { user?: string; ttl?: string }): Promise<string> {
  const lines: string[] = [];
  const code = await tokenCommand(configFrom({ DATA_DIR: dataDir, ...env }), { user: options.user, ttl: options.ttl ?? '1h' }, (line) => lines.push(line));
  expect(code).toBe(0);
  expect(lines).toHaveLength(1); // only the token, so $(customify token ...) captures it
  return lines[0]!;
}

function claims(token: string): { sub: string; iat: number; exp: number } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string; iat: number; exp: number };
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('customify token', () => {
  it('refuses a --ttl longer than JWT_MAX_LIFETIME (the server would refuse the token), before creating any secret', async () => {
    const error = await failure(tokenCommand(configFrom({ DATA_DIR: dataDir }), { user: 'alice', ttl: '8d' }, () => undefined));
    expect(error).toMatchObject({ code: 'INVALID_TTL', field: 'ttl', message: expect.stringContaining('at most 7d') as unknown });
    expect(existsSync(path.join(dataDir, 'jwt-secret'))).toBe(false);
    const shorter = await failure(tokenCommand(configFrom({ DATA_DIR: dataDir, JWT_SECRET: SECRET, JWT_MAX_LIFETIME: '1h' }), { user: 'alice', ttl: '2h' }, () => undefined));
    expect(shorter.message).toContain('at most 1h');
    const token = await mint({ JWT_SECRET: SECRET }, { user: 'alice', ttl: '7d' });
    expect(claims(token).exp - claims(token).iat).toBe(7 * 86_400);
  });


  it('prints a JWT that the server verifier accepts, carrying the user as sub', async () => {
    const token = await mint({ JWT_SECRET: SECRET }, { user: 'alice' });
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(await createTokenVerifier({ secret: SECRET })(token)).toEqual({ userId: 'alice' });
    // Signed with JWT_SECRET: no development secret file is created.
    expect(existsSync(path.join(dataDir, 'jwt-secret'))).toBe(false);
  });

  it('honours --ttl', async () => {
    for (const [ttl, seconds] of [['1h', 3600], ['30m', 1800], ['7d', 604_800], ['90s', 90], ['1.5h', 5400]] as const) {
      const { exp, iat } = claims(await mint({ JWT_SECRET: SECRET }, { user: 'bob', ttl }));
      expect(exp - iat, ttl).toBe(seconds);
    }
  });

  it('refuses a bad --ttl or a missing --user, and writes nothing', async () => {
    for (const ttl of ['soon', '-1h', '0', '90', '0s', '500ms', '1y', '']) {
      const error = await failure(tokenCommand(configFrom({ DATA_DIR: dataDir }), { user: 'alice', ttl }, () => {}));
      expect(error.code).toBe('INVALID_TTL');
      expect(error.message).toMatch(/--ttl must be a positive duration such as 30m, 1h or 7d/);
    }
    for (const user of [undefined, '', '   ']) {
      const error = await failure(tokenCommand(configFrom({ DATA_DIR: dataDir }), { user, ttl: '1h' }, () => {}));
      expect(error.message).toMatch(/--user is required/);
    }
    expect(existsSync(path.join(dataDir, 'jwt-secret'))).toBe(false);
  });

  it('in development without JWT_SECRET, keeps one secret under DATA_DIR and reuses it', async () => {
    const first = await mint({}, { user: 'carol' });
    const file = path.join(dataDir, 'jwt-secret');
    const stored = readFileSync(file, 'utf8').trim();
    expect(stored.length).toBeGreaterThanOrEqual(32);
    const second = await mint({}, { user: 'dave' });
    expect(readFileSync(file, 'utf8').trim()).toBe(stored);
    // The server resolves the same secret, and both tokens verify with it.
    const { secret } = await resolveJwtSecret(configFrom({ DATA_DIR: dataDir }));
    const verify = createTokenVerifier({ secret });
    expect(await verify(first)).toEqual({ userId: 'carol' });
    expect(await verify(second)).toEqual({ userId: 'dave' });
  });

  it('in production without JWT_SECRET, fails with the configuration message', async () => {
    const error = await failure(tokenCommand(configFrom({ DATA_DIR: dataDir, NODE_ENV: 'production' }), { user: 'alice', ttl: '1h' }, () => {}));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/JWT_SECRET is required when NODE_ENV=production/);
    expect(existsSync(path.join(dataDir, 'jwt-secret'))).toBe(false);
  });

  it('with JWKS_URL only, says there is nothing to sign with', async () => {
    const error = await failure(tokenCommand(configFrom({ DATA_DIR: dataDir, NODE_ENV: 'production', JWKS_URL: 'https://idp.example.com/.well-known/jwks.json' }), { user: 'alice', ttl: '1h' }, () => {}));
    expect(error.code).toBe('NO_SIGNING_SECRET');
    expect(error.message).toMatch(/JWKS_URL/);
  });
});
