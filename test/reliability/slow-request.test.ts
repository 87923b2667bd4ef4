import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_DESIGN, startTestServer, tokenFor, type TestServer } from '../helpers/app.js';

/**
 * Slow clients (slowloris): a body trickled one byte at a time, headers that never end, a
 * connection that never says anything. Each must be answered 408 in the API's error shape (or
 * simply closed when nothing was asked yet) once REQUEST_TIMEOUT has passed, while the server
 * keeps answering everyone else. REQUEST_TIMEOUT is made small here so the suite is quick;
 * nothing is asserted about how long anything took, only about what came back.
 */

interface SlowResult {
  /** Everything the server sent before closing. */
  received: string;
  /** Bytes we managed to send before the server closed on us. */
  sent: number;
}

/** Opens a socket, writes `head`, then one byte of `trickle` every `everyMs` until the server closes. */
function slowClient(url: string, head: string, trickle: string, everyMs: number): Promise<SlowResult> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: hostname, port: Number(port) });
    let received = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    socket.on('error', () => undefined); // a reset after the answer is a close too
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ received, sent });
    });
    socket.on('connect', () => {
      if (head) socket.write(head);
      if (!trickle) return;
      timer = setInterval(() => {
        if (sent >= trickle.length || socket.destroyed) {
          clearInterval(timer);
          if (sent >= trickle.length) reject(new Error('the whole slow request was sent and the server never timed it out'));
          return;
        }
        socket.write(trickle[sent]!);
        sent += 1;
      }, everyMs);
    });
  });
}

function parseAnswer(received: string): { status: number; body: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
  const body = received.slice(received.indexOf('\r\n\r\n') + 4);
  return { status, body: body ? JSON.parse(body) : undefined };
}

describe('slow requests time out', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({ REQUEST_TIMEOUT: '1s' });
    token = await tokenFor('slow-user');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a body trickled one byte at a time gets 408 REQUEST_TIMEOUT and the connection closes', async () => {
    const body = JSON.stringify(SAMPLE_DESIGN).padEnd(100, ' ');
    const head =
      'POST /api/v1/designs HTTP/1.1\r\nHost: x\r\n' +
      `Authorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    // 100 bytes at one every 200 ms would take 20 s; the limit is 1 s.
    const result = await slowClient(server.url, head, body, 200);
    expect(result.sent).toBeLessThan(body.length);
    const answer = parseAnswer(result.received);
    expect(answer.status).toBe(408);
    // Cut by the route's body timer (Node's own timeout is only a backstop past UPLOAD_TIMEOUT), so the answer has its request id.
    expect(answer.body).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: expect.stringContaining('did not arrive') as unknown, request_id: expect.any(String) as unknown } });
  });

  it('headers that never end get 408 and the connection closes', async () => {
    const headers = 'GET /healthz HTTP/1.1\r\nHost: x\r\n' + 'X-Slow: a\r\n'.repeat(200);
    const result = await slowClient(server.url, '', headers, 50);
    expect(result.sent).toBeLessThan(headers.length);
    const answer = parseAnswer(result.received);
    expect(answer.status).toBe(408);
    expect(answer.body).toMatchObject({ error: { code: 'REQUEST_TIMEOUT' } });
  });

  it('a connection that sends nothing is closed', async () => {
    const result = await slowClient(server.url, '', '', 0);
    // Nothing was asked, so any answer is the 408 or nothing at all.
    if (result.received) expect(parseAnswer(result.received).status).toBe(408);
  });

  it('serves normal requests while slow clients hold connections, and after they are gone', async () => {
    const body = JSON.stringify(SAMPLE_DESIGN).padEnd(100, ' ');
    const head =
      'POST /api/v1/designs HTTP/1.1\r\nHost: x\r\n' +
      `Authorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    const slow = Array.from({ length: 20 }, () => slowClient(server.url, head, body, 200));
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const during = await fetch(`${server.url}/api/v1/designs`, { method: 'POST', headers, body: JSON.stringify(SAMPLE_DESIGN) });
    expect(during.status).toBe(201);
    const results = await Promise.all(slow);
    for (const result of results) expect(parseAnswer(result.received).status).toBe(408);
    const after = await fetch(`${server.url}/api/v1/designs`, { headers });
    expect(after.status).toBe(200);
  });
});
