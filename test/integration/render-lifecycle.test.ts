import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InProcessRenderQueue } from '../../src/jobs/in-process.queue.js';
import { sweepStaleDesigns } from '../../src/jobs/pending-sweep.js';
import { RenderFailedError } from '../../src/jobs/render-design.task.js';
import { silentLogger } from '../../src/logger.js';
import { listAll } from '../../src/storage/index.js';
import { DIALECTS, skipDialect } from '../helpers/databases.js';
import { createRenderStack, type RenderStack } from '../helpers/render-stack.js';

const policy = { maxRetries: 3, backoffMs: 40 };

async function keysOf(stack: RenderStack, designId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of listAll(stack.storage, `designs/${designId}/`)) keys.push(o.key);
  return keys;
}

describe('render task (the seed\'s render_design_preview)', () => {
  let stack: RenderStack;
  beforeEach(async () => {
    stack = await createRenderStack('sqlite');
  });
  afterEach(async () => stack.destroy());

  it('marks RENDERING, uploads preview and thumbnail, then PUBLISHED with their keys', async () => {
    const design = await stack.createDesign();
    const outcome = await stack.task(design.id, { attempt: 1, maxAttempts: 4 });
    const stored = await stack.designs.findById(design.id);
    // The seed's keys with the render's version folder: designs/{id}/{version}/preview.png (issue #13).
    const version = stored!.assetVersion!;
    expect(version).toMatch(/^[0-9a-z]{8,}[0-9a-f]{6}$/);
    const dir = `designs/${design.id}/${version}`;
    expect(outcome).toEqual({
      status: 'PUBLISHED',
      previewUrl: `http://localhost:8000/static/${dir}/preview.png`,
      thumbnailUrl: `http://localhost:8000/static/${dir}/thumbnail.png`,
    });
    expect(stored).toMatchObject({ status: 'PUBLISHED', previewKey: `${dir}/preview.png`, thumbnailKey: `${dir}/thumbnail.png`, attempts: 1, error: null });
    expect(stored!.assets.map((a) => `${a.name}.${a.format}`).sort()).toEqual(['preview.png', 'thumbnail.png']);
    expect(await keysOf(stack, design.id)).toEqual([`${dir}/preview.png`, `${dir}/thumbnail.png`]);
    const preview = await stack.storage.head(`${dir}/preview.png`);
    expect(preview).toMatchObject({ contentType: 'image/png', metadata: { design_id: design.id, type: 'preview' } });
    const { body } = await stack.storage.get(`${dir}/thumbnail.png`);
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    const meta = await sharp(Buffer.concat(chunks)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 200, 200]);
  });

  it('retries a storage that fails twice, with exponential backoff, then publishes', async () => {
    const design = await stack.createDesign();
    // Preview and thumbnail go up concurrently: fail both puts of the first two attempts.
    stack.driver.failNextPuts('STORAGE_UNAVAILABLE', 'STORAGE_UNAVAILABLE', 'STORAGE_THROTTLED', 'STORAGE_THROTTLED');
    const queue = new InProcessRenderQueue({ task: stack.task, policy, concurrency: 2, logger: silentLogger });
    await queue.start();
    await queue.enqueue(design.id);
    await queue.drain();
    await queue.close();
    const stored = await stack.designs.findById(design.id);
    expect(stored).toMatchObject({ status: 'PUBLISHED', attempts: 3, error: null });
    // Attempt starts: 1 at t0, 2 after >= 40 ms, 3 after >= 80 ms more.
    const starts = stack.driver.putTimes.filter((_, i) => i % 2 === 0);
    expect(starts).toHaveLength(3);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(policy.backoffMs - 2);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(2 * policy.backoffMs - 2);
  });

  it('fails at once, without retrying, on an error retrying cannot fix (access denied)', async () => {
    const design = await stack.createDesign();
    stack.driver.failNextPuts('STORAGE_ACCESS_DENIED', 'STORAGE_ACCESS_DENIED');
    const queue = new InProcessRenderQueue({ task: stack.task, policy, concurrency: 1, logger: silentLogger });
    await queue.start();
    await queue.enqueue(design.id);
    await queue.drain();
    await queue.close();
    const stored = await stack.designs.findById(design.id);
    expect(stored).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(stored!.error).toContain('injected STORAGE_ACCESS_DENIED');
    expect(stack.driver.putTimes).toHaveLength(2);
  });

  it('fails at once with a message naming the field when the stored design data is invalid', async () => {
    const design = await stack.createDesign({ designData: { text: 'Hi', font: 'Comic-Sans', color: '#FF0000' } });
    await expect(stack.task(design.id, { attempt: 1, maxAttempts: 4 })).rejects.toBeInstanceOf(RenderFailedError);
    const stored = await stack.designs.findById(design.id);
    expect(stored!.status).toBe('FAILED');
    expect(stored!.error).toMatch(/Unknown font "Comic-Sans".*Bebas-Bold/);
    expect(await keysOf(stack, design.id)).toEqual([]);
  });

  it('is FAILED with an actionable message when retries run out', async () => {
    const design = await stack.createDesign();
    stack.driver.failNextPuts(...Array<'STORAGE_UNAVAILABLE'>(8).fill('STORAGE_UNAVAILABLE'));
    const queue = new InProcessRenderQueue({ task: stack.task, policy: { maxRetries: 3, backoffMs: 5 }, concurrency: 1, logger: silentLogger });
    await queue.start();
    await queue.enqueue(design.id);
    await queue.drain();
    await queue.close();
    const stored = await stack.designs.findById(design.id);
    expect(stored).toMatchObject({ status: 'FAILED', attempts: 4 });
    expect(stored!.error).toMatch(/injected STORAGE_UNAVAILABLE.*gave up after 4 attempts/);
  });

  it('running the task twice publishes once and leaves one set of assets', async () => {
    const design = await stack.createDesign();
    const first = await stack.task(design.id, { attempt: 1, maxAttempts: 4 });
    const second = await stack.task(design.id, { attempt: 1, maxAttempts: 4 });
    expect(first.status).toBe('PUBLISHED');
    expect(second).toEqual({ status: 'SKIPPED', reason: 'already-published' });
    expect(await keysOf(stack, design.id)).toHaveLength(2);
  });

  it('the in-process queue runs a design once however often it is enqueued', async () => {
    const design = await stack.createDesign();
    const queue = new InProcessRenderQueue({ task: stack.task, policy, concurrency: 4, logger: silentLogger });
    await Promise.all([queue.enqueue(design.id), queue.enqueue(design.id), queue.enqueue(design.id)]);
    expect(await queue.depth()).toBe(1);
    await queue.start();
    await queue.drain();
    await queue.close();
    expect((await stack.designs.findById(design.id))!.attempts).toBe(1);
  });
});

describe('crash recovery', () => {
  let stack: RenderStack;
  beforeEach(async () => {
    stack = await createRenderStack('sqlite', { leaseMs: 200 });
  });
  afterEach(async () => stack.destroy());

  it('a design left RENDERING by a crashed worker is published after its lease, and PENDING ones at start', async () => {
    const crashed = await stack.createDesign();
    const pending = await stack.createDesign();
    // The "crashed" worker claimed the design and died before uploading anything.
    expect(await stack.designs.claimForRendering(crashed.id, 200)).not.toBeNull();
    const queue = new InProcessRenderQueue({ task: stack.task, policy, concurrency: 2, logger: silentLogger });
    await queue.start();
    const deps = { designs: stack.designs, queue, logger: silentLogger, pendingAfterMs: 30_000 };
    // What `serve` does at start: every PENDING design, and RENDERING ones whose lease ended.
    // (A millisecond ahead: the design may have been written in this very millisecond, and the cut-off is strict.)
    expect(await sweepStaleDesigns(deps, { pendingBefore: new Date(Date.now() + 1) })).toBe(1);
    await queue.drain();
    expect((await stack.designs.findById(pending.id))!.status).toBe('PUBLISHED');
    expect((await stack.designs.findById(crashed.id))!.status).toBe('RENDERING');
    // Once the lease has run out, the periodic sweep hands it to a worker.
    await new Promise((r) => setTimeout(r, 250));
    expect(await sweepStaleDesigns(deps, { pendingBefore: new Date(Date.now() + 1) })).toBe(1);
    await queue.drain();
    await queue.close();
    expect((await stack.designs.findById(crashed.id))).toMatchObject({ status: 'PUBLISHED', attempts: 2 });
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipDialect(dialect))(`two workers on one design (${dialect})`, () => {
    let stack: RenderStack;
    beforeEach(async () => {
      stack = await createRenderStack(dialect);
    });
    afterEach(async () => stack.destroy());

    it('ends in one PUBLISHED design with one set of assets', async () => {
      const design = await stack.createDesign();
      // A second worker process: its own connection pool to the same database.
      const { DesignRepository } = await import('../../src/designs/design-repository.js');
      const { createRenderDesignTask } = await import('../../src/jobs/render-design.task.js');
      const { renderRenditions } = await import('../../src/rendering/index.js');
      const otherTask = createRenderDesignTask({
        designs: new DesignRepository(stack.database.connect()),
        storage: stack.assets,
        renderAssets: (spec) => renderRenditions(spec),
        logger: silentLogger,
        leaseMs: 30_000,
      });
      const outcomes = await Promise.all([
        stack.task(design.id, { attempt: 1, maxAttempts: 4 }),
        otherTask(design.id, { attempt: 1, maxAttempts: 4 }),
      ]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(['PUBLISHED', 'SKIPPED']);
      expect(outcomes.find((o) => o.status === 'SKIPPED')).toMatchObject({ reason: expect.stringMatching(/busy|already-published/) as unknown });
      expect(await stack.designs.findById(design.id)).toMatchObject({ status: 'PUBLISHED', attempts: 1 });
      expect(await keysOf(stack, design.id)).toHaveLength(2);
    });
  });
}


describe('a design deleted while it renders', () => {
  let stack: RenderStack;
  beforeEach(async () => {
    stack = await createRenderStack('sqlite');
  });
  afterEach(async () => stack.destroy());

  it('leaves no files behind', async () => {
    const design = await stack.createDesign();
    const { createRenderDesignTask } = await import('../../src/jobs/render-design.task.js');
    const { renderRenditions } = await import('../../src/rendering/index.js');
    const { DesignDeletion } = await import('../../src/designs/design-deletion.js');
    const deletion = new DesignDeletion({ designs: stack.designs, storage: stack.assets, logger: silentLogger });
    let deleting: Promise<boolean> | undefined;
    // The API's delete lands between the worker's claim and its uploads; it waits for the render.
    const task = createRenderDesignTask({
      designs: stack.designs,
      storage: stack.assets,
      renderAssets: async (spec) => {
        const assets = await renderRenditions(spec);
        deleting = deletion.delete(design.id, design.ownerId);
        while (await stack.designs.findById(design.id)) await new Promise((r) => setTimeout(r, 2));
        return assets;
      },
      logger: silentLogger,
      leaseMs: 30_000,
    });
    expect(await task(design.id, { attempt: 1, maxAttempts: 4 })).toEqual({ status: 'SKIPPED', reason: 'missing' });
    expect(await deleting).toBe(true);
    expect(await keysOf(stack, design.id)).toEqual([]);
  });
});
