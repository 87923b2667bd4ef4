import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';

/**
 * The studio page's server side (issue #14): GET / and its bundle, the web fonts, the catalog,
 * and the development sign-in, which exists only with the generated development secret.
 * Real servers on real ports, started as `customify serve` starts them (startServer).
 */

const ROOT = path.join(import.meta.dirname, '../..');

beforeAll(async () => {
  // The bundle the server reads at start, as `npm run build` makes it.
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'scripts/build-web.js')], { cwd: ROOT });
}, 60_000);

const post = (server: TestServer, body: string, contentType = 'application/json') =>
  fetch(`${server.url}/api/v1/dev/session`, { method: 'POST', headers: { 'content-type': contentType }, body });

describe('in the embedded default (the development secret under DATA_DIR)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ JWT_SECRET: '' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('POST /api/v1/dev/session answers only callers on this machine: another address gets 403 and no token', async () => {
    for (const remoteAddress of ['203.0.113.7', '10.0.0.2', '::ffff:192.168.1.5', 'fe80::1']) {
      const res = await server.app.inject({ method: 'POST', url: '/api/v1/dev/session', remoteAddress, headers: { 'content-type': 'application/json' }, payload: { name: 'alice' } });
      expect(res.statusCode, remoteAddress).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/customify token/) as unknown } });
      expect(res.body).not.toMatch(/eyJ/);
    }
    for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const res = await server.app.inject({ method: 'POST', url: '/api/v1/dev/session', remoteAddress, headers: { 'content-type': 'application/json' }, payload: { name: 'alice' } });
      expect(res.statusCode, remoteAddress).toBe(200);
    }
  });

  it('POST /api/v1/dev/session signs in a named development user: the token works on the API as that user', async () => {
    expect(server.jwtSecretSource).toBe('dev-file');
    const res = await post(server, JSON.stringify({ name: 'alice' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { token: string; user_id: string; expires_at: string };
    expect(body.user_id).toBe('alice');
    expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now());
    const auth = { authorization: `Bearer ${body.token}` };
    const created = await fetch(`${server.url}/api/v1/designs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ product_type: 'mug', design_data: { text: 'Hi', font: 'Roboto-Bold', color: '#123456' } }),
    });
    expect(created.status).toBe(201);
    // Another development user does not see alice's design.
    const bob = (await (await post(server, JSON.stringify({ name: 'bob' }))).json()) as { token: string };
    const list = (await (await fetch(`${server.url}/api/v1/designs`, { headers: { authorization: `Bearer ${bob.token}` } })).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);
  });

  it.each([
    ['{}', 'FIELD_REQUIRED', 'name'],
    ['{"name": 42}', 'INVALID_TYPE', 'name'],
    ['{"name": null}', 'INVALID_TYPE', 'name'],
    ['{"name": ""}', 'INVALID_VALUE', 'name'],
    ['{"name": "a b"}', 'INVALID_VALUE', 'name'],
    ['{"name": "-alice"}', 'INVALID_VALUE', 'name'],
    [JSON.stringify({ name: 'x'.repeat(65) }), 'INVALID_VALUE', 'name'],
    ['{"name": "alice", "role": "admin"}', 'UNKNOWN_FIELD', 'role'],
    ['["alice"]', 'INVALID_TYPE', 'body'],
  ])('refuses %s with 400 %s naming the field %s', async (body, code, field) => {
    const res = await post(server, body);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; field: string; message: string } };
    expect(error).toMatchObject({ code, field });
    expect(error.message).toContain(field === 'body' ? 'JSON object' : field);
  });

  it('refuses a body that is not JSON (415) or not valid JSON (400)', async () => {
    expect((await post(server, 'name=alice', 'application/x-www-form-urlencoded')).status).toBe(415);
    const bad = await post(server, '{"name":');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_JSON');
  });

  it('GET / serves the page with its Content-Security-Policy; its bundle is cached for good, the page revalidated', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    const again = await fetch(`${server.url}/`, { headers: { 'if-none-match': page.headers.get('etag')! } });
    expect(again.status).toBe(304);

    const script = /src="(\/studio\/app-[A-Z0-9]{8}\.js)"/.exec(html)?.[1];
    const style = /href="(\/studio\/style-[A-Z0-9]{8}\.css)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    for (const [url, type] of [[script!, 'text/javascript; charset=utf-8'], [style!, 'text/css; charset=utf-8']] as const) {
      const res = await fetch(`${server.url}${url}`);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
    // Only the files the build wrote: no other path under /studio reaches the disk.
    for (const url of ['/studio/index.html', '/studio/app-AAAAAAAA.js', '/studio/..%2Fcli.js', '/studio/.build-stamp']) {
      const res = await fetch(`${server.url}${url}`);
      expect(res.status, url).toBe(404);
    }
  });

  it('serves each bundled font as a web font, and the catalog of product types and fonts', async () => {
    const catalog = (await (await fetch(`${server.url}/studio/catalog.json`)).json()) as { product_types: string[]; fonts: Array<{ name: string; url: string }>; dev_sign_in: boolean };
    expect(catalog.dev_sign_in).toBe(true);
    expect(catalog.product_types).toContain('t-shirt');
    expect(catalog.fonts.map((f) => f.name)).toContain('Bebas-Bold');
    for (const font of catalog.fonts) {
      const res = await fetch(`${server.url}${font.url}`);
      expect(res.status, font.url).toBe(200);
      expect(res.headers.get('content-type')).toBe('font/ttf');
      expect(res.headers.get('cache-control')).toBe('public, max-age=86400');
      // A TrueType file: its version tag.
      expect(Buffer.from(await res.arrayBuffer()).readUInt32BE(0)).toBe(0x00010000);
    }
    for (const url of ['/studio/fonts/Comic-Sans.ttf', '/studio/fonts/Bebas-Bold', '/studio/fonts/NotoSans_700Bold.ttf']) {
      expect((await fetch(`${server.url}${url}`)).status, url).toBe(404);
    }
  });
});

describe.each<[string, Record<string, string>]>([
  ['JWT_SECRET is set', { JWT_SECRET: 'studio-test-secret-0123456789abcdef0123456789' }],
  ['JWKS_URL is set', { JWT_SECRET: '', JWKS_URL: 'http://127.0.0.1:9/.well-known/jwks.json' }],
  // Production services without NODE_ENV=production (a staging box): still the development secret, but no dev sign-in.
  ...(skipRedis ? [] : [['REDIS_URL is set (the development secret, but production services)', { JWT_SECRET: '', REDIS_URL, RENDER_QUEUE_NAME: `studio-${process.pid}` }] as [string, Record<string, string>]]),
])('when %s', (_label, env) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(env);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('POST /api/v1/dev/session does not exist (404), and the page offers only a pasted token', async () => {
    const res = await post(server, JSON.stringify({ name: 'alice' }));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND');
    const catalog = (await (await fetch(`${server.url}/studio/catalog.json`)).json()) as { dev_sign_in: boolean };
    expect(catalog.dev_sign_in).toBe(false);
    expect((await fetch(`${server.url}/`)).status).toBe(200);
  });
});
