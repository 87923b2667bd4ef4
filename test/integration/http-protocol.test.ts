import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authHeaders, createTestApp, SAMPLE_DESIGN, startTestServer, tokenFor, type TestApp, type TestServer } from '../helpers/app.js';

/**
 * HTTP itself: wrong methods (405 with Allow), requests Node's parser refuses (400, 431),
 * Fastify's own limits (413, 414), headers that must appear once, and bodies that are not
 * UTF-8. Every refusal uses the API's error shape `{ error: { code, message } }`.
 */

/** Writes `data` to a fresh connection and returns everything the server sends before closing. */
function rawExchange(url: string, data: string | Buffer): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    socket.on('connect', () => socket.write(data));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('utf8');
      const split = all.indexOf('\r\n\r\n');
      const lines = all.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0), headers, body: all.slice(split + 4) });
    });
  });
}

describe('wrong methods', () => {
  let t: TestApp;
  let id: string;
  beforeAll(async () => {
    t = await createTestApp();
    id = (await t.createDesign()).id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ['PUT', '/api/v1/designs/{id}', 'GET, HEAD, PATCH, DELETE'],
    ['DELETE', '/api/v1/designs', 'GET, HEAD, POST'],
    ['GET', '/api/v1/designs/{id}/render', 'POST'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['DELETE', '/static/designs/x/preview.png', 'GET, HEAD'],
  ])('%s %s answers 405 with Allow: %s', async (method, url, allow) => {
    const res = await t.app.inject({ method: method as 'PUT', url: url.replace('{id}', id), headers: await authHeaders() });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.json()).toEqual({ error: { code: 'METHOD_NOT_ALLOWED', message: expect.stringContaining(allow) as unknown, request_id: expect.any(String) as unknown } });
  });

  it('a path no method has is still 404', async () => {
    const res = await t.app.inject({ method: 'PUT', url: '/api/v1/nothing-here' });
    expect(res.statusCode).toBe(404);
    expect(res.headers.allow).toBeUndefined();
    expect(res.json().error.code).toBe('ROUTE_NOT_FOUND');
  });
});

describe('bodies that are not UTF-8', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ background: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ['a lone continuation byte', Buffer.from([0x80])],
    ['a truncated two-byte sequence', Buffer.from([0xc3])],
    ['an overlong encoding of "/"', Buffer.from([0xc0, 0xaf])],
    ['a UTF-16 surrogate encoded in UTF-8', Buffer.from([0xed, 0xa0, 0x80])],
    ['Latin-1 é', Buffer.from([0xe9])],
  ])('text containing %s is refused with 400 INVALID_UTF8, not stored as U+FFFD', async (_name, bad) => {
    const json = JSON.stringify(SAMPLE_DESIGN);
    const at = json.indexOf('Test Design') + 4;
    const payload = Buffer.concat([Buffer.from(json.slice(0, at)), bad, Buffer.from(json.slice(at))]);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers: { ...(await authHeaders()), 'content-type': 'application/json' }, payload });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'INVALID_UTF8', field: 'body', message: expect.stringContaining(`offset ${at}`) as unknown });
  });

  it('valid UTF-8 (accents, CJK, emoji) is still accepted', async () => {
    const body = { ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text: 'Café ☕ 你好 😀' } };
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers: await authHeaders(), payload: body });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().design_data.text).toBe('Café ☕ 你好 😀');
  });
});

describe('over real sockets', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await tokenFor('user-a');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('two Authorization headers are refused with 400 DUPLICATE_HEADER, whichever is valid', async () => {
    for (const [first, second] of [[`Bearer ${token}`, 'Bearer not-a-token'], ['Bearer not-a-token', `Bearer ${token}`], [`Bearer ${token}`, `Bearer ${token}`]]) {
      const res = await rawExchange(server.url, `GET /api/v1/designs HTTP/1.1\r\nHost: x\r\nAuthorization: ${first}\r\nauthorization: ${second}\r\nConnection: close\r\n\r\n`);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error).toMatchObject({ code: 'DUPLICATE_HEADER', field: 'authorization' });
      expect(res.headers['x-frame-options']).toBe('DENY'); // refused by a hook, still with the security headers
    }
    const one = await rawExchange(server.url, `GET /api/v1/designs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    expect(one.status).toBe(200);
  });

  it('two Content-Type headers are refused with 400 DUPLICATE_HEADER', async () => {
    const body = JSON.stringify(SAMPLE_DESIGN);
    const res = await rawExchange(
      server.url,
      `POST /api/v1/designs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toMatchObject({ code: 'DUPLICATE_HEADER', field: 'content-type' });
  });

  // What Node's HTTP parser refuses never reaches a route: the answer is written on the socket.
  it.each([
    ['a header name with a space', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', 400, 'BAD_REQUEST'],
    ['a control character in a header value', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n', 400, 'BAD_REQUEST'],
    ['two different Content-Lengths', 'POST /api/v1/designs HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400, 'BAD_REQUEST'],
    ['Content-Length with Transfer-Encoding', 'POST /api/v1/designs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'BAD_REQUEST'],
    ['a bad chunk size', 'POST /api/v1/designs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'BAD_REQUEST'],
    ['garbage instead of a request line', 'HELLO\r\n\r\n', 400, 'BAD_REQUEST'],
    ['a space in the URL', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'BAD_REQUEST'],
    ['32 KB of headers', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(32 * 1024)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['a 20 KB URL', `GET /${'a'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
  ])('%s: %#', async (_name, request, status, code) => {
    const res = await rawExchange(server.url, request);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(res.body)).toEqual({ error: { code, message: expect.any(String) as unknown } });
  });

  it('Fastify\'s own limits answer in the same shape: 413, 414, 415', async () => {
    const big = JSON.stringify({ ...SAMPLE_DESIGN, pad: 'x'.repeat(70 * 1024) });
    const tooLarge = await rawExchange(
      server.url,
      `POST /api/v1/designs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n${big}`,
    );
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body).error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) as unknown });
    const longParam = await rawExchange(server.url, `GET /api/v1/designs/${'a'.repeat(200)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    expect(longParam.status).toBe(414);
    expect(JSON.parse(longParam.body).error).toMatchObject({ code: 'URI_TOO_LONG' });
    const wrongType = await rawExchange(server.url, `POST /api/v1/designs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`);
    expect(wrongType.status).toBe(415);
    expect(JSON.parse(wrongType.body).error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('keeps serving after all of that', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
  });
});
