import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_DESIGN, authHeaders, startTestServer, tokenFor, type TestServer } from '../helpers/app.js';

/**
 * UPLOAD_TIMEOUT: a client whose one upload request (POST /api/v1/uploads, a tus PATCH) is still
 * sending after it is cut with 408 UPLOAD_TIMEOUT in the API's error shape and the connection
 * closed; a direct upload's staged bytes are removed, a tus upload keeps what arrived and
 * resumes. Other requests stay held to REQUEST_TIMEOUT. Short limits keep the suite quick;
 * nothing is asserted about how long anything took.
 */

interface Answer { status: number; headers: string; body: unknown; sent: number }

/** Sends `head`, then one byte of `body` every 50 ms until the server answers and closes. */
function trickle(url: string, head: string, body: Buffer): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let received = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      const split = received.indexOf('\r\n\r\n');
      const text = received.slice(split + 4);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0), headers: received.slice(0, split).toLowerCase(), body: text ? JSON.parse(text) : undefined, sent });
    });
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (sent >= body.length) {
          clearInterval(timer);
          reject(new Error('the whole slow body was sent and the server never cut it'));
          return;
        }
        if (!socket.destroyed) socket.write(body.subarray(sent, sent + 1));
        sent += 1;
      }, 50);
    });
  });
}

describe('UPLOAD_TIMEOUT and REQUEST_TIMEOUT', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ UPLOAD_TIMEOUT: '1500ms', REQUEST_TIMEOUT: '1s' });
    token = await tokenFor('user-a');
  });
  afterAll(async () => server?.stop());

  const staged = async () => (await server.container.storage.storage.list('staging/')).objects.map((o) => o.key);

  it('POST /api/v1/uploads trickled past UPLOAD_TIMEOUT: 408 UPLOAD_TIMEOUT, connection closed, nothing left in staging', async () => {
    const body = Buffer.alloc(2000, 1);
    const answer = await trickle(server.url, `POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: image/jpeg\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    expect(answer.status).toBe(408);
    expect(answer.body).toMatchObject({ error: { code: 'UPLOAD_TIMEOUT', field: 'file', message: expect.stringContaining('UPLOAD_TIMEOUT') as unknown } });
    expect(answer.headers).toContain('connection: close');
    expect(answer.sent).toBeLessThan(body.length);
    expect(await staged()).toEqual([]);
    expect((await server.container.uploads.listByOwner('user-a', {})).items).toEqual([]);
  });

  it('a tus PATCH trickled past UPLOAD_TIMEOUT: 408 UPLOAD_TIMEOUT; what arrived is kept and the upload resumes from it', async () => {
    const headers = { ...(await authHeaders('user-a')), 'tus-resumable': '1.0.0' };
    const created = await fetch(`${server.url}/api/v1/uploads/tus`, { method: 'POST', headers: { ...headers, 'upload-length': '2000' } });
    expect(created.status).toBe(201);
    const path = created.headers.get('location')!;
    const body = Buffer.alloc(2000, 2);
    const answer = await trickle(server.url, `PATCH ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    expect(answer.status).toBe(408);
    expect(answer.body).toMatchObject({ error: { code: 'UPLOAD_TIMEOUT' } });
    expect(answer.headers).toContain('tus-resumable: 1.0.0');
    const head = await fetch(`${server.url}${path}`, { method: 'HEAD', headers });
    const kept = Number(head.headers.get('upload-offset'));
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(answer.sent);
    const rest = await fetch(`${server.url}${path}`, { method: 'PATCH', headers: { ...headers, 'upload-offset': String(kept), 'content-type': 'application/offset+octet-stream' }, body: body.subarray(kept) });
    expect(rest.status).toBe(204);
    expect(rest.headers.get('x-upload-id')).toBe(path.split('/').pop());
  });

  it('a design body trickled past REQUEST_TIMEOUT (shorter than UPLOAD_TIMEOUT) is still cut: 408 REQUEST_TIMEOUT', async () => {
    const body = Buffer.from(JSON.stringify(SAMPLE_DESIGN).padEnd(400, ' '));
    const answer = await trickle(server.url, `POST /api/v1/designs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    expect(answer.status).toBe(408);
    expect(answer.body).toMatchObject({ error: { code: 'REQUEST_TIMEOUT' } });
    expect(answer.headers).toContain('connection: close');
  });
});

describe('UPLOAD_EXPIRY', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ UPLOAD_EXPIRY: '1s' });
  });
  afterAll(async () => server?.stop());

  it('an unfinished tus upload past UPLOAD_EXPIRY answers 410 UPLOAD_EXPIRED to HEAD and PATCH', async () => {
    const headers = { ...(await authHeaders('user-a')), 'tus-resumable': '1.0.0' };
    const created = await fetch(`${server.url}/api/v1/uploads/tus`, { method: 'POST', headers: { ...headers, 'upload-length': '100' } });
    expect(created.status).toBe(201);
    const url = new URL(created.headers.get('location')!, server.url).href;
    expect((await fetch(url, { method: 'HEAD', headers })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const late = await fetch(url, { method: 'PATCH', headers: { ...headers, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: Buffer.alloc(10) });
    expect(late.status).toBe(410);
    expect(await late.json()).toMatchObject({ error: { code: 'UPLOAD_EXPIRED' } });
    expect((await fetch(url, { method: 'HEAD', headers })).status).toBe(410);
  });
});
