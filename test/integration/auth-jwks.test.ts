import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';

type CryptoKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, mintToken } from '../../src/auth/jwt.js';

// An identity provider's key set served over real HTTP, as JWKS_URL would point to.
describe('tokens from an identity provider (RS256 through JWKS_URL)', () => {
  let server: Server;
  let jwksUrl: string;
  let signingKey: CryptoKey;
  let publicPem: string;
  const secret = 'a-local-hs256-secret-of-at-least-32-bytes!';
  const inOneHour = () => Math.floor(Date.now() / 1000) + 3600;

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    signingKey = privateKey;
    publicPem = await exportSPKI(publicKey);
    const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' };
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const rs256 = (claims: Record<string, unknown>, key: CryptoKey = signingKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'idp-key-1' }).sign(key);

  it('accepts an RS256 token signed by the provider, with sub as the user', async () => {
    const verify = createTokenVerifier({ secret: '', jwksUrl });
    expect(await verify(await rs256({ sub: 'auth0|alice', exp: inOneHour() }))).toEqual({ userId: 'auth0|alice' });
  });

  it('refuses an RS256 token signed by another key', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const verify = createTokenVerifier({ secret: '', jwksUrl });
    await expect(verify(await rs256({ sub: 'mallory', exp: inOneHour() }, privateKey))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('refuses HS256 signed with the provider public key (algorithm confusion)', async () => {
    const forged = await new SignJWT({ sub: 'mallory', exp: inOneHour() }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(publicPem));
    await expect(createTokenVerifier({ secret: '', jwksUrl })(forged)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(createTokenVerifier({ secret, jwksUrl })(forged)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('accepts both kinds when a secret and JWKS_URL are configured', async () => {
    const verify = createTokenVerifier({ secret, jwksUrl });
    expect(await verify(await mintToken({ secret, userId: 'dev', ttlSeconds: 60 }))).toEqual({ userId: 'dev' });
    expect(await verify(await rs256({ sub: 'idp-user', exp: inOneHour() }))).toEqual({ userId: 'idp-user' });
  });

  it('refuses RS256 tokens when no JWKS_URL is configured', async () => {
    await expect(createTokenVerifier({ secret })(await rs256({ sub: 'alice', exp: inOneHour() }))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
