import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_DESIGN, startTestServer, tokenFor, type TestServer } from '../helpers/app.js';

// Renders run in the same process as the API in the embedded default (on its main thread, or
// on render threads with RENDER_THREADS): the API must keep answering while a backlog of
// renders is being worked through, and the backlog must get done.
describe.each(['0', '2'])('the API while renders run (embedded, RENDER_THREADS=%s)', (threads) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ RENDER_CONCURRENCY: '2', RENDER_THREADS: threads });
  });
  afterAll(async () => server?.stop());

  it('answers health checks and reads while a backlog of renders is in progress', async () => {
    const headers = { authorization: `Bearer ${await tokenFor('busy-user')}`, 'content-type': 'application/json' };
    // Long texts: the slowest renders (wrapping, shrinking, the largest text band to encode).
    const body = JSON.stringify({ ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text: 'W'.repeat(60) + ' ' + 'lorem ipsum '.repeat(11) } });
    // The backlog goes in through the service (no HTTP), so it is large when the requests below start.
    const design = JSON.parse(body) as unknown;
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push((await server.container.service.create('busy-user', design)).id);
    expect(await server.container.queue.depth()).toBeGreaterThan(100);
    const answered: number[] = [];
    for (let i = 0; i < 20; i++) {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const read = await fetch(`${server.url}/api/v1/designs/${ids[i]}`, { headers });
      expect(read.status).toBe(200);
      answered.push(i);
    }
    // Every request above was answered while renders were still waiting or running.
    const depth = await server.container.queue.depth();
    const statuses = await Promise.all(ids.map(async (id) => (await server.container.designs.findById(id))!.status));
    expect(answered).toHaveLength(20);
    expect(depth + statuses.filter((s) => s !== 'PUBLISHED').length).toBeGreaterThan(0);
    // And the backlog is worked through: every design PUBLISHED, its preview a PNG.
    let unpublished = ids;
    for (let tries = 0; unpublished.length > 0 && tries < 600; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const rows = await Promise.all(unpublished.map(async (id) => [id, (await server.container.designs.findById(id))!.status] as const));
      expect(rows.filter(([, status]) => status === 'FAILED')).toEqual([]);
      unpublished = rows.filter(([, status]) => status !== 'PUBLISHED').map(([id]) => id);
    }
    expect(unpublished).toEqual([]);
    const view = await (await fetch(`${server.url}/api/v1/designs/${ids[299]}`, { headers })).json() as { preview_url: string };
    const png = Buffer.from(await (await fetch(view.preview_url)).arrayBuffer());
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  }, 120_000);
});
