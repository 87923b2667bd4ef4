import { describe, expect, it } from 'vitest';
import { createTokenVerifier, mintToken } from '../../src/auth/jwt.js';

const secret = 'a-local-hs256-secret-of-at-least-32-bytes!';

describe('remembered tokens', () => {
  it('a token verified once is still refused once it expires', async () => {
    // The verifier's clock is ours to move: no sleeping, no race with the wall clock.
    let clock = Date.now();
    const verify = createTokenVerifier({ secret, now: () => clock });
    const token = await mintToken({ secret, userId: 'alice', ttlSeconds: 60 });
    expect(await verify(token)).toEqual({ userId: 'alice' });
    expect(await verify(token)).toEqual({ userId: 'alice' });
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };
    clock = exp * 1000 + 1000; // past exp, within the 60 s clock skew: still accepted
    expect(await verify(token)).toEqual({ userId: 'alice' });
    clock = exp * 1000 + 61_000; // past exp and the skew
    await expect(verify(token)).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/expired/) as unknown });
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
