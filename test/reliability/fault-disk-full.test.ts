import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestServer, tokenFor, type TestServer } from '../helpers/app.js';
import { assertCapable, mountTmpfs, skipWithout, type Tmpfs } from '../helpers/services.js';
import { ApiClient, countStatuses, DESIGN_BODY, expectLocalAssets, expectValidPng, runPool, Timings, waitUntilSettled, walkFiles } from './harness.js';

/**
 * B4. The local disk fills up. LOCAL_STORAGE_PATH is a 2 MB tmpfs of our own (root only);
 * the database lives elsewhere. Designs are created until renders fail: they must fail
 * cleanly (FAILED with the disk-full message, not retried forever), leave no temp file and
 * no truncated PNG anywhere in the tree, and leave the assets published earlier intact.
 * Once there is room again (the tmpfs is enlarged), a re-render publishes each of them.
 */

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

describe.skipIf(skipWithout('tmpfs'))('B4. local disk full (a 2 MB tmpfs as LOCAL_STORAGE_PATH)', () => {
  it('renders fail cleanly with STORAGE_DISK_FULL, no temp or partial files, earlier assets intact; re-render publishes after space is freed', { timeout: 180_000 }, async () => {
    assertCapable('tmpfs');
    const t = new Timings('B4 disk full');
    let disk: Tmpfs | undefined;
    let server: TestServer | undefined;
    try {
      disk = await mountTmpfs('2m');
      const root = path.join(disk.dir, 'storage');
      server = await startTestServer({ LOCAL_STORAGE_PATH: root, RENDER_CONCURRENCY: '2', RENDER_BACKOFF_MS: '50' });
      const api = new ApiClient(server.url, await tokenFor('disk-full'));
      const pngs = async () => (await walkFiles(root)).filter((f) => f.endsWith('.png'));

      // Earlier designs, published while there is room; remember their bytes.
      const early = await runPool(Array.from({ length: 5 }, (_, i) => i), 5, (i) => api.create(DESIGN_BODY(`Early ${i}`)));
      const earlyIds = early.map((r) => r.body.id);
      expect(countStatuses(await waitUntilSettled(server.container.designs, earlyIds, 30_000)).PUBLISHED).toBe(5);
      const earlyHashes = new Map<string, string>();
      for (const f of await pngs()) earlyHashes.set(f, await sha256(path.join(root, f)));
      t.mark('early designs');

      // Fill the disk: batches of designs (long, busy texts make bigger PNGs) until renders fail.
      const ids: string[] = [];
      let failed = 0;
      for (let batch = 0; batch < 40 && failed < 10; batch++) {
        const created = await runPool(Array.from({ length: 25 }, (_, i) => batch * 25 + i), 10, (i) =>
          api.create(DESIGN_BODY(`Fill the disk ${i} ${'WXYZ'.repeat(8)}\n${i}`, { color: `#${(0x102030 + i * 7919).toString(16).slice(-6).padStart(6, '0')}` })));
        expect(created.map((c) => c.status).filter((s) => s !== 201)).toEqual([]);
        ids.push(...created.map((c) => c.body.id));
        failed = countStatuses(await waitUntilSettled(server.container.designs, ids, 60_000)).FAILED;
      }
      t.mark('fill');
      const settled = await waitUntilSettled(server.container.designs, ids, 60_000);
      const failedDesigns = settled.filter((d) => d.status === 'FAILED');
      expect(failedDesigns.length).toBeGreaterThanOrEqual(10);
      for (const d of failedDesigns) {
        // The user-facing message says what happened and what to do; one attempt, no retry storm.
        expect(d.error).toMatch(/^The disk holding LOCAL_STORAGE_PATH is full: could not write .*Free space \(customify cleanup --older-than 90d\) or point LOCAL_STORAGE_PATH at a larger volume\.$/);
        expect(d.attempts).toBe(1);
        const view = await api.get(d.id);
        expect(view.body).toMatchObject({ status: 'FAILED', preview_url: null, thumbnail_url: null });
      }
      // The tree: no temp file, and every PNG in it is whole (a truncated write would not decode).
      const files = await walkFiles(root);
      expect(files.filter((f) => f.endsWith('.tmp') || (path.basename(f).startsWith('.') && !f.endsWith('.meta.json')))).toEqual([]);
      const strays: string[] = [];
      for (const f of files.filter((name) => name.endsWith('.png'))) {
        await expectValidPng(await readFile(path.join(root, f)), f.endsWith('preview.png') ? 'preview' : 'thumbnail', f);
        const id = f.split('/')[1]!;
        if (failedDesigns.some((d) => d.id === id)) strays.push(f);
      }
      // A FAILED first render removes what it managed to write.
      expect(strays).toEqual([]);
      // Published designs have both assets; the earlier ones are byte-for-byte unchanged.
      await expectLocalAssets(root, settled.filter((d) => d.status === 'PUBLISHED').map((d) => d.id));
      for (const [f, hash] of earlyHashes) expect(await sha256(path.join(root, f)), f).toBe(hash);
      // The server is alive, and not ready: its storage check sees the disk is full.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const readyWhileFull = (await fetch(`${server.url}/readyz`)).status;
      expect(readyWhileFull).toBe(503);
      t.mark('check full disk');

      // Space is freed: every FAILED design publishes on re-render.
      await disk.resize('64m');
      for (const d of failedDesigns) expect((await api.rerender(d.id)).status).toBe(202);
      const final = await waitUntilSettled(server.container.designs, ids, 60_000);
      expect(countStatuses(final)).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: ids.length, FAILED: 0 });
      await expectLocalAssets(root, [...earlyIds, ...ids]);
      expect((await walkFiles(root)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      t.mark('re-render after freeing space');
      t.report(`${ids.length} designs to fill 2 MB, ${failedDesigns.length} FAILED with STORAGE_DISK_FULL; complete PNGs left by FAILED designs (one asset written before the disk filled): ${strays.length}; /readyz while full: ${readyWhileFull}`);
    } finally {
      await server?.stop();
      await disk?.destroy();
    }
  });
});
