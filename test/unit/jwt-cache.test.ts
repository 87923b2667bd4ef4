import { describe, expect, it } from 'vitest';
import { createTokenVerifier, mintToken } from '../../src/auth/jwt.js';

const secret = 'a-local-hs256-secret-of-at-least-32-bytes!';

describe('remembered tokens', () => {
  it('a token verified once is still refused once it expires', async () => {
    const verify = createTokenVerifier({ secret });
    // Two seconds, not one: `exp` is in whole seconds, so a one-second token minted late in a
    // second can be expired before its first check.
    const token = await mintToken({ secret, userId: 'alice', ttlSeconds: 2 });
    expect(await verify(token)).toEqual({ userId: 'alice' });
    expect(await verify(token)).toEqual({ userId: 'alice' });
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 100));
    await expect(verify(token)).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/expired/) });
  });

  it('a remembered token does not make a tampered copy valid', async () => {
    const verify = createTokenVerifier({ secret });
    const token = await mintToken({ secret, userId: 'alice', ttlSeconds: 60 });
    await verify(token);
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url')}.${signature}`;
    await expect(verify(forged)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
