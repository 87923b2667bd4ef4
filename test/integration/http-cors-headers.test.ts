import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config.js';
import { authHeaders, createTestApp, type TestApp } from '../helpers/app.js';

/**
 * Security headers (helmet) and CORS (@fastify/cors): /static follows the seed's
 * bucket rule (GET and HEAD from any origin, any header, preflights answered); the API
 * answers browsers only from CORS_ORIGINS; /docs works under its Content-Security-Policy.
 */

const SHOP = 'https://shop.example.com';

function preflight(url: string, origin: string, method: string, headers?: string) {
  return {
    method: 'OPTIONS' as const,
    url,
    headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) },
  };
}

describe('security headers and /static CORS (default configuration)', () => {
  let t: TestApp;
  let previewPath: string;
  beforeAll(async () => {
    t = await createTestApp();
    const design = await t.createDesign();
    await t.waitForStatus(design.id, 'PUBLISHED');
    previewPath = `/static/designs/${design.id}/preview.png`;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the API sends the same protective headers as before, and no HSTS', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: await authHeaders() });
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    });
    expect(res.headers['strict-transport-security']).toBeUndefined();
    // Errors (answered by the error handler) carry them too.
    const notFound = await t.app.inject({ method: 'GET', url: '/nope' });
    expect(notFound.headers['x-frame-options']).toBe('DENY');
  });

  it('/static images are loadable from any site and sandboxed, found or not', async () => {
    for (const url of [previewPath, '/static/designs/00000000-0000-4000-8000-000000000000/preview.png']) {
      const res = await t.app.inject({ method: 'GET', url, headers: { origin: SHOP } });
      expect([200, 404], url).toContain(res.statusCode);
      expect(res.headers['access-control-allow-origin'], url).toBe('*');
      expect(res.headers['content-security-policy'], url).toBe("default-src 'none';sandbox");
      expect(res.headers['cross-origin-resource-policy'], url).toBe('cross-origin');
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
    }
  });

  it('answers a /static preflight as the bucket rule does: any origin, GET and HEAD, any header', async () => {
    const res = await t.app.inject(preflight(previewPath, SHOP, 'GET', 'x-custom-header, range'));
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toBe('GET, HEAD');
    expect(res.headers['access-control-allow-headers']).toBe('x-custom-header, range');
  });

  it('sends no CORS headers for the API by default, and refuses its preflights', async () => {
    const get = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { ...(await authHeaders()), origin: SHOP } });
    expect(get.statusCode).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await t.app.inject(preflight('/api/v1/designs', SHOP, 'POST', 'authorization, content-type'));
    expect(pre.statusCode).toBe(405);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.json().error.code).toBe('METHOD_NOT_ALLOWED');
  });

  it('/docs loads under its Content-Security-Policy: every script and stylesheet is a same-origin file', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    const csp = page.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(page.headers['x-frame-options']).toBe('DENY');
    // No inline script (script-src 'self' would block it): every <script> has a src.
    const scripts = [...page.body.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const attributes of scripts) expect(attributes).toMatch(/\bsrc="/);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(2);
    for (const asset of assets) {
      expect(asset, asset).not.toMatch(/^(https?:)?\/\//); // 'self' only
      const res = await t.app.inject({ method: 'GET', url: new URL(asset, 'http://x/docs/').pathname });
      expect(res.statusCode, asset).toBe(200);
    }
    const spec = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(spec.statusCode).toBe(200);
  });
});

describe('API CORS with CORS_ORIGINS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { CORS_ORIGINS: `${SHOP}, https://admin.example.com` }, background: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a listed origin\'s preflight, before and without authentication', async () => {
    const res = await t.app.inject(preflight('/api/v1/designs', SHOP, 'POST', 'authorization, content-type'));
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(SHOP);
    expect(res.headers['access-control-allow-methods']).toBe('GET, HEAD, POST, DELETE');
    expect(res.headers['access-control-allow-headers']).toBe('Authorization, Content-Type, X-Request-Id');
    expect(res.headers['access-control-max-age']).toBe('600');
    expect(res.headers.vary).toContain('Origin');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('lets a listed origin read answers and their Location and X-Request-Id headers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { ...(await authHeaders()), origin: 'https://admin.example.com' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('https://admin.example.com');
    expect(res.headers['access-control-expose-headers']).toContain('Location');
    expect(res.headers['access-control-expose-headers']).toContain('X-Request-Id');
  });

  it('gives an origin that is not listed nothing to read', async () => {
    const pre = await t.app.inject(preflight('/api/v1/designs', 'https://evil.example', 'POST'));
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const get = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { ...(await authHeaders()), origin: 'https://evil.example' } });
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('CORS_ORIGINS=* allows any origin', async () => {
    const any = await createTestApp({ env: { CORS_ORIGINS: '*' }, background: false });
    try {
      const res = await any.app.inject(preflight('/api/v1/designs/x', 'https://anyone.example', 'DELETE', 'authorization'));
      expect(res.statusCode).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await any.close();
    }
  });

  it('refuses CORS_ORIGINS values that are not origins, naming the variable', () => {
    for (const bad of ['shop.example.com', 'https://shop.example.com/', 'https://shop.example.com/path', 'ftp://shop.example.com', '*, https://a.example']) {
      expect(() => configFrom({ CORS_ORIGINS: bad }), bad).toThrow(/CORS_ORIGINS/);
    }
    expect(configFrom({}).corsOrigins).toEqual([]);
    expect(configFrom({ CORS_ORIGINS: ' https://a.example ,http://localhost:3000 ' }).corsOrigins).toEqual(['https://a.example', 'http://localhost:3000']);
  });
});
