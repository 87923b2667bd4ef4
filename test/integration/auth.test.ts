import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authHeaders, createTestApp, SAMPLE_DESIGN, TEST_JWT_SECRET, tokenFor, type TestApp } from '../helpers/app.js';

interface ErrorAnswer {
  error: { code: string; message: string };
}

const b64url = (value: object | string) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function sign(claims: Record<string, unknown>, options: { secret?: string; alg?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** Every way a request can fail to authenticate: the Authorization header to send (undefined: none). */
async function badCredentials(): Promise<Array<[string, string | undefined]>> {
  const valid = await tokenFor('user-a');
  const [header, payload] = valid.split('.');
  return [
    ['no Authorization header', undefined],
    ['empty Bearer', 'Bearer '],
    ['Basic scheme', `Basic ${Buffer.from('user-a:password').toString('base64')}`],
    ['token without scheme', valid],
    ['not a JWT', 'Bearer not-a-jwt'],
    ['three garbage parts', 'Bearer aaa.bbb.ccc'],
    ['header that is not JSON', `Bearer ${b64url('nope')}.${payload}.sig`],
    ['forged signature (other secret)', `Bearer ${await sign({ sub: 'user-a', exp: now() + 3600 }, { secret: 'another-secret-that-is-long-enough-000000' })}`],
    ['tampered payload', `Bearer ${header}.${b64url({ sub: 'user-b', exp: now() + 3600 })}.${valid.split('.')[2]}`],
    ['expired', `Bearer ${await sign({ sub: 'user-a', iat: now() - 7200, exp: now() - 3600 })}`],
    ['alg none', `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'user-a', exp: now() + 3600 })}.`],
    ['alg NONE without the final dot', `Bearer ${b64url({ alg: 'NONE', typ: 'JWT' })}.${b64url({ sub: 'user-a', exp: now() + 3600 })}`],
    ['HS512 with the right secret (algorithm not accepted)', `Bearer ${await sign({ sub: 'user-a', exp: now() + 3600 }, { alg: 'HS512' })}`],
    ['no sub claim', `Bearer ${await sign({ exp: now() + 3600 })}`],
    ['empty sub claim', `Bearer ${await sign({ sub: '', exp: now() + 3600 })}`],
    ['no exp claim', `Bearer ${await sign({ sub: 'user-a' })}`],
    // The lifetime policy: 60 s of clock skew, at most 7 days from iat (or from now without iat).
    ['iat an hour in the future', `Bearer ${await sign({ sub: 'user-a', iat: now() + 3600, exp: now() + 7200 })}`],
    ['iat two minutes in the future', `Bearer ${await sign({ sub: 'user-a', iat: now() + 120, exp: now() + 3600 })}`],
    ['exp in the year 2100', `Bearer ${await sign({ sub: 'user-a', iat: now(), exp: 4_102_444_800 })}`],
    ['exp 8 days after iat', `Bearer ${await sign({ sub: 'user-a', iat: now(), exp: now() + 8 * 86_400 })}`],
    ['exp 30 days away, no iat', `Bearer ${await sign({ sub: 'user-a', exp: now() + 30 * 86_400 })}`],
    ['nbf an hour in the future', `Bearer ${await sign({ sub: 'user-a', iat: now(), nbf: now() + 3600, exp: now() + 7200 })}`],
  ];
}

describe('authentication on every /api route', () => {
  let t: TestApp;
  let designId: string;
  let cases: Array<[string, string | undefined]>;

  beforeAll(async () => {
    t = await createTestApp({ background: false });
    designId = (await t.createDesign()).id;
    cases = await badCredentials();
  });
  afterAll(async () => {
    await t?.close();
  });

  const endpoints = () => [
    { method: 'POST' as const, url: '/api/v1/designs', payload: SAMPLE_DESIGN },
    { method: 'GET' as const, url: '/api/v1/designs' },
    { method: 'GET' as const, url: `/api/v1/designs/${designId}` },
    { method: 'DELETE' as const, url: `/api/v1/designs/${designId}` },
    { method: 'POST' as const, url: `/api/v1/designs/${designId}/render` },
  ];

  it('answers 401 UNAUTHORIZED with WWW-Authenticate: Bearer for every endpoint and every bad credential', async () => {
    let checked = 0;
    for (const [label, authorization] of cases) {
      for (const endpoint of endpoints()) {
        const res = await t.app.inject({ ...endpoint, headers: authorization === undefined ? {} : { authorization } });
        const what = `${endpoint.method} ${endpoint.url} with ${label}`;
        expect(res.statusCode, what).toBe(401);
        expect(res.headers['www-authenticate'], what).toMatch(/^Bearer realm="customify"/);
        expect(res.json().error.code, what).toBe('UNAUTHORIZED');
        expect(res.body, what).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
        checked++;
      }
    }
    expect(checked).toBe(cases.length * 5);
    // None of them created, deleted or re-rendered anything.
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: await authHeaders('user-a') });
    expect(list.json<{ items: Array<{ id: string }> }>().items.map((d) => d.id)).toEqual([designId]);
  });

  it('says invalid_token when a token was sent, and not when none was', async () => {
    const none = await t.app.inject({ method: 'GET', url: '/api/v1/designs' });
    expect(none.headers['www-authenticate']).toBe('Bearer realm="customify"');
    const bad = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { authorization: 'Bearer x.y.z' } });
    expect(bad.headers['www-authenticate']).toBe('Bearer realm="customify", error="invalid_token"');
    const expired = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { authorization: `Bearer ${await tokenFor('user-a', -3600)}` } });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.message).toMatch(/expired/);
  });

  it('checks the token before the body: a bad body or an oversized one without a token is 401', async () => {
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/designs', payload: { nope: true } });
    expect(bad.statusCode).toBe(401);
    const big = await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers: { 'content-type': 'application/json' }, payload: `{"x":"${'a'.repeat(100_000)}"}` });
    expect(big.statusCode).toBe(401);
  });

  it('accepts tokens within the policy: iat a few seconds ahead (clock skew), 7 days of lifetime', async () => {
    for (const token of [
      await sign({ sub: 'user-a', iat: now() + 30, exp: now() + 3600 }),
      await sign({ sub: 'user-a', iat: now(), exp: now() + 7 * 86_400 }),
      await sign({ sub: 'user-a', exp: now() + 6 * 86_400 }),
    ]) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { authorization: `Bearer ${token}` } });
      expect(res.statusCode, res.body).toBe(200);
    }
  });

  it('says why a token outside the lifetime policy is refused', async () => {
    const future = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { authorization: `Bearer ${await sign({ sub: 'user-a', iat: now() + 3600, exp: now() + 7200 })}` } });
    expect(future.json().error.message).toMatch(/issued in the future/);
    const long = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { authorization: `Bearer ${await sign({ sub: 'user-a', iat: now(), exp: 4_102_444_800 })}` } });
    expect(long.json().error.message).toMatch(/longer than the 7d/);
  });

  it('accepts "bearer" in any case', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { authorization: `bearer ${await tokenFor('user-a')}` } });
    expect(res.statusCode).toBe(200);
  });

  it("answers 404 (never 403) for another user's design on get, delete and render, and leaves it alone", async () => {
    const intruder = await authHeaders('user-b');
    const missing = await t.app.inject({ method: 'GET', url: '/api/v1/designs/00000000-0000-4000-8000-000000000000', headers: intruder });
    for (const endpoint of endpoints().slice(2)) {
      const res = await t.app.inject({ ...endpoint, headers: intruder });
      expect(res.statusCode, `${endpoint.method} ${endpoint.url}`).toBe(404);
      expect(res.json().error.code).toBe('DESIGN_NOT_FOUND');
      // Indistinguishable from a design that does not exist.
      expect(res.json<ErrorAnswer>().error.message.replace(designId, 'ID')).toBe(missing.json<ErrorAnswer>().error.message.replace('00000000-0000-4000-8000-000000000000', 'ID'));
    }
    const theirList = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: intruder });
    expect(theirList.statusCode).toBe(200);
    expect(theirList.json()).toEqual({ items: [], next_cursor: null });

    const owner = await t.app.inject({ method: 'GET', url: `/api/v1/designs/${designId}`, headers: await authHeaders('user-a') });
    expect(owner.statusCode).toBe(200);
    expect(owner.json().status).toBe('PENDING');
  });

  it('keeps designs of users whose ids differ only in case apart', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/designs/${designId}`, headers: await authHeaders('USER-A') });
    expect(res.statusCode).toBe(404);
  });
});
