import { readdirSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestServer, TEST_JWT_SECRET, tokenFor } from '../helpers/app.js';
import { freePort, spawnCustomify, waitFor } from '../helpers/services.js';
import { openSse } from '../helpers/sse.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * F. Event-stream clients that misbehave (RELIABILITY.md, F1 and F2): one that never reads
 * while events keep coming, and 1,000 that connect and vanish. Nothing is timed; what is
 * asserted is what the server holds afterwards (connections, memory, file descriptors).
 */

const MB = 1024 * 1024;

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text)?.[1];
  if (value === undefined) throw new Error(`${name} not in /metrics`);
  return Number(value);
}

describe('F1. an SSE client that never reads', () => {
  it('is dropped once SSE_MAX_BUFFERED_BYTES wait unsent; memory stays bounded; a reading client of the same user gets every event', async () => {
    const server = await startTestServer({ SSE_MAX_BUFFERED_BYTES: String(256 * 1024), EVENT_REPLAY_WINDOW: '10' });
    let stalled: Socket | undefined;
    try {
      const token = await tokenFor('stalled-user');
      const { hostname, port } = new URL(server.url);
      // A raw socket that sends the request and then reads nothing: the kernel's buffers fill, then Node's.
      stalled = connect({ host: hostname, port: Number(port) });
      stalled.on('error', () => undefined);
      await new Promise<void>((resolve) => stalled!.once('connect', resolve));
      stalled.pause();
      stalled.write(`GET /api/v1/events HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      const reader = await openSse(`${server.url}/api/v1/events`, token);
      await waitFor('both streams open', async () => (await metric(server.url, 'customify_sse_connections')) === 2, 10_000);

      const before = process.memoryUsage().rss;
      let peak = before;
      const pad = 'x'.repeat(64 * 1024);
      let published = 0;
      // 64 KB events until the stalled stream is dropped: at most 1,000 (64 MB), far past any socket buffer.
      while (published < 1000 && (await metric(server.url, 'customify_sse_connections')) === 2) {
        for (let i = 0; i < 10; i++, published++) {
          await server.container.events.bus.publish({ type: 'design.queued', ownerId: 'stalled-user', subject: `s-${published}`, data: { n: published, pad } });
          // The reader keeps up (as a browser would), so only the stalled stream holds bytes.
          const n = published;
          await reader.next((e) => e.data.n === n, { from: n });
        }
        peak = Math.max(peak, process.memoryUsage().rss);
      }
      expect(await metric(server.url, 'customify_sse_connections'), `still open after ${published} events of 64 KB`).toBe(1);
      // Every event reached the client that reads, in order, none dropped with the stalled one.
      await reader.next((e) => e.data.n === published - 1);
      // (The stream's first event is `ready`, with the id to resume from; then the published ones.)
      expect(reader.events[0]?.event).toBe('ready');
      expect(reader.events.slice(1).map((e) => e.data.n as number)).toEqual(Array.from({ length: published }, (_, i) => i));
      expect(peak - before, 'memory grew while the stalled client was fed').toBeLessThan(100 * MB);
      console.log(`[F1] stalled stream dropped after ${published} events (${(published * 64) / 1024} MB sent); RSS growth at peak ${((peak - before) / MB).toFixed(1)} MB`);
      reader.close();
      await waitFor('no stream open', async () => (await metric(server.url, 'customify_sse_connections')) === 0, 10_000);
    } finally {
      stalled?.destroy();
      await server.stop();
    }
  });
});

describe('F2. 1,000 SSE connections opened and dropped', () => {
  it('the open-stream gauge returns to 0, file descriptors to the baseline, RSS near it; 1,000 idle streams cost under 100 MB', { timeout: 240_000 }, async () => {
    const dir = await createTempDir('sse-drop');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const serve = spawnCustomify(['serve'], {
      DATABASE_URL: `sqlite:${path.join(dir, 'db.sqlite')}`, LOCAL_STORAGE_PATH: path.join(dir, 'storage'), DATA_DIR: path.join(dir, 'data'),
      JWT_SECRET: TEST_JWT_SECRET, HOST: '127.0.0.1', PORT: String(port), PUBLIC_BASE_URL: url, LOG_LEVEL: 'warn',
    });
    const clients: ClientRequest[] = [];
    try {
      await waitFor('serve to answer', async () => (await fetch(`${url}/healthz`)).ok, 60_000, 100);
      const token = await tokenFor('many');
      const fds = () => readdirSync(`/proc/${serve.pid}/fd`).length;
      const openMany = async (count: number) => {
        for (let start = 0; start < count; start += 100) {
          await Promise.all(Array.from({ length: Math.min(100, count - start) }, () => new Promise<void>((resolve, reject) => {
            const req = request(`${url}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, agent: false });
            req.on('error', () => undefined); // destroyed below
            req.once('response', (res) => {
              if (res.statusCode !== 200) reject(new Error(`answered ${res.statusCode}`));
              res.on('data', () => undefined);
              resolve();
            });
            req.end();
            clients.push(req);
          })));
        }
      };
      const dropAll = async () => {
        for (const req of clients.splice(0)) req.destroy();
        await waitFor('every stream closed', async () => (await metric(url, 'customify_sse_connections')) === 0, 60_000, 100);
      };
      // A warm-up round, so the baseline includes what the first connections allocate once.
      await openMany(100);
      await dropAll();
      const baseline = { rss: await metric(url, 'customify_process_resident_memory_bytes'), fds: fds() };

      const rounds = [];
      for (let round = 0; round < 2; round++) {
        await openMany(1000);
        expect(await metric(url, 'customify_sse_connections')).toBe(1000);
        const open = await metric(url, 'customify_process_resident_memory_bytes');
        await dropAll();
        await waitFor('file descriptors back to the baseline', () => fds() <= baseline.fds, 30_000, 100);
        const after = await metric(url, 'customify_process_resident_memory_bytes');
        rounds.push({ open, after });
        expect(open - baseline.rss, '1,000 idle streams').toBeLessThan(100 * MB);
        expect(after - baseline.rss, 'RSS after the drop').toBeLessThan(50 * MB);
      }
      // A second round of 1,000 leaves no more behind than the first did.
      expect(rounds[1]!.after - rounds[0]!.after).toBeLessThan(20 * MB);
      console.log(`[F2] baseline RSS ${(baseline.rss / MB).toFixed(1)} MB, ${baseline.fds} fds; ` +
        rounds.map((r, i) => `round ${i + 1}: 1,000 open ${(r.open / MB).toFixed(1)} MB, after drop ${(r.after / MB).toFixed(1)} MB`).join('; '));
    } finally {
      for (const req of clients) req.destroy();
      await serve.stop();
      await removeTempDir(dir);
    }
  });
});
