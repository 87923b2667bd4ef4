import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/cli/cleanup.js';
import { silentLogger } from '../../src/logger.js';
import { createStorageLayer, listAll, STALE_TEMP_FILE_AGE_MS, type StorageLayer } from '../../src/storage/index.js';
import { waitFor } from '../helpers/services.js';
import { walkFiles } from '../reliability/harness.js';
import { createTempDir, localSettings, removeTempDir } from '../helpers/tmp.js';

/**
 * Temp files of writes a crash interrupted (issue #9 item 2): `.{name}.{hex}.tmp` beside the
 * object, possibly empty. Start-up and `customify cleanup` remove those older than
 * STALE_TEMP_FILE_AGE_MS; a younger one may be a write in progress and stays.
 */

const png = { contentType: 'image/png' };
const HOUR_AND_A_HALF_AGO = () => new Date(Date.now() - STALE_TEMP_FILE_AGE_MS - 30 * 60_000);

let dir: string;
let root: string;
let layer: StorageLayer;
beforeEach(async () => {
  dir = await createTempDir('temp-files');
  root = path.join(dir, 'storage');
  layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
});
afterEach(async () => {
  await layer.storage.close();
  await removeTempDir(dir);
});

/** A crash's leftover: a temp file beside `key`'s object (which may not exist), `bytes` long, last modified at `when`. */
async function leftover(key: string, bytes: number, when: Date): Promise<string> {
  const file = path.join(root, path.dirname(key), `.${path.basename(key)}.${randomUUID().replace(/-/g, '').slice(0, 12)}.tmp`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.alloc(bytes, 'x'));
  await utimes(file, when, when);
  return path.relative(root, file);
}

describe('removeStaleTempFiles (local driver)', () => {
  it('removes stale temp files (empty ones too) and the folders they alone held; keeps young ones, objects, and a write in progress', async () => {
    const kept = `designs/${randomUUID()}/preview.png`;
    await layer.storage.put(kept, Buffer.from('object'), png);
    const lonelyDesign = randomUUID();
    const stale = [
      await leftover(kept, 0, HOUR_AND_A_HALF_AGO()),
      await leftover(`designs/${lonelyDesign}/thumbnail.png`, 1234, HOUR_AND_A_HALF_AGO()),
      await leftover('designs/loose.png.meta.json', 10, HOUR_AND_A_HALF_AGO()),
    ];
    const young = await leftover(kept, 5, new Date(Date.now() - 60_000));

    // A real write in progress: the stream is open, its temp file exists and is young.
    const body = new PassThrough();
    const inProgressKey = `designs/${randomUUID()}/preview.png`;
    const writing = layer.storage.put(inProgressKey, body, png);
    body.write(Buffer.alloc(100, 'p'));
    const inProgress = await waitFor('the temp file of the write in progress', async () => (await walkFiles(root)).find((f) => f.startsWith(path.dirname(inProgressKey)) && f.endsWith('.tmp')), 10_000, 5);

    const dry = await layer.storage.removeStaleTempFiles({ olderThanMs: STALE_TEMP_FILE_AGE_MS, dryRun: true });
    expect(dry.map((f) => f.path).sort()).toEqual([...stale].sort());
    for (const file of stale) expect(existsSync(path.join(root, file))).toBe(true);

    const removed = await layer.storage.removeStaleTempFiles({ olderThanMs: STALE_TEMP_FILE_AGE_MS });
    expect(removed.map((f) => f.path).sort()).toEqual([...stale].sort());
    expect(removed.find((f) => f.path === stale[1])?.size).toBe(1234);
    const files = await walkFiles(root);
    for (const file of stale) expect(files).not.toContain(file);
    expect(files).toEqual(expect.arrayContaining([kept, young, inProgress]));
    expect(existsSync(path.join(root, 'designs', lonelyDesign))).toBe(false);

    body.end(Buffer.alloc(100, 'q'));
    await writing;
    expect((await layer.storage.head(inProgressKey))?.size).toBe(200);
    const keys = [];
    for await (const o of listAll(layer.storage, '')) keys.push(o.key);
    expect(keys.sort()).toEqual([inProgressKey, kept].sort());
  });

  it('stays under the prefix it is given', async () => {
    const inside = await leftover(`designs/${randomUUID()}/preview.png`, 3, HOUR_AND_A_HALF_AGO());
    const outside = await leftover('uploads/a/file.png', 3, HOUR_AND_A_HALF_AGO());
    const removed = await layer.storage.removeStaleTempFiles({ olderThanMs: STALE_TEMP_FILE_AGE_MS, prefix: 'designs/' });
    expect(removed.map((f) => f.path)).toEqual([inside]);
    expect(await walkFiles(root)).toEqual([outside]);
  });
});

describe('customify cleanup in local mode', () => {
  it('lists stale temp files in a dry run and removes them in a real one, whatever --older-than says', async () => {
    const objectKey = `designs/${randomUUID()}/preview.png`;
    await layer.storage.put(objectKey, Buffer.from('new object'), png);
    const stale = await leftover(objectKey, 0, HOUR_AND_A_HALF_AGO());
    const young = await leftover(objectKey, 0, new Date());
    const run = async (dryRun: boolean) => {
      const lines: string[] = [];
      const result = await runCleanup({ storage: layer.storage, now: new Date(), olderThanMs: 90 * 86_400_000, prefix: 'designs/', dryRun, orphans: false, print: (l) => lines.push(l) });
      return { result, lines };
    };

    const dry = await run(true);
    expect(dry.result).toMatchObject({ deleted: 0, tempFiles: 1 });
    expect(dry.lines).toContainEqual(expect.stringMatching(new RegExp(`^would delete temp file ${stale.replace(/[.]/g, '\\.')} \\(0 bytes, left by an interrupted write, last modified `)));
    expect(dry.lines).toContain('Would remove 1 temp file older than 60 minutes left by interrupted writes (0 bytes).');
    expect(await walkFiles(root)).toContain(stale);

    const real = await run(false);
    expect(real.result).toMatchObject({ deleted: 0, tempFiles: 1 });
    expect(real.lines).toContain('Removed 1 temp file older than 60 minutes left by interrupted writes (0 bytes).');
    expect((await walkFiles(root)).filter((f) => !f.endsWith('.meta.json')).sort()).toEqual([objectKey, young].sort());
  });
});
