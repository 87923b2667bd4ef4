import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cleanupCommand, runCleanup, type CleanupOptions, type CleanupResult } from '../../src/cli/cleanup.js';
import { closeDatabase, createDatabase } from '../../src/db/database.js';
import { newDesign, type Design } from '../../src/designs/design.js';
import { ASSETS_REMOVED_ERROR, DesignRepository } from '../../src/designs/design-repository.js';
import { DesignService } from '../../src/designs/design-service.js';
import { AppError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { createStorageLayer, designAssetKey, listAll, ObjectStorage, type StorageLayer } from '../../src/storage/index.js';
import { LocalDriver } from '../../src/storage/local.driver.js';
import { createTestDatabase, DIALECTS, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { createTestBucket, deleteTestBucket, getS3TestServer, s3Settings } from '../helpers/s3.js';
import { createTempDir, localSettings, removeTempDir } from '../helpers/tmp.js';

const DAY = 86_400_000;
const NINETY_DAYS = 90 * DAY;

/**
 * The fixture both modes share: designs whose files are old, designs whose files are new,
 * files of designs that no longer exist, and files that belong to no design. More than
 * 1,000 objects in all, so the listing has several pages.
 */
interface Fixture {
  /** PUBLISHED designs whose preview and thumbnail are old. */
  oldDesigns: string[];
  /** PUBLISHED designs whose files are new. */
  newDesigns: string[];
  /** PUBLISHED designs with new files and one extra old file they do not reference. */
  extraDesigns: string[];
  /** Ids with files but no design row. */
  orphanIds: string[];
  oldKeys: string[];
  newKeys: string[];
  orphanKeys: string[];
  /** Under the prefix but outside designs/{uuid}/: never an orphan. */
  looseKeys: string[];
  sizes: Map<string, number>;
}

function planFixture(counts: { old: number; new: number; extra: number; orphans: number }): Fixture {
  const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
  const f: Fixture = {
    oldDesigns: ids(counts.old), newDesigns: ids(counts.new), extraDesigns: ids(counts.extra), orphanIds: ids(counts.orphans),
    oldKeys: [], newKeys: [], orphanKeys: [], looseKeys: ['designs/README.txt'], sizes: new Map(),
  };
  const assets = (id: string) => [designAssetKey(id, 'preview'), designAssetKey(id, 'thumbnail')];
  f.oldKeys.push(...f.oldDesigns.flatMap(assets), ...f.extraDesigns.map((id) => `designs/${id}/extra.png`));
  f.newKeys.push(...f.newDesigns.flatMap(assets), ...f.extraDesigns.flatMap(assets));
  f.orphanKeys.push(...f.orphanIds.flatMap(assets));
  let i = 0;
  for (const key of [...f.oldKeys, ...f.newKeys, ...f.orphanKeys, ...f.looseKeys]) f.sizes.set(key, 10 + (i++ % 97));
  return f;
}

const n = (count: number) => count.toLocaleString('en-US');
const bytesOf = (f: Fixture, keys: string[]) => keys.reduce((sum, key) => sum + f.sizes.get(key)!, 0);

async function putAll(storage: ObjectStorage, f: Fixture, keys: string[]): Promise<void> {
  await inParallel(keys, 32, (key) => storage.put(key, Buffer.alloc(f.sizes.get(key)!, 'x'), { contentType: 'image/png' }).then(() => undefined));
}

async function insertDesigns(designs: DesignRepository, f: Fixture): Promise<void> {
  const published = (id: string): Design => ({
    ...newDesign({ id, ownerId: 'owner-1', productType: 't-shirt', designData: { text: 'Hi', font: 'Bebas-Bold', color: '#FF0000' }, now: new Date() }),
    status: 'PUBLISHED',
    previewKey: designAssetKey(id, 'preview'),
    thumbnailKey: designAssetKey(id, 'thumbnail'),
    publishedAt: new Date(),
  });
  await inParallel([...f.oldDesigns, ...f.newDesigns, ...f.extraDesigns], 8, (id) => designs.create(published(id)).then(() => undefined));
}

async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

async function keysUnder(storage: ObjectStorage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listAll(storage, prefix)) keys.push(object.key);
  return keys.sort();
}

/** The real storage, with each deleteMany call's size recorded. */
function recording(storage: ObjectStorage): { calls: number[]; storage: CleanupOptions['storage'] } {
  const calls: number[] = [];
  return {
    calls,
    storage: {
      kind: storage.kind,
      list: (prefix, options) => storage.list(prefix, options),
      deleteMany: (keys) => {
        calls.push(keys.length);
        return storage.deleteMany(keys);
      },
    },
  };
}

async function cleanup(options: Omit<CleanupOptions, 'print'>): Promise<{ result: CleanupResult; lines: string[] }> {
  const lines: string[] = [];
  const result = await runCleanup({ ...options, print: (line) => lines.push(line) });
  return { result, lines };
}

/** What every cleanup run must print: the header, ≤ 50 keys, progress lines, and the totals. */
function expectOutput(lines: string[], verb: 'would delete' | 'deleted', result: CleanupResult): void {
  expect(lines[0]).toMatch(/Cleaning "designs\/" in (local|s3) storage: objects last modified before \d{4}-/);
  const keyLines = lines.filter((l) => l.startsWith(`${verb} designs/`));
  expect(keyLines).toHaveLength(Math.min(50, result.deleted));
  for (const line of keyLines) expect(line).toMatch(/^(would delete|deleted) designs\/\S+ \(\d+ bytes, (last modified \d{4}-|orphan: its design no longer exists)/);
  const progress = lines.filter((l) => / more objects? \(/.test(l)).map((l) => Number(/ ([\d,]+) more/.exec(l)![1]!.replaceAll(',', '')));
  expect(keyLines.length + progress.reduce((a, b) => a + b, 0)).toBe(result.deleted);
  expect(lines.at(-1)).toContain(`${result.deleted.toLocaleString('en-US')} object`);
  expect(lines.at(-1)).toContain(`of ${result.scanned.toLocaleString('en-US')} scanned`);
  if (result.bytes >= 1000) expect(lines.at(-1)).toContain(`(${result.bytes.toLocaleString('en-US')} bytes)`);
}

async function expectDesignsCleared(designs: DesignRepository, ids: string[], cleared: boolean): Promise<void> {
  const rows = await designs.findByIds(ids);
  expect(rows).toHaveLength(ids.length);
  for (const d of rows) {
    expect(d.status).toBe('PUBLISHED');
    if (cleared) expect(d).toMatchObject({ previewKey: null, thumbnailKey: null, error: ASSETS_REMOVED_ERROR });
    else expect(d).toMatchObject({ previewKey: designAssetKey(d.id, 'preview'), thumbnailKey: designAssetKey(d.id, 'thumbnail'), error: null });
  }
}

// ---------------------------------------------------------------------------------------

for (const dialect of DIALECTS) {
  describe.skipIf(skipDialect(dialect))(`cleanup in local mode, designs in ${dialect}`, () => {
    let root: string;
    let layer: StorageLayer;
    let tdb: TestDatabase;
    let designs: DesignRepository;
    const f = planFixture({ old: 320, new: 300, extra: 5, orphans: 15 });
    const now = new Date();

    beforeAll(async () => {
      root = await createTempDir('cli-cleanup');
      layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
      tdb = await createTestDatabase(dialect);
      designs = new DesignRepository(tdb.db);
      // Seeded through the real local driver without fsync, which only slows a test down.
      const seeder = new ObjectStorage(new LocalDriver({ root, publicBaseUrl: 'http://localhost:8000', durable: false }), silentLogger);
      await putAll(seeder, f, [...f.oldKeys, ...f.newKeys, ...f.orphanKeys, ...f.looseKeys]);
      await layer.storage.put('other/keep.png', Buffer.from('outside the prefix'), { contentType: 'image/png' });
      const old = new Date(now.getTime() - 200 * DAY);
      for (const key of [...f.oldKeys, 'other/keep.png']) await utimes(path.join(root, key), old, old);
      await insertDesigns(designs, f);
    }, 120_000);
    afterAll(async () => {
      await layer?.storage.close();
      await tdb?.destroy();
      if (root) await removeTempDir(root);
    });

    it('dry run, then for real, then --orphans: every page, exactly the selected objects, designs updated', async () => {
      const all = [...f.oldKeys, ...f.newKeys, ...f.orphanKeys, ...f.looseKeys].sort();
      expect(all.length).toBeGreaterThan(1000);
      const base = { designs, now, olderThanMs: NINETY_DAYS, prefix: 'designs/', orphans: false };

      // Dry run: the same report, nothing deleted, no design touched.
      const dry = await cleanup({ ...base, storage: layer.storage, dryRun: true });
      expect(dry.result).toEqual({ scanned: all.length, deleted: f.oldKeys.length, orphans: 0, bytes: bytesOf(f, f.oldKeys), designsUpdated: f.oldDesigns.length, tempFiles: 0 });
      expectOutput(dry.lines, 'would delete', dry.result);
      expect(dry.lines.at(-1)).toMatch(new RegExp(`^Dry run: would delete 645 objects of ${n(all.length)} scanned, freeing .*; would update 320 designs\\. Nothing was deleted\\.$`));
      expect(await keysUnder(layer.storage, 'designs/')).toEqual(all);
      await expectDesignsCleared(designs, f.oldDesigns, false);
      // Small odd batches split designs' two files across batches: still counted once each.
      const split = await cleanup({ ...base, storage: layer.storage, dryRun: true, batchSize: 7 });
      expect(split.result).toEqual(dry.result);

      // For real.
      const rec = recording(layer.storage);
      const real = await cleanup({ ...base, storage: rec.storage, dryRun: false });
      expect(real.result).toEqual(dry.result);
      expectOutput(real.lines, 'deleted', real.result);
      expect(real.lines.at(-1)).toMatch(new RegExp(`^Deleted 645 objects of ${n(all.length)} scanned, freeing .*; updated 320 designs\\.$`));
      expect(rec.calls.every((n) => n >= 1 && n <= 1000)).toBe(true);
      expect(rec.calls.reduce((a, b) => a + b, 0)).toBe(f.oldKeys.length);
      expect(await keysUnder(layer.storage, 'designs/')).toEqual([...f.newKeys, ...f.orphanKeys, ...f.looseKeys].sort());
      expect(existsSync(path.join(root, 'other/keep.png'))).toBe(true); // old, but outside the prefix
      await expectDesignsCleared(designs, f.oldDesigns, true);
      await expectDesignsCleared(designs, [...f.newDesigns, ...f.extraDesigns], false); // extra.png was not theirs to lose

      // The API stops handing out URLs for the cleared designs.
      const service = new DesignService({ designs, storage: layer.repository, queue: { enqueue: async () => {} }, logger: silentLogger });
      const [cleared] = await designs.findByIds([f.oldDesigns[0]!]);
      expect(await service.view(cleared!)).toMatchObject({ status: 'PUBLISHED', preview_url: null, thumbnail_url: null });
      const [kept] = await designs.findByIds([f.newDesigns[0]!]);
      expect((await service.view(kept!)).preview_url).toMatch(/\/static\/designs\/.*\/preview\.png$/);

      // Nothing left to do.
      const again = await cleanup({ ...base, storage: layer.storage, dryRun: false });
      expect(again.result).toMatchObject({ deleted: 0, bytes: 0, designsUpdated: 0 });
      const left = all.length - f.oldKeys.length;
      expect(again.lines.at(-1)).toBe(`Deleted 0 objects of ${n(left)} scanned, freeing 0 bytes; updated 0 designs.`);

      // --orphans: files of designs that no longer exist go, whatever their age.
      const orphanDry = await cleanup({ ...base, storage: layer.storage, dryRun: true, orphans: true });
      expect(orphanDry.result).toMatchObject({ deleted: f.orphanKeys.length, orphans: f.orphanKeys.length, designsUpdated: 0 });
      expect(await keysUnder(layer.storage, 'designs/')).toHaveLength(left);
      const orphans = await cleanup({ ...base, storage: layer.storage, dryRun: false, orphans: true });
      expect(orphans.result).toEqual({ scanned: left, deleted: f.orphanKeys.length, orphans: f.orphanKeys.length, bytes: bytesOf(f, f.orphanKeys), designsUpdated: 0, tempFiles: 0 });
      expect(orphans.lines.at(-1)).toMatch(new RegExp(`^Deleted 30 objects \\(30 orphaned\\) of ${n(left)} scanned`));
      expect(orphans.lines.filter((l) => l.includes('orphan: its design no longer exists'))).toHaveLength(30);
      expect(await keysUnder(layer.storage, 'designs/')).toEqual([...f.newKeys, ...f.looseKeys].sort());
    }, 120_000);
  });
}

// ---------------------------------------------------------------------------------------

const server = await getS3TestServer();

describe.skipIf(!server.paginatesListings)(`cleanup in S3 mode (${server.kind} at ${server.endpoint})`, () => {
  let bucket: string;
  let layer: StorageLayer;
  let tdb: TestDatabase;
  let designs: DesignRepository;
  // 1,100 old objects: two DeleteObjects calls (1,000 + 100).
  const f = planFixture({ old: 545, new: 45, extra: 10, orphans: 25 });
  let cutoff: number;

  beforeAll(async () => {
    bucket = await createTestBucket(server, 'cli-cleanup');
    layer = await createStorageLayer(s3Settings(server, bucket), { logger: silentLogger });
    tdb = await createTestDatabase('sqlite');
    designs = new DesignRepository(tdb.db);
    // LastModified cannot be backdated: write the old group, wait, write the new group,
    // and put the cutoff between the two.
    await putAll(layer.storage, f, f.oldKeys);
    cutoff = Date.now() + 1000;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await putAll(layer.storage, f, [...f.newKeys, ...f.orphanKeys, ...f.looseKeys]);
    await insertDesigns(designs, f);
  }, 180_000);
  afterAll(async () => {
    await layer?.storage.close();
    await tdb?.destroy();
    if (bucket) await deleteTestBucket(server, bucket);
  }, 120_000);

  it('dry run, then for real in batches of 1,000, then --orphans', async () => {
    const all = [...f.oldKeys, ...f.newKeys, ...f.orphanKeys, ...f.looseKeys].sort();
    const base = { designs, now: new Date(cutoff + NINETY_DAYS), olderThanMs: NINETY_DAYS, prefix: 'designs/', orphans: false };
    expect(f.oldKeys).toHaveLength(1100);

    const dry = await cleanup({ ...base, storage: layer.storage, dryRun: true });
    expect(dry.result).toEqual({ scanned: all.length, deleted: 1100, orphans: 0, bytes: bytesOf(f, f.oldKeys), designsUpdated: f.oldDesigns.length, tempFiles: 0 });
    expectOutput(dry.lines, 'would delete', dry.result);
    expect(dry.lines.at(-1)).toMatch(/Nothing was deleted\.$/);
    expect(await keysUnder(layer.storage, 'designs/')).toEqual(all);
    await expectDesignsCleared(designs, f.oldDesigns, false);

    const rec = recording(layer.storage);
    const real = await cleanup({ ...base, storage: rec.storage, dryRun: false });
    expect(real.result).toEqual(dry.result);
    expect(rec.calls).toEqual([1000, 100]);
    expectOutput(real.lines, 'deleted', real.result);
    expect(real.lines).toContain('deleted 950 more objects (1,000 so far)');
    expect(real.lines).toContain('deleted 100 more objects (1,100 so far)');
    expect(await keysUnder(layer.storage, 'designs/')).toEqual([...f.newKeys, ...f.orphanKeys, ...f.looseKeys].sort());
    await expectDesignsCleared(designs, f.oldDesigns, true);
    await expectDesignsCleared(designs, [...f.newDesigns, ...f.extraDesigns], false);

    const orphans = await cleanup({ ...base, storage: layer.storage, dryRun: false, orphans: true });
    expect(orphans.result).toMatchObject({ deleted: f.orphanKeys.length, orphans: f.orphanKeys.length, bytes: bytesOf(f, f.orphanKeys), designsUpdated: 0 });
    expect(await keysUnder(layer.storage, 'designs/')).toEqual([...f.newKeys, ...f.looseKeys].sort());
  }, 180_000);
});

// ---------------------------------------------------------------------------------------

describe('cleanup refuses what it cannot do safely', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await createTempDir('cli-cleanup-refusals');
  });
  afterEach(async () => {
    await removeTempDir(dir);
  });

  async function failure(promise: Promise<unknown>): Promise<AppError> {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }

  it('checks --older-than and --prefix before opening storage or the database', async () => {
    const storagePath = path.join(dir, 'storage');
    const settings = localSettings(storagePath, { DATABASE_URL: `sqlite:${path.join(dir, 'db.sqlite')}` });
    for (const olderThan of [undefined, '-5d', '90', 'soon', '0d']) {
      const error = await failure(cleanupCommand(settings, { 'older-than': olderThan, prefix: 'designs/' }, () => {}));
      expect(error.code).toBe('INVALID_OLDER_THAN');
      expect(error.message).toMatch(/90d/);
    }
    for (const prefix of ['', '/designs/', '../x/', 'a//b']) {
      const error = await failure(cleanupCommand(settings, { 'older-than': '90d', prefix }, () => {}));
      expect(error.code).toBe('INVALID_PREFIX');
    }
    expect(existsSync(storagePath)).toBe(false);
    expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(false);
  });

  it('refuses a database that does not exist or is not migrated: its designs would all look orphaned', async () => {
    const settings = (db: string) => localSettings(path.join(dir, 'storage'), { DATABASE_URL: `sqlite:${path.join(dir, db)}` });
    const missing = await failure(cleanupCommand(settings('missing.sqlite'), { 'older-than': '90d', prefix: 'designs/', orphans: true }, () => {}));
    expect(missing.code).toBe('DATABASE_NOT_READY');
    expect(missing.message).toMatch(/no SQLite database at .*missing\.sqlite.*DATABASE_URL/);
    expect(existsSync(path.join(dir, 'missing.sqlite'))).toBe(false);

    const bare = createDatabase(`sqlite:${path.join(dir, 'bare.sqlite')}`);
    await bare.selectNoFrom((eb) => eb.lit(1).as('one')).execute(); // creates the file, no tables
    await closeDatabase(bare);
    const unmigrated = await failure(cleanupCommand(settings('bare.sqlite'), { 'older-than': '90d', prefix: 'designs/' }, () => {}));
    expect(unmigrated.code).toBe('DATABASE_NOT_READY');
    expect(unmigrated.message).toMatch(/lacks migration\(s\) 0001-create-designs.*customify migrate/);
  });

  it('refuses --orphans without a database, or against one with no designs at all', async () => {
    const layer = await createStorageLayer(localSettings(dir), { logger: silentLogger });
    const tdb = await createTestDatabase('sqlite');
    try {
      const base = { storage: layer.storage, now: new Date(), olderThanMs: DAY, prefix: 'designs/', dryRun: false, orphans: true, print: () => {} };
      expect((await failure(runCleanup(base))).code).toBe('ORPHANS_NEED_DATABASE');
      const empty = await failure(runCleanup({ ...base, designs: new DesignRepository(tdb.db) }));
      expect(empty.code).toBe('DATABASE_EMPTY');
      expect(empty.message).toMatch(/DATABASE_URL/);
    } finally {
      await layer.storage.close();
      await tdb.destroy();
    }
  });
});
