import { connect } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authHeaders, createTestApp, type TestApp } from '../helpers/app.js';

interface LogLine {
  level: number;
  msg: string;
  request_id?: string;
  method?: string;
  url?: string;
  statusCode?: number;
  responseTime?: number;
  code?: string;
  err?: { message: string; stack: string };
}

const INFO = 30;
const ERROR = 50;

/** What operators read: one access line per request carrying the request id, errors with their cause. */
describe('request logs', () => {
  let t: TestApp;
  let lines: LogLine[];

  beforeEach(async () => {
    lines = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
    t = await createTestApp({ background: false, logger });
  });
  afterEach(async () => {
    await t?.close();
  });

  const linesOf = (requestId: string) => lines.filter((line) => line.request_id === requestId);

  it('a successful request is one "request completed" line with its request id, method, URL, status and time', async () => {
    const created = await t.createDesign();
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/designs/${created.id}`, headers: { ...(await authHeaders()), 'x-request-id': 'trace-read-1' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('trace-read-1');
    const logged = linesOf('trace-read-1');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: INFO, msg: 'request completed', method: 'GET', url: `/api/v1/designs/${created.id}`, statusCode: 200 });
    expect(logged[0]!.responseTime).toBeGreaterThanOrEqual(0);
    expect(lines.some((line) => line.msg === 'incoming request')).toBe(false);
  });

  it('a refused request logs why at info, then its access line', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: { 'x-request-id': 'trace-401' } });
    expect(res.statusCode).toBe(401);
    const logged = linesOf('trace-401');
    expect(logged.map((line) => [line.level, line.msg, line.code ?? line.statusCode])).toEqual([
      [INFO, expect.stringMatching(/^Request refused with 401/), 'UNAUTHORIZED'],
      [INFO, 'request completed', 401],
    ]);
  });

  it('a 5xx is logged at error with its cause and request id, though the answer hides them', async () => {
    await t.container.db.destroy();
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: await authHeaders() });
    expect(res.statusCode).toBe(500);
    const requestId = res.headers['x-request-id'] as string;
    expect(res.json().error.request_id).toBe(requestId);
    const logged = linesOf(requestId);
    const failure = logged.find((line) => line.level === ERROR);
    expect(failure).toMatchObject({ msg: 'Request failed with 500', code: 'INTERNAL_ERROR' });
    expect(failure!.err!.message).toMatch(/listing designs/);
    expect(logged.at(-1)).toMatchObject({ level: INFO, msg: 'request completed', statusCode: 500 });
  });

  it('a request the client abandons mid-body still leaves a line with its request id', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as { port: number };
    const auth = (await authHeaders()).authorization!;
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`POST /api/v1/designs HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: 500\r\nX-Request-Id: trace-abort\r\n\r\n{"product_type":`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await expect.poll(() => linesOf('trace-abort').map((line) => [line.level, line.msg, line.method, line.url]), { timeout: 5000 })
      .toContainEqual([INFO, 'request aborted by the client', 'POST', '/api/v1/designs']);
  });
});
