import { randomUUID } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { createTokenVerifier } from '../../src/auth/jwt.js';
import { authHeaders, createTestApp, rawRequest, SAMPLE_DESIGN, TEST_JWT_SECRET, type TestApp } from '../helpers/app.js';

const SENTINEL = 'SENTINEL-outside-the-storage-root-7c1f';
const data = SAMPLE_DESIGN.design_data;

interface BodyCase {
  name: string;
  payload: unknown;
  /** Sent as is (a string) instead of JSON-encoding `payload`. */
  raw?: boolean;
  contentType?: string;
  status: number;
  code: string;
  field?: string;
}

const withData = (patch: Record<string, unknown>) => ({ ...SAMPLE_DESIGN, design_data: { ...data, ...patch } });
const withoutData = (key: string) => {
  const copy: Record<string, unknown> = { ...data };
  delete copy[key];
  return { ...SAMPLE_DESIGN, design_data: copy };
};
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

const BODY_CASES: BodyCase[] = [
  // product_type
  { name: 'product_type missing', payload: { design_data: data }, status: 400, code: 'FIELD_REQUIRED', field: 'product_type' },
  { name: 'product_type unknown', payload: { ...SAMPLE_DESIGN, product_type: 'spaceship' }, status: 400, code: 'UNKNOWN_PRODUCT_TYPE', field: 'product_type' },
  { name: 'product_type a number', payload: { ...SAMPLE_DESIGN, product_type: 7 }, status: 400, code: 'INVALID_TYPE', field: 'product_type' },
  { name: 'product_type null', payload: { ...SAMPLE_DESIGN, product_type: null }, status: 400, code: 'INVALID_TYPE', field: 'product_type' },
  // design_data
  { name: 'design_data missing', payload: { product_type: 't-shirt' }, status: 400, code: 'FIELD_REQUIRED', field: 'design_data' },
  { name: 'design_data a string', payload: { product_type: 't-shirt', design_data: 'text' }, status: 400, code: 'INVALID_TYPE', field: 'design_data' },
  { name: 'design_data an array', payload: { product_type: 't-shirt', design_data: [data] }, status: 400, code: 'INVALID_TYPE', field: 'design_data' },
  { name: 'design_data null', payload: { product_type: 't-shirt', design_data: null }, status: 400, code: 'INVALID_TYPE', field: 'design_data' },
  // text
  { name: 'text missing', payload: withoutData('text'), status: 400, code: 'FIELD_REQUIRED', field: 'design_data.text' },
  { name: 'text empty', payload: withData({ text: '' }), status: 400, code: 'TEXT_REQUIRED', field: 'design_data.text' },
  { name: 'text only whitespace', payload: withData({ text: '  \n\t ' }), status: 400, code: 'TEXT_REQUIRED', field: 'design_data.text' },
  { name: 'text 201 characters', payload: withData({ text: 'x'.repeat(201) }), status: 400, code: 'TEXT_TOO_LONG', field: 'design_data.text' },
  { name: 'text 201 emoji (code points, not UTF-16 units)', payload: withData({ text: '😀'.repeat(201) }), status: 400, code: 'TEXT_TOO_LONG', field: 'design_data.text' },
  { name: 'text a number', payload: withData({ text: 123 }), status: 400, code: 'INVALID_TYPE', field: 'design_data.text' },
  { name: 'text a boolean', payload: withData({ text: true }), status: 400, code: 'INVALID_TYPE', field: 'design_data.text' },
  { name: 'text an array', payload: withData({ text: ['a'] }), status: 400, code: 'INVALID_TYPE', field: 'design_data.text' },
  { name: 'text 11 lines', payload: withData({ text: Array(11).fill('line').join('\n') }), status: 400, code: 'TOO_MANY_LINES', field: 'design_data.text' },
  { name: 'text with a control character', payload: withData({ text: 'bell\u0007' }), status: 400, code: 'INVALID_TEXT', field: 'design_data.text' },
  { name: 'text only zero-width characters', payload: withData({ text: '\u200b\u200d\u2060\u00ad\ufe0f' }), status: 400, code: 'TEXT_REQUIRED', field: 'design_data.text' },
  { name: 'text 30 lines broken by U+2028', payload: withData({ text: Array(30).fill('l').join('\u2028') }), status: 400, code: 'TOO_MANY_LINES', field: 'design_data.text' },
  { name: 'text 11 lines broken by U+2029', payload: withData({ text: Array(11).fill('l').join('\u2029') }), status: 400, code: 'TOO_MANY_LINES', field: 'design_data.text' },
  { name: 'text no bundled font draws (Georgian)', payload: withData({ text: 'გამარჯობა' }), status: 400, code: 'UNSUPPORTED_CHARACTERS', field: 'design_data.text' },
  // font
  { name: 'font missing', payload: withoutData('font'), status: 400, code: 'FIELD_REQUIRED', field: 'design_data.font' },
  { name: 'font unknown', payload: withData({ font: 'Comic-Sans' }), status: 400, code: 'UNKNOWN_FONT', field: 'design_data.font' },
  { name: 'font a path', payload: withData({ font: '../../../etc/passwd' }), status: 400, code: 'UNKNOWN_FONT', field: 'design_data.font' },
  { name: 'font a number', payload: withData({ font: 1 }), status: 400, code: 'INVALID_TYPE', field: 'design_data.font' },
  // color
  { name: 'color missing', payload: withoutData('color'), status: 400, code: 'FIELD_REQUIRED', field: 'design_data.color' },
  { name: 'color "red"', payload: withData({ color: 'red' }), status: 400, code: 'INVALID_COLOR', field: 'design_data.color' },
  { name: 'color "#12"', payload: withData({ color: '#12' }), status: 400, code: 'INVALID_COLOR', field: 'design_data.color' },
  { name: 'color "#GGGGGG"', payload: withData({ color: '#GGGGGG' }), status: 400, code: 'INVALID_COLOR', field: 'design_data.color' },
  { name: 'color "123456" (no #)', payload: withData({ color: '123456' }), status: 400, code: 'INVALID_COLOR', field: 'design_data.color' },
  { name: 'color "#FF00001"', payload: withData({ color: '#FF00001' }), status: 400, code: 'INVALID_COLOR', field: 'design_data.color' },
  { name: 'color with a trailing newline', payload: withData({ color: '#FF0000\n' }), status: 400, code: 'INVALID_COLOR', field: 'design_data.color' },
  { name: 'color a number', payload: withData({ color: 0xff0000 }), status: 400, code: 'INVALID_TYPE', field: 'design_data.color' },
  // text_color
  { name: 'text_color "white"', payload: withData({ text_color: 'white' }), status: 400, code: 'INVALID_COLOR', field: 'design_data.text_color' },
  { name: 'text_color "#FFFF"', payload: withData({ text_color: '#FFFF' }), status: 400, code: 'INVALID_COLOR', field: 'design_data.text_color' },
  { name: 'text_color a number', payload: withData({ text_color: 16777215 }), status: 400, code: 'INVALID_TYPE', field: 'design_data.text_color' },
  { name: 'text_color null', payload: withData({ text_color: null }), status: 400, code: 'INVALID_TYPE', field: 'design_data.text_color' },
  // text_color the background colour: accepted with a LOW_CONTRAST warning (http-designs.test.ts)
  // fields nobody asked for (mass assignment)
  { name: 'extra top-level field owner_id', payload: { ...SAMPLE_DESIGN, owner_id: 'user-b' }, status: 400, code: 'UNKNOWN_FIELD', field: 'owner_id' },
  { name: 'extra top-level field status', payload: { ...SAMPLE_DESIGN, status: 'PUBLISHED' }, status: 400, code: 'UNKNOWN_FIELD', field: 'status' },
  { name: 'extra nested field', payload: withData({ size: 'XL' }), status: 400, code: 'UNKNOWN_FIELD', field: 'design_data.size' },
  // the body as a whole
  { name: 'body an array', payload: [SAMPLE_DESIGN], status: 400, code: 'INVALID_TYPE', field: 'body' },
  { name: 'body a string', payload: '"t-shirt"', raw: true, status: 400, code: 'INVALID_TYPE', field: 'body' },
  { name: 'body null', payload: 'null', raw: true, status: 400, code: 'INVALID_TYPE', field: 'body' },
  { name: 'body empty', payload: '', raw: true, status: 400, code: 'INVALID_TYPE', field: 'body' },
  { name: 'invalid JSON', payload: '{"product_type": "t-shirt",', raw: true, status: 400, code: 'INVALID_JSON' },
  { name: 'JSON with a trailing comma', payload: '{"product_type": "t-shirt",}', raw: true, status: 400, code: 'INVALID_JSON' },
  { name: '__proto__ key (prototype poisoning)', payload: '{"__proto__": {"admin": true}, "product_type": "t-shirt"}', raw: true, status: 400, code: 'INVALID_JSON' },
  { name: 'constructor.prototype key', payload: '{"constructor": {"prototype": {"admin": true}}}', raw: true, status: 400, code: 'INVALID_JSON' },
  { name: 'body over 64 KB', payload: withData({ text: 'x'.repeat(70_000) }), status: 413, code: 'PAYLOAD_TOO_LARGE' },
  { name: 'deeply nested array body', payload: nested(20_000), raw: true, status: 400, code: 'INVALID_TYPE', field: 'body' },
  { name: 'deeply nested text', payload: `{"product_type":"t-shirt","design_data":{"text":${nested(20_000)},"font":"Bebas-Bold","color":"#FF0000"}}`, raw: true, status: 400, code: 'INVALID_TYPE', field: 'design_data.text' },
  // content type
  { name: 'text/plain', payload: JSON.stringify(SAMPLE_DESIGN), raw: true, contentType: 'text/plain', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'form-encoded', payload: 'product_type=t-shirt', raw: true, contentType: 'application/x-www-form-urlencoded', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'multipart', payload: '--x\r\n\r\n--x--', raw: true, contentType: 'multipart/form-data; boundary=x', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'no content type', payload: JSON.stringify(SAMPLE_DESIGN), raw: true, contentType: '', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
];

describe('bad input to the designs API', () => {
  let t: TestApp;
  let headers: Record<string, string>;
  let designId: string;

  beforeAll(async () => {
    t = await createTestApp({ background: false });
    headers = await authHeaders();
    designId = (await t.createDesign()).id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(BODY_CASES)('POST /api/v1/designs: $name → $status $code', async (c) => {
    const contentType = c.contentType ?? 'application/json';
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/designs',
      headers: { ...headers, ...(contentType ? { 'content-type': contentType } : {}) },
      payload: c.raw ? (c.payload as string) : JSON.stringify(c.payload),
    });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(c.status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const { error } = res.json<{ error: { code: string; message: string; field?: string } }>();
    expect(error.code).toBe(c.code);
    expect(typeof error.message).toBe('string');
    expect(error.message.length).toBeGreaterThan(5);
    if (c.field) expect(error.field).toBe(c.field);
    expect(res.body).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('accepts the edge values right at the limits (200 emoji, 10 lines, #RGB, every font)', async () => {
    for (const patch of [{ text: '😀'.repeat(200) }, { text: Array(10).fill('l').join('\n') }, { color: '#abc', text_color: '#FFF' }]) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers, payload: withData(patch) });
      expect(res.statusCode, res.body).toBe(201);
    }
  });

  it('refused bodies created nothing', async () => {
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/designs?limit=100', headers });
    const texts = list.json<{ items: Array<{ design_data: { text: string } }> }>().items.map((d) => d.design_data.text);
    expect(texts).not.toContain('bell\u0007');
    expect(list.json().items).toHaveLength(4); // the fixture and the three edge values
  });

  const BAD_IDS: Array<[string, number, string]> = [
    ['not-a-uuid', 400, 'INVALID_DESIGN_ID'],
    ['..%2F..%2Fetc%2Fpasswd', 400, 'INVALID_DESIGN_ID'],
    ['%00', 400, 'INVALID_DESIGN_ID'],
    ['%2e%2e%2f%2e%2e', 400, 'INVALID_DESIGN_ID'],
    [`${randomUUID()}x`, 400, 'INVALID_DESIGN_ID'],
    [`${randomUUID()}%00`, 400, 'INVALID_DESIGN_ID'],
    ["1' OR '1'='1", 400, 'INVALID_DESIGN_ID'],
    ['%ZZ', 400, 'INVALID_URL'],
    ['a'.repeat(500), 414, 'URI_TOO_LONG'],
  ];

  it.each(BAD_IDS)('bad id %s in the path → %i %s on get, delete and render', async (id, status, code) => {
    for (const [method, suffix] of [['GET', ''], ['DELETE', ''], ['POST', '/render']] as const) {
      const res = await t.app.inject({ method, url: `/api/v1/designs/${id}${suffix}`, headers });
      expect(res.statusCode, `${method} ${id}${suffix}: ${res.body}`).toBe(status);
      expect(res.json().error.code).toBe(code);
      if (code === 'INVALID_DESIGN_ID') expect(res.json().error.field).toBe('id');
    }
  });

  it('an unknown but well-formed id is 404 DESIGN_NOT_FOUND', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/designs/${randomUUID()}`, headers });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('DESIGN_NOT_FOUND');
  });

  const BAD_QUERIES: Array<[string, string, string]> = [
    ['limit=0', 'INVALID_LIMIT', 'limit'],
    ['limit=101', 'INVALID_LIMIT', 'limit'],
    ['limit=-1', 'INVALID_LIMIT', 'limit'],
    ['limit=1.5', 'INVALID_LIMIT', 'limit'],
    ['limit=abc', 'INVALID_LIMIT', 'limit'],
    ['limit=', 'INVALID_LIMIT', 'limit'],
    ['limit=99999999999', 'INVALID_LIMIT', 'limit'],
    ['limit=1&limit=2', 'INVALID_LIMIT', 'limit'],
    ['cursor=not%20a%20cursor', 'INVALID_CURSOR', 'cursor'],
    ['cursor=bm9wZQ', 'INVALID_CURSOR', 'cursor'], // base64url of "nope"
    [`cursor=${Buffer.from(`1:${'x'.repeat(36)}`).toString('base64url')}`, 'INVALID_CURSOR', 'cursor'],
    [`cursor=${'A'.repeat(300)}`, 'INVALID_CURSOR', 'cursor'],
  ];

  it.each(BAD_QUERIES)('GET /api/v1/designs?%s → 400 %s', async (query, code, field) => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/designs?${query}`, headers });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toMatchObject({ code, field });
  });

  it('a forged cursor is refused with a message naming the response field, next_cursor', async () => {
    const cursor = Buffer.from(`1:${'x'.repeat(36)}`).toString('base64url');
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/designs?cursor=${cursor}`, headers });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain('next_cursor');
    expect(res.json().error.message).not.toContain('nextCursor');
  });

  it('unknown routes answer a JSON 404, not HTML', async () => {
    for (const url of ['/api/v1/nope', '/api/v2/designs', '/nope', '/static']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code, url).toBe('ROUTE_NOT_FOUND');
    }
    const method = await t.app.inject({ method: 'PUT', url: `/api/v1/designs/${designId}`, headers });
    expect(method.statusCode).toBe(405);
  });

  it('sets security headers and a request id on every answer', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { ...headers, 'x-request-id': 'trace-abc.123' } });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-request-id']).toBe('trace-abc.123');
    const bad = await t.app.inject({ method: 'GET', url: '/api/v1/designs/nope', headers: { ...headers, 'x-request-id': 'evil\u0001id' } });
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(bad.json().error.request_id).toBe(bad.headers['x-request-id']);
  });
});

describe('GET /static/* (local storage)', () => {
  let t: TestApp;
  let baseUrl: string;
  let id: string;
  let key: string;
  let png: Buffer;

  beforeAll(async () => {
    t = await createTestApp({ background: false });
    // A sentinel beside the storage root (the root is <dir>/storage): no answer may ever contain it.
    await writeFile(path.join(t.dir, 'secret.txt'), SENTINEL);
    await writeFile(path.join(t.dir, 'storage.json'), SENTINEL);
    id = randomUUID();
    key = `designs/${id}/preview.png`;
    png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#00ff00' } }).png().toBuffer();
    await t.container.storage.storage.put(key, png, { contentType: 'image/png' });
    // A link inside the root that leads out of it.
    await mkdir(path.join(t.storageRoot, 'designs', 'evil'), { recursive: true });
    await symlink(path.join(t.dir, 'secret.txt'), path.join(t.storageRoot, 'designs', 'evil', 'preview.png'));
    await symlink(t.dir, path.join(t.storageRoot, 'designs', 'up'));
    baseUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await t?.close();
  });

  const hostile = () => [
    '/static/../../etc/passwd',
    '/static/../secret.txt',
    '/static/..%2fsecret.txt',
    '/static/%2e%2e/secret.txt',
    '/static/%2e%2e/%2e%2e/etc/passwd',
    '/static/%2E%2E/%2E%2E/etc/passwd',
    '/static/designs/%2e%2e%2f..%2fsecret.txt',
    '/static/designs/%2e%2e%2f..%2fpackage.json',
    '/static/designs/..%2f..%2f..%2fsecret.txt',
    '/static/%2e%2e%5csecret.txt',
    '/static/..\\secret.txt',
    '/static/designs\\..\\..\\secret.txt',
    '/static/%5c..%5csecret.txt',
    `/static/${key}%00.txt`,
    `/static/${key}%00`,
    '/static/%00../secret.txt',
    `/static/.meta/${key}.json`,
    `/static/designs/${id}/.preview.png.meta.json`,
    `/static/%2emeta/${key}.json`,
    `/static/designs/../.meta/${key}.json`,
    '/static/designs/',
    '/static/designs',
    `/static/designs/${id}/`,
    `/static/designs/${id}`,
    '/static/',
    '/static//etc/passwd',
    '/static/%2fetc%2fpasswd',
    '/static/%2F..%2Fsecret.txt',
    '/static/designs/evil/preview.png',
    '/static/designs/up/secret.txt',
    `/static/designs/${id}/missing.png`,
    `/static/designs/${randomUUID()}/preview.png`,
    '/static/storage.json',
    '/static/..%252fsecret.txt',
  ];

  it('never reads outside the root, never shows .meta or a folder: hostile paths through app.inject', async () => {
    for (const url of hostile()) {
      const res = await t.app.inject({ method: 'GET', url });
      expect([400, 404], `${url}: ${res.statusCode}`).toContain(res.statusCode);
      expect(res.headers['content-type'], url).toMatch(/^application\/json/);
      expect(res.body, url).not.toContain(SENTINEL);
      expect(res.body, url).not.toMatch(/root:.*:0:0:/);
      expect(res.body, url).not.toContain('"name": "customify"');
      expect(res.body, url).not.toContain('contentType');
    }
  });

  it('the same paths sent raw over a socket (no client normalisation of .., \\ or NUL)', async () => {
    for (const rawPath of [...hostile(), '/static/designs/./../../secret.txt', '/static/.meta', '/static/\u0000', `/static/designs/${id}/preview.png\\`]) {
      const res = await rawRequest(baseUrl, rawPath);
      expect([400, 404], `${JSON.stringify(rawPath)}: ${res.status}`).toContain(res.status);
      expect(res.body.toString('latin1'), rawPath).not.toContain(SENTINEL);
      expect(res.body.toString('latin1'), rawPath).not.toMatch(/root:.*:0:0:/);
      const head = await rawRequest(baseUrl, rawPath, 'HEAD');
      expect([400, 404], `HEAD ${JSON.stringify(rawPath)}: ${head.status}`).toContain(head.status);
    }
  });

  it('serves a real object: 200 image/png, ETag, Last-Modified, Cache-Control, the exact bytes', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/static/${key}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-length']).toBe(String(png.length));
    expect(res.headers.etag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    expect(new Date(res.headers['last-modified'] as string).toUTCString()).toBe(res.headers['last-modified']);
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.rawPayload.equals(png)).toBe(true);

    const raw = await rawRequest(baseUrl, `/static/${key}`);
    expect(raw.status).toBe(200);
    expect(raw.body.equals(png)).toBe(true);
  });

  it('answers 304 to If-None-Match and If-Modified-Since, 200 when the validator does not match', async () => {
    const first = await t.app.inject({ method: 'GET', url: `/static/${key}` });
    const etag = first.headers.etag as string;
    const lastModified = first.headers['last-modified'] as string;

    const cases: Array<[Record<string, string>, number]> = [
      [{ 'if-none-match': etag }, 304],
      [{ 'if-none-match': etag.replace(/^W\//, '') }, 304],
      [{ 'if-none-match': `"other", ${etag}` }, 304],
      [{ 'if-none-match': '*' }, 304],
      [{ 'if-none-match': 'W/"other"' }, 200],
      [{ 'if-modified-since': lastModified }, 304],
      [{ 'if-modified-since': new Date(Date.now() + 60_000).toUTCString() }, 304],
      [{ 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }, 200],
      [{ 'if-modified-since': 'not a date' }, 200],
      // If-None-Match wins over If-Modified-Since.
      [{ 'if-none-match': 'W/"other"', 'if-modified-since': lastModified }, 200],
    ];
    for (const [headers, status] of cases) {
      const res = await t.app.inject({ method: 'GET', url: `/static/${key}`, headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(status);
      expect(res.headers.etag).toBe(etag);
      if (status === 304) expect(res.body).toBe('');
      else expect(res.rawPayload.equals(png)).toBe(true);
    }
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await t.app.inject({ method: 'HEAD', url: `/static/${key}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-length']).toBe(String(png.length));
    expect(res.headers.etag).toMatch(/^W\//);
    expect(res.body).toBe('');
    const raw = await rawRequest(baseUrl, `/static/${key}`, 'HEAD');
    expect(raw.status).toBe(200);
    expect(raw.headers['content-length']).toBe(String(png.length));
    expect(raw.body.length).toBe(0);
    const missing = await t.app.inject({ method: 'HEAD', url: `/static/designs/${randomUUID()}/preview.png` });
    expect(missing.statusCode).toBe(404);
  });

  it('is not mounted when storage is S3', async () => {
    const app = await buildApp({
      service: t.container.service,
      verifyToken: createTokenVerifier({ secret: TEST_JWT_SECRET }),
      metrics: t.container.metrics,
      health: { checks: {} },
      settings: { ...t.settings, useLocalStorage: false },
      storage: t.container.storage.storage,
    });
    try {
      const res = await app.inject({ method: 'GET', url: `/static/${key}` });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('ROUTE_NOT_FOUND');
    } finally {
      await app.close();
    }
  });
});
