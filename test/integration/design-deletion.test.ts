import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/cli/cleanup.js';
import { DesignDeletion } from '../../src/designs/design-deletion.js';
import { sweepStaleDesigns } from '../../src/jobs/pending-sweep.js';
import { createRenderDesignTask } from '../../src/jobs/render-design.task.js';
import { silentLogger } from '../../src/logger.js';
import { renderRenditions } from '../../src/rendering/index.js';
import { listAll } from '../../src/storage/index.js';
import { DIALECTS, skipDialect } from '../helpers/databases.js';
import { createRenderStack, type RenderStack } from '../helpers/render-stack.js';

/**
 * The deletion protocol (src/designs/design-deletion.ts) against a real database of each
 * dialect and real local storage: tombstone, wait for the render's lease, remove files, remove
 * the row; and the render's side of it (a render that finds its design deleted removes what
 * it wrote, ends its lease, and says so at info level).
 */

interface LogEntry { level: number; msg: string }

function capturingLogger(entries: LogEntry[]): Logger {
  return pino({ level: 'debug' }, { write: (line: string) => void entries.push(JSON.parse(line) as LogEntry) });
}

async function keysOf(stack: RenderStack, designId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of listAll(stack.storage, `designs/${designId}/`)) keys.push(o.key);
  return keys;
}

async function rowCount(stack: RenderStack, designId: string): Promise<number> {
  return (await stack.database.db.selectFrom('designs').select('id').where('id', '=', designId).execute()).length;
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipDialect(dialect))(`deleting a design while it renders (${dialect})`, () => {
    let stack: RenderStack;
    let deletion: DesignDeletion;
    beforeEach(async () => {
      stack = await createRenderStack(dialect);
      deletion = new DesignDeletion({ designs: stack.designs, storage: stack.assets, logger: silentLogger });
    });
    afterEach(async () => stack.destroy());

    it('a DELETE that lands mid-render waits for the render; when it returns nothing is stored and the row is gone', async () => {
      const design = await stack.createDesign();
      await stack.task(design.id, { attempt: 1, maxAttempts: 4 }); // published: old files exist
      await stack.designs.requestRerender(design.id, design.ownerId);
      let deleting: Promise<boolean> | undefined;
      let deleteAnswered = false;
      const task = createRenderDesignTask({
        designs: stack.designs,
        storage: stack.assets,
        renderAssets: async (spec) => {
          const assets = await renderRenditions(spec);
          deleting = deletion.delete(design.id, design.ownerId).finally(() => {
            deleteAnswered = true;
          });
          // Once the tombstone is written the API already answers 404 ...
          while (await stack.designs.findByIdForOwner(design.id, design.ownerId)) await new Promise((r) => setTimeout(r, 2));
          await new Promise((r) => setTimeout(r, 30));
          // ... but the DELETE itself waits: this render still holds its lease and is about to upload.
          expect(deleteAnswered).toBe(false);
          return assets;
        },
        logger: silentLogger,
        leaseMs: 30_000,
      });
      expect(await task(design.id, { attempt: 1, maxAttempts: 4 })).toEqual({ status: 'SKIPPED', reason: 'missing' });
      expect(await deleting).toBe(true);
      expect(await keysOf(stack, design.id)).toEqual([]);
      expect(await rowCount(stack, design.id)).toBe(0);
    });

    it('a DELETE of a design no render holds does not wait, and a render queued before it then skips', async () => {
      const design = await stack.createDesign();
      expect(await deletion.delete(design.id, 'someone-else')).toBe(false);
      expect(await deletion.delete(design.id, design.ownerId)).toBe(true);
      expect(await stack.task(design.id, { attempt: 1, maxAttempts: 4 })).toEqual({ status: 'SKIPPED', reason: 'missing' });
      expect(await keysOf(stack, design.id)).toEqual([]);
      expect(await deletion.delete(design.id, design.ownerId)).toBe(false);
    });

    it('a render that outlived its lease finds its design gone: no resurrection, its files removed, logged at info', async () => {
      const entries: LogEntry[] = [];
      const design = await stack.createDesign();
      const task = createRenderDesignTask({
        designs: stack.designs,
        storage: stack.assets,
        renderAssets: async (spec) => {
          const assets = await renderRenditions(spec);
          // The lease (1 ms) has run out, so the DELETE does not wait for this render.
          expect(await deletion.delete(design.id, design.ownerId)).toBe(true);
          return assets;
        },
        logger: capturingLogger(entries),
        leaseMs: 1,
      });
      expect(await task(design.id, { attempt: 1, maxAttempts: 4 })).toEqual({ status: 'SKIPPED', reason: 'missing' });
      expect(await rowCount(stack, design.id)).toBe(0);
      expect(await keysOf(stack, design.id)).toEqual([]);
      expect(entries.filter((e) => e.level >= 40)).toEqual([]);
      expect(entries.map((e) => e.msg)).toContainEqual(expect.stringMatching(/^Design deleted while rendering: render abandoned, its files removed$/));
    });

    // Issue 9.12: losing the race with DELETE is not a failure, whatever the render met on the way.
    for (const code of ['STORAGE_OBJECT_NOT_FOUND', 'STORAGE_UNAVAILABLE'] as const) {
      it(`a render whose upload fails (${code}) because its design was deleted logs at info, not error`, async () => {
        const entries: LogEntry[] = [];
        const design = await stack.createDesign();
        const task = createRenderDesignTask({
          designs: stack.designs,
          storage: stack.assets,
          renderAssets: async (spec) => {
            const assets = await renderRenditions(spec);
            // A DELETE that did not wait (the row removed outright, as one that ran past the
            // render's lease does), and uploads that then fail as a vanished folder makes them.
            await stack.database.db.deleteFrom('designs').where('id', '=', design.id).execute();
            stack.driver.failNextPuts(code, code);
            return assets;
          },
          logger: capturingLogger(entries),
          leaseMs: 30_000,
        });
        expect(await task(design.id, { attempt: 1, maxAttempts: 4 })).toEqual({ status: 'SKIPPED', reason: 'missing' });
        expect(entries.filter((e) => e.level >= 40).map((e) => e.msg)).toEqual([]);
        expect(entries.filter((e) => e.level === 30).map((e) => e.msg)).toContainEqual(
          expect.stringMatching(new RegExp(`^Design deleted while rendering: render abandoned, its files removed \\(on the way it met: .*injected ${code}`)),
        );
        expect(await rowCount(stack, design.id)).toBe(0);
      });
    }

    it('a render whose one upload fails keeps its lease until the other upload has finished writing', async () => {
      const design = await stack.createDesign();
      let open!: () => void;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const put = stack.driver.put.bind(stack.driver);
      // The preview's put fails at once (injected); the thumbnail's is still writing until the gate opens.
      stack.driver.put = async (...args) => {
        if (args[0].endsWith('thumbnail.png')) await gate;
        return put(...args);
      };
      stack.driver.failNextPuts('STORAGE_UNAVAILABLE');
      let settled = false;
      const run = stack.task(design.id, { attempt: 1, maxAttempts: 4 }).then(
        () => 'resolved',
        (error: unknown) => (error as Error).message,
      ).finally(() => {
        settled = true;
      });
      for (let i = 0; i < 20 && !settled; i++) await new Promise((r) => setTimeout(r, 10));
      expect(settled).toBe(false);
      const [row] = await stack.database.db.selectFrom('designs').select(['lease_until', 'error']).where('id', '=', design.id).execute();
      expect(row!.error).toBeNull(); // not released: a DELETE now would wait
      open();
      expect(await run).toMatch(/injected STORAGE_UNAVAILABLE/);
      expect(await deletion.delete(design.id, design.ownerId)).toBe(true);
      expect(await keysOf(stack, design.id)).toEqual([]);
    });

    it('a deletion interrupted after its tombstone is finished by the sweep, which never queues it', async () => {
      const design = await stack.createDesign();
      await stack.task(design.id, { attempt: 1, maxAttempts: 4 });
      expect(await keysOf(stack, design.id)).toHaveLength(2);
      // The DELETE's process died right after writing the tombstone.
      await stack.designs.tombstone(design.id, design.ownerId);
      const queued: string[] = [];
      const sweep = () => sweepStaleDesigns({
        designs: stack.designs,
        queue: { enqueue: (id) => Promise.resolve(void queued.push(id)) },
        logger: silentLogger,
        pendingAfterMs: 0,
        finishDeletions: (before) => deletion.finishInterrupted(before),
      }, { pendingBefore: new Date(Date.now() + 1000) });
      expect(await sweep()).toBe(0);
      expect(queued).toEqual([]);
      expect(await keysOf(stack, design.id)).toEqual([]);
      expect(await rowCount(stack, design.id)).toBe(0);
    });

    it('`customify cleanup --orphans` takes a tombstoned design\'s files as orphans and leaves its row to the deletion', async () => {
      const live = await stack.createDesign();
      const dead = await stack.createDesign();
      for (const d of [live, dead]) await stack.task(d.id, { attempt: 1, maxAttempts: 4 });
      await stack.designs.tombstone(dead.id, dead.ownerId);
      const lines: string[] = [];
      const result = await runCleanup({
        storage: stack.storage, designs: stack.designs, now: new Date(), olderThanMs: 365 * 86_400_000,
        prefix: 'designs/', dryRun: false, orphans: true, print: (line) => lines.push(line),
      });
      expect(result).toMatchObject({ deleted: 2, orphans: 2, designsUpdated: 0 });
      expect(await keysOf(stack, dead.id)).toEqual([]);
      expect(await keysOf(stack, live.id)).toHaveLength(2);
      const kept = await stack.designs.findById(live.id);
      expect(kept?.status).toBe('PUBLISHED');
      expect(kept?.previewKey).toMatch(new RegExp(`^designs/${live.id}/[0-9a-z]+/preview.png$`));
      expect(await deletion.finishInterrupted(new Date(Date.now() + 1000))).toBe(1);
      expect(await rowCount(stack, dead.id)).toBe(0);
    });

    it('a repeated DELETE of a design whose deletion was interrupted finishes it', async () => {
      const design = await stack.createDesign();
      await stack.task(design.id, { attempt: 1, maxAttempts: 4 });
      await stack.designs.tombstone(design.id, design.ownerId);
      expect(await deletion.delete(design.id, design.ownerId)).toBe(true);
      expect(await keysOf(stack, design.id)).toEqual([]);
      expect(await rowCount(stack, design.id)).toBe(0);
    });
  });
}
