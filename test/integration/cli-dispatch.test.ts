import { existsSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenVerifier } from '../../src/auth/jwt.js';
import { newDesign } from '../../src/designs/design.js';
import { DesignRepository } from '../../src/designs/design-repository.js';
import { silentLogger } from '../../src/logger.js';
import { createStorageLayer, designAssetKey } from '../../src/storage/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { createTempDir, localSettings, removeTempDir } from '../helpers/tmp.js';
import { runCli, type CliRun } from '../helpers/cli.js';

/**
 * The commands through the real `customify` dispatcher: argument parsing, configuration
 * from the environment, exit codes, and the one-line error for AppErrors.
 */

const SECRET = 'dispatch-test-secret-0123456789abcdef0123';

let dir: string;
let tdb: TestDatabase;
beforeEach(async () => {
  dir = await createTempDir('cli-dispatch');
  tdb = await createTestDatabase('sqlite');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await tdb.destroy();
  await removeTempDir(dir);
});

/** Runs `customify ...args` with a fresh configuration read from `env` (over a local-mode baseline). */
function customify(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const baseline: Record<string, string> = {
    NODE_ENV: 'development', USE_LOCAL_STORAGE: 'true', LOCAL_STORAGE_PATH: path.join(dir, 'storage'),
    DATABASE_URL: tdb.url, DATA_DIR: dir, REDIS_URL: '', JWT_SECRET: '', JWKS_URL: '', CLOUDFRONT_DOMAIN: '',
  };
  return runCli(args, { ...baseline, ...env });
}

describe('customify token', () => {
  it('prints only the token, which verifies and carries the user', async () => {
    const run = await customify(['token', '--user', 'alice', '--ttl', '2h'], { JWT_SECRET: SECRET });
    expect(run).toMatchObject({ code: 0, err: [] });
    expect(run.out).toHaveLength(1);
    expect(await createTokenVerifier({ secret: SECRET })(run.out[0]!)).toEqual({ userId: 'alice' });
  });

  it('exits 1 with one line for a bad ttl or a missing user', async () => {
    expect(await customify(['token', '--user', 'alice', '--ttl', 'soon'])).toEqual({
      code: 1, out: [], err: ['customify token: --ttl must be a positive duration such as 30m, 1h or 7d: expected a number and a unit such as 500ms, 30s, 5m, 12h, 90d or 2w, got "soon".'],
    });
    expect((await customify(['token'])).err).toEqual(['customify token: --user is required: customify token --user <user-id> [--ttl 1h].']);
  });
});

describe('customify render', () => {
  it('writes the seed\'s two files first, then every other rendition, and prints their paths', async () => {
    const out = path.join(dir, 'render');
    const run = await customify(['render', '--text', 'Hello', '--color', '#123456', '--out', out]);
    expect(run.code).toBe(0);
    expect(run.err).toEqual([]);
    expect(run.out.slice(0, 2)).toEqual([path.join(out, 'preview.png'), path.join(out, 'thumbnail.png')]);
    expect(run.out).toHaveLength(8);
    expect(await sharp(run.out[0]).metadata()).toMatchObject({ width: 600, height: 600 });
  });

  it('exits 1 naming design_data.color, writing nothing', async () => {
    const out = path.join(dir, 'never');
    const run = await customify(['render', '--text', 'Hello', '--color', 'red', '--out', out]);
    expect(run).toEqual({ code: 1, out: [], err: ['customify render: design_data.color must be a hex colour like #FF0000 or #F00, got "red". (set with --color)'] });
    expect(existsSync(out)).toBe(false);
  });
});

describe('customify cleanup', () => {
  it('dry run, then for real, on the configured local storage and database', async () => {
    const root = path.join(dir, 'storage');
    const { storage } = await createStorageLayer(localSettings(root), { logger: silentLogger });
    const designs = new DesignRepository(tdb.db);
    const old = newDesign({ ownerId: 'o', productType: 't-shirt', designData: { text: 'a', font: 'Bebas-Bold', color: '#000' }, now: new Date() });
    const fresh = newDesign({ ownerId: 'o', productType: 't-shirt', designData: { text: 'b', font: 'Bebas-Bold', color: '#000' }, now: new Date() });
    for (const d of [old, fresh]) {
      await designs.create({ ...d, status: 'PUBLISHED', previewKey: designAssetKey(d.id, 'preview'), thumbnailKey: designAssetKey(d.id, 'thumbnail'), publishedAt: new Date() });
      for (const kind of ['preview', 'thumbnail'] as const) await storage.put(designAssetKey(d.id, kind), Buffer.alloc(100), { contentType: 'image/png' });
    }
    const longAgo = new Date(Date.now() - 100 * 86_400_000);
    for (const kind of ['preview', 'thumbnail'] as const) await utimes(path.join(root, designAssetKey(old.id, kind)), longAgo, longAgo);

    const dry = await customify(['cleanup', '--older-than', '90d', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out.at(-1)).toBe('Dry run: would delete 2 objects of 4 scanned, freeing 200 bytes; would update 1 design. Nothing was deleted.');
    expect(existsSync(path.join(root, designAssetKey(old.id, 'preview')))).toBe(true);

    const real = await customify(['cleanup', '--older-than', '90d']);
    expect(real.code).toBe(0);
    expect(real.out.filter((l) => l.startsWith('deleted '))).toEqual([
      expect.stringContaining(`deleted ${designAssetKey(old.id, 'preview')} (100 bytes, last modified`),
      expect.stringContaining(`deleted ${designAssetKey(old.id, 'thumbnail')} (100 bytes, last modified`),
    ]);
    expect(real.out.at(-1)).toBe('Deleted 2 objects of 4 scanned, freeing 200 bytes; updated 1 design.');
    expect(existsSync(path.join(root, designAssetKey(old.id, 'preview')))).toBe(false);
    expect(existsSync(path.join(root, designAssetKey(fresh.id, 'preview')))).toBe(true);
    expect((await designs.findById(old.id))?.previewKey).toBeNull();
    await storage.close();
  });

  it('exits 1 with examples for a bad --older-than, and for a bad --prefix', async () => {
    const negative = await customify(['cleanup', '--older-than=-5d']);
    expect(negative.code).toBe(1);
    expect(negative.err).toEqual([expect.stringMatching(/^customify cleanup: --older-than must be a duration with a unit, such as 30m, 12h, 90d or 2w .*got "-5d"\.$/)]);
    expect((await customify(['cleanup'])).err).toEqual([expect.stringMatching(/^customify cleanup: --older-than is required/)]);
    expect((await customify(['cleanup', '--older-than', '90d', '--prefix', '../etc/'])).err).toEqual([expect.stringMatching(/^customify cleanup: --prefix "\.\.\/etc\/" is not a valid key prefix/)]);
    expect((await customify(['cleanup', '--older-than', '90d', '--prefix='])).err).toEqual([expect.stringMatching(/^customify cleanup: --prefix must not be empty/)]);
  });
});

describe('customify doctor', () => {
  it('exits 0 on a healthy local setup', async () => {
    const run = await customify(['doctor']);
    expect(run.code).toBe(0);
    expect(run.out.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(run.out.at(-1)).toBe('All checks passed.');
  });

  it('reports a bad configuration as a FAIL line naming the variable, exit 1', async () => {
    const run = await customify(['doctor'], { S3_BUCKET_NAME: 'Bad_Name' });
    expect(run.code).toBe(1);
    expect(run.out).toEqual([
      'FAIL configuration: S3_BUCKET_NAME must be a valid bucket name (3-63 lowercase letters, digits, dots, hyphens; no "..", no IP address), got "Bad_Name"',
      '1 problem found: fix the FAIL lines above and run customify doctor again.',
    ]);
  });
});
