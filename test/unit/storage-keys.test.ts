import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config.js';
import { ValidationError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { assertValidKey, createStorageLayer, listAll, StorageError, type StorageLayer } from '../../src/storage/index.js';
import { metadataImpliedByKey } from '../../src/storage/keys.js';
import { fingerprint, readAll } from '../contract/object-store.contract.js';
import { createTempDir, localSettings, removeTempDir, snapshotTree } from '../helpers/tmp.js';

const png = { contentType: 'image/png' };

/** Keys no caller may use. `prefix: 'allowed'` marks the ones that are fine as a listing prefix. */
const HOSTILE_KEYS: Array<{ name: string; key: string; prefix?: 'allowed' }> = [
  { name: 'parent folder', key: '..' },
  { name: 'parent then a name', key: '../x' },
  { name: 'climbs out from inside', key: 'a/../../etc/passwd' },
  { name: 'absolute path', key: '/etc/passwd' },
  { name: 'Windows drive', key: 'C:\\x' },
  { name: 'backslash traversal', key: 'a\\..\\b' },
  { name: 'NUL byte', key: 'designs/a\0.png' },
  { name: 'percent-encoded dots', key: '%2e%2e/x' },
  { name: 'dots and an encoded slash', key: '..%2f' },
  { name: 'dot-file', key: '.hidden' },
  { name: "the local driver's metadata folder", key: '.meta/designs/x.png.json' },
  { name: 'current-folder segment', key: 'a/./b' },
  { name: 'empty segment', key: 'a//b' },
  { name: 'trailing slash', key: 'designs/x/', prefix: 'allowed' },
  { name: 'fullwidth full stops (U+FF0E)', key: '\uFF0E\uFF0E/x' },
  { name: 'one-dot leaders (U+2024)', key: '\u2024\u2024/etc/passwd' },
  { name: 'fullwidth solidus (U+FF0F)', key: '..\uFF0Fx' },
  { name: 'division slash (U+2215)', key: 'designs\u2215..\u2215x' },
  { name: 'Cyrillic lookalike letter', key: 'designs/\u0440review.png' },
  { name: 'newline', key: 'designs/a\nb.png' },
  { name: 'space', key: 'designs/a b.png' },
  { name: '2,000 characters', key: `designs/${'a'.repeat(1992)}` },
  { name: 'empty', key: '', prefix: 'allowed' },
];

const HOSTILE_DESIGN_IDS = [
  '../x', 'not-a-uuid', '123', '', 'designs',
  '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b/', '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b/../x', '../3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b',
  '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b\0', '３f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b',
];

/** The rejection of `run()`, which must be a StorageError that keeps its cause. */
async function failure(run: () => Promise<unknown>): Promise<StorageError> {
  const error = await run().then(() => { throw new Error('expected the operation to fail'); }, (e: unknown) => e);
  expect(error).toBeInstanceOf(StorageError);
  return error as StorageError;
}

describe('hostile keys and design ids are refused before any I/O', () => {
  let base: string;
  let neverCreatedRoot: string;
  let layers: Array<[string, StorageLayer]>;
  let before: Record<string, string>;
  let passwdBefore: string;

  beforeAll(async () => {
    // base/ holds the storage root (with one object in it), a sentinel beside it, and a fake etc/.
    base = await createTempDir('hostile');
    await mkdir(path.join(base, 'etc'));
    await writeFile(path.join(base, 'etc', 'passwd'), 'root:x:0:0');
    await writeFile(path.join(base, 'sentinel.txt'), 'must survive');
    await writeFile(path.join(base, 'x'), 'a file named x beside the root');
    neverCreatedRoot = path.join(base, 'never-created');
    const existing = await createStorageLayer(localSettings(path.join(base, 'root')), { logger: silentLogger });
    await existing.repository.uploadDesignPreview(randomUUID(), Buffer.from('kept'));
    layers = [
      ['local (existing root)', existing],
      // The driver creates its root on first use: if it exists afterwards, something reached the disk.
      ['local (root never created)', await createStorageLayer(localSettings(neverCreatedRoot), { logger: silentLogger })],
      // Any request would fail with STORAGE_UNAVAILABLE instead of STORAGE_INVALID_KEY.
      ['s3 (unreachable endpoint)', await createStorageLayer(configFrom({
        USE_LOCAL_STORAGE: 'false', S3_ENDPOINT: 'http://127.0.0.1:1', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', S3_PUBLIC_BUCKET: 'false',
      }), { logger: silentLogger })],
    ];
    before = await snapshotTree(base);
    passwdBefore = createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex');
  });

  afterAll(async () => {
    // Nothing was created, changed or removed anywhere around the root, nor in it.
    expect(await snapshotTree(base)).toEqual(before);
    expect(existsSync(neverCreatedRoot)).toBe(false);
    expect(createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex')).toBe(passwdBefore);
    for (const [, layer] of layers ?? []) await layer.storage.close();
    await removeTempDir(base);
  });

  it.each(HOSTILE_KEYS)('assertValidKey refuses $name', ({ key }) => {
    expect(() => assertValidKey(key)).toThrow(expect.objectContaining({ code: 'STORAGE_INVALID_KEY', field: 'key' }));
  });

  it('assertValidKey refuses values that are not strings', () => {
    for (const value of [undefined, null, 42, {}, ['designs', 'x']]) {
      expect(() => assertValidKey(value)).toThrow(expect.objectContaining({ code: 'STORAGE_INVALID_KEY' }));
    }
  });

  it('assertValidKey accepts the keys the service writes', () => {
    for (const key of [`designs/${randomUUID()}/preview.png`, 'test/upload.png', "a/it's(1)*!-_.png", `designs/${'a'.repeat(1016)}`]) {
      expect(assertValidKey(key)).toBe(key);
    }
  });

  it.each(HOSTILE_KEYS)('every operation refuses $name with STORAGE_INVALID_KEY', async ({ key, prefix }) => {
    for (const [target, { storage, repository, s3Client }] of layers) {
      const operations: Array<[string, () => Promise<unknown>]> = [
        ['put (buffer)', () => storage.put(key, Buffer.from('x'), png)],
        ['put (stream)', () => storage.put(key, Readable.from([Buffer.from('x')]), png)],
        ['get', () => storage.get(key)],
        ['head', () => storage.head(key)],
        ['exists', () => storage.exists(key)],
        ['delete', () => storage.delete(key)],
        ['deleteMany', () => storage.deleteMany(['designs/ok.png', key])],
        ['signedUrl', () => storage.signedUrl(key, 60)],
        ['publicUrl', () => Promise.resolve().then(() => storage.publicUrl(key))],
        ['urlFor', () => repository.urlFor(key)],
        ['uploadFile', () => s3Client.uploadFile(Buffer.from('x'), key)],
        ['fileExists', () => s3Client.fileExists(key)],
        ['deleteFile', () => s3Client.deleteFile(key)],
        ['getSignedUrl', () => s3Client.getSignedUrl(key)],
      ];
      if (prefix !== 'allowed') {
        operations.push(['list', () => storage.list(key)], ['listAll', async () => { for await (const _ of listAll(storage, key)) break; }]);
      }
      if (prefix !== 'allowed' || key === '') operations.push(['deletePrefix', () => storage.deletePrefix(key)]);
      for (const [operation, run] of operations) {
        const error = await failure(run);
        expect({ target, operation, code: error.code }).toEqual({ target, operation, code: 'STORAGE_INVALID_KEY' });
      }
    }
  });

  it.each(HOSTILE_DESIGN_IDS)('design id %j is refused with INVALID_DESIGN_ID', async (designId) => {
    for (const [target, { repository }] of layers) {
      for (const [operation, run] of [
        ['uploadDesignPreview', () => repository.uploadDesignPreview(designId, Buffer.from('x'))],
        ['uploadDesignThumbnail', () => repository.uploadDesignThumbnail(designId, Readable.from([Buffer.from('x')]))],
        ['uploadDesignAsset', () => repository.uploadDesignAsset(designId, 'preview', Buffer.from('x'))],
        ['deleteDesignAssets', () => repository.deleteDesignAssets(designId)],
        ['keyFor', () => Promise.resolve().then(() => repository.keyFor(designId, 'thumbnail'))],
      ] as Array<[string, () => Promise<unknown>]>) {
        const error = await run().then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect({ target, operation, code: (error as ValidationError).code, field: (error as ValidationError).field })
          .toEqual({ target, operation, code: 'INVALID_DESIGN_ID', field: 'design_id' });
      }
    }
  });

  it('an asset kind that is not a name is refused as a key', async () => {
    for (const [, { repository }] of layers) {
      const error = await failure(() => repository.uploadDesignAsset(randomUUID(), '../../x' as 'preview', Buffer.from('x')));
      expect(error.code).toBe('STORAGE_INVALID_KEY');
    }
  });
});

describe('local driver: symbolic links inside the root never lead out of it', () => {
  let base: string;
  let root: string;
  let outside: string;
  let layer: StorageLayer;
  let outsideBefore: Record<string, string>;

  beforeAll(async () => {
    base = await createTempDir('symlinks');
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    await mkdir(path.join(root, 'designs'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.png'), 'outside secret');
    await symlink(outside, path.join(root, 'designs', 'evil'));
    await symlink(path.join(outside, 'secret.png'), path.join(root, 'designs', 'link.png'));
    await symlink(path.join(outside, 'not-yet'), path.join(root, 'designs', 'dangling'));
    await symlink(path.join(outside, 'new.png'), path.join(root, 'designs', 'dangling.png'));
    layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
    outsideBefore = await snapshotTree(outside);
  });

  afterAll(async () => {
    await removeTempDir(base);
  });

  it('refuses to write, read, test or delete through a link to a folder outside (designs/evil -> outside/)', async () => {
    const { storage } = layer;
    for (const run of [
      () => storage.put('designs/evil/x.png', Buffer.from('x'), png),
      () => storage.put('designs/evil/secret.png', Readable.from([Buffer.from('overwritten')]), png),
      () => storage.get('designs/evil/secret.png'),
      () => storage.head('designs/evil/secret.png'),
      () => storage.exists('designs/evil/secret.png'),
      () => storage.delete('designs/evil/secret.png'),
      () => storage.list('designs/evil/'),
      () => storage.deletePrefix('designs/evil/'),
    ]) {
      expect((await failure(run)).code).toBe('STORAGE_INVALID_KEY');
    }
    expect(await snapshotTree(outside)).toEqual(outsideBefore);
  });

  it('refuses to read, overwrite or delete through a link to a file outside (designs/link.png -> outside/secret.png)', async () => {
    const { storage } = layer;
    for (const run of [
      () => storage.get('designs/link.png'),
      () => storage.put('designs/link.png', Buffer.from('overwritten'), png),
      () => storage.delete('designs/link.png'),
    ]) {
      expect((await failure(run)).code).toBe('STORAGE_INVALID_KEY');
    }
    expect(await snapshotTree(outside)).toEqual(outsideBefore);
  });

  it('creates nothing outside through dangling links (to a folder or a file that does not exist yet)', async () => {
    const { storage } = layer;
    const toFolder = await storage.put('designs/dangling/x.png', Buffer.from('x'), png).then(() => undefined, (e: unknown) => e);
    expect(toFolder).toBeInstanceOf(StorageError);
    // A file put replaces the link itself (rename does not follow links): the bytes land inside the root.
    await storage.put('designs/dangling.png', Buffer.from('inside'), png).catch(() => undefined);
    expect(await snapshotTree(outside)).toEqual(outsideBefore);
    expect(existsSync(path.join(outside, 'new.png'))).toBe(false);
    expect(existsSync(path.join(outside, 'not-yet'))).toBe(false);
  });

  it('listing and prefix deletion skip links: deleting designs/ leaves the outside untouched', async () => {
    const { storage } = layer;
    await storage.put('designs/real/a.png', Buffer.from('a'), png);
    const keys: string[] = [];
    for await (const o of listAll(storage, 'designs/')) keys.push(o.key);
    expect(keys).not.toContain('designs/link.png');
    expect(keys.some((k) => k.startsWith('designs/evil/'))).toBe(false);
    await storage.deletePrefix('designs/');
    expect(await storage.exists('designs/real/a.png')).toBe(false);
    expect(await snapshotTree(outside)).toEqual(outsideBefore);
    expect(await readFile(path.join(outside, 'secret.png'), 'utf8')).toBe('outside secret');
  });
});

describe('local driver: atomic, durable writes', () => {
  let root: string;
  let layer: StorageLayer;

  beforeAll(async () => {
    root = await createTempDir('atomic');
    layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
  });
  afterAll(async () => {
    await removeTempDir(root);
  });

  /** A stream that yields some chunks, then fails, as a renderer crashing mid-upload would. */
  function failingStream(chunks: number): Readable {
    return Readable.from((async function* () {
      for (let i = 0; i < chunks; i++) {
        yield randomBytes(16 * 1024);
        await new Promise((resolve) => setImmediate(resolve));
      }
      throw new Error('renderer crashed');
    })());
  }

  it('a put that fails mid-stream leaves no partial or temp file, and the earlier object intact', async () => {
    const key = `designs/${randomUUID()}/preview.png`;
    const earlier = randomBytes(40 * 1024);
    await layer.storage.put(key, earlier, { contentType: 'image/png', metadata: { v: 'earlier' } });
    const before = await snapshotTree(root);

    const error = await failure(() => layer.storage.put(key, failingStream(8), { contentType: 'image/png', metadata: { v: 'later' } }));
    expect((error.cause as Error).message).toBe('renderer crashed');

    expect(await snapshotTree(root)).toEqual(before);
    expect(fingerprint(await readAll(await layer.storage.get(key)))).toBe(fingerprint(earlier));
    expect((await layer.storage.head(key))?.metadata).toEqual({ v: 'earlier' });
  });

  it('a failed first put of a key leaves no file at all', async () => {
    const key = `designs/${randomUUID()}/preview.png`;
    const filesBefore = Object.entries(await snapshotTree(root)).filter(([, v]) => !v.startsWith('dir'));
    await failure(() => layer.storage.put(key, failingStream(4), png));
    expect(await layer.storage.exists(key)).toBe(false);
    expect(Object.entries(await snapshotTree(root)).filter(([, v]) => !v.startsWith('dir'))).toEqual(filesBefore);
  });

  it('readers during overwrites see the old or the new content in full, never a mix', async () => {
    const key = `designs/${randomUUID()}/preview.png`;
    const versions = [randomBytes(512 * 1024), randomBytes(700 * 1024)];
    const allowed = new Set(versions.map(fingerprint));
    await layer.storage.put(key, versions[0]!, png);
    let writing = true;
    const writer = (async () => {
      for (let i = 1; i <= 12; i++) await layer.storage.put(key, i % 2 ? Readable.from([versions[1]!]) : versions[0]!, png);
      writing = false;
    })();
    const seen: string[] = [];
    const readers = Array.from({ length: 3 }, async () => {
      while (writing) seen.push(fingerprint(await readAll(await layer.storage.get(key))));
    });
    await Promise.all([writer, ...readers]);
    expect(seen.length).toBeGreaterThan(0);
    for (const f of seen) expect(allowed).toContain(f);
  });

  it('creates a missing LOCAL_STORAGE_PATH and its folders on first write (the seed\'s FileNotFoundError cannot happen)', async () => {
    const deep = path.join(root, 'not', 'there', 'yet', 'storage');
    const fresh = await createStorageLayer(localSettings(deep), { logger: silentLogger });
    const id = randomUUID();
    await fresh.repository.uploadDesignPreview(id, Buffer.from('preview'));
    await fresh.repository.uploadDesignThumbnail(id, Buffer.from('thumb'));
    // The seed's check: `ls ./storage/designs/{design_id}/` shows preview.png and thumbnail.png.
    // What `ls` shows (metadata sits beside each file as a dot-file).
    expect((await readdir(path.join(deep, 'designs', id))).filter((n) => !n.startsWith('.')).sort()).toEqual(['preview.png', 'thumbnail.png']);
    expect(await readFile(path.join(deep, 'designs', id, 'preview.png'), 'utf8')).toBe('preview');
  });
});

// Root bypasses permission bits, so the failures below are made for real with a tiny tmpfs
// (ENOSPC), a read-only remount (EROFS), an immutable folder (EPERM) and a dropped effective
// uid (EACCES). Each needs root; without it the test is skipped and says why.
const isRoot = process.getuid?.() === 0;
const canMount = isRoot && probe(() => {
  const dir = mkdtempSync(path.join(tmpdir(), 'customify-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
const canChattr = isRoot && probe(() => {
  const dir = mkdtempSync(path.join(tmpdir(), 'customify-chattr-probe-'));
  try {
    execFileSync('chattr', ['+i', dir], { stdio: 'ignore' });
    execFileSync('chattr', ['-i', dir], { stdio: 'ignore' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function probe(run: () => void): boolean {
  try {
    run();
    return true;
  } catch {
    return false;
  }
}

describe('local driver: file-system failures map to codes that say what to do', () => {
  let base: string;
  beforeAll(async () => {
    base = await createTempDir('fs-errors');
  });
  afterAll(async () => {
    await removeTempDir(base);
  });

  it('LOCAL_STORAGE_PATH is a regular file (EEXIST) or under one (ENOTDIR): STORAGE_ERROR "a file is in the way"', async () => {
    const file = path.join(base, 'a-file');
    await writeFile(file, 'not a folder');
    for (const [root, errno] of [[file, 'EEXIST'], [path.join(file, 'storage'), 'ENOTDIR']] as const) {
      const layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
      for (const run of [() => layer.storage.put('designs/x.png', Buffer.from('x'), png), () => layer.storage.exists('designs/x.png')]) {
        const error = await failure(run);
        expect({ code: error.code, errno: (error.cause as NodeJS.ErrnoException).code }).toEqual({ code: 'STORAGE_ERROR', errno });
        expect(error.message).toContain('LOCAL_STORAGE_PATH');
        expect(error.message).toContain(root);
      }
    }
    expect(await readFile(file, 'utf8')).toBe('not a folder');
  });

  describe.skipIf(!canMount)(`on a tmpfs we mount${canMount ? '' : ' (skipped: needs root to mount a tmpfs)'}`, () => {
    let mountPoint: string;
    let layer: StorageLayer;
    const key = `designs/${randomUUID()}/preview.png`;

    beforeAll(async () => {
      mountPoint = path.join(base, 'tmpfs');
      mkdirSync(mountPoint);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint]);
      layer = await createStorageLayer(localSettings(path.join(mountPoint, 'storage')), { logger: silentLogger });
      await layer.storage.put(key, Buffer.from('earlier'), png);
    });
    afterAll(() => {
      if (mountPoint) execFileSync('umount', ['-l', mountPoint]);
    });

    it('a full disk (ENOSPC): STORAGE_DISK_FULL, not retryable, no partial or temp file left', async () => {
      const before = await snapshotTree(mountPoint);
      for (const body of [randomBytes(1024 * 1024), Readable.from([randomBytes(1024 * 1024)])]) {
        const error = await failure(() => layer.storage.put(key, body, png));
        expect({ code: error.code, retryable: error.retryable, errno: (error.cause as NodeJS.ErrnoException).code })
          .toEqual({ code: 'STORAGE_DISK_FULL', retryable: false, errno: 'ENOSPC' });
        expect(error.message).toContain('LOCAL_STORAGE_PATH');
      }
      expect(await snapshotTree(mountPoint)).toEqual(before);
      expect((await readAll(await layer.storage.get(key))).toString()).toBe('earlier');
    });

    it('a read-only file system (EROFS): STORAGE_READ_ONLY for put and delete; reads still work', async () => {
      execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
      try {
        for (const run of [() => layer.storage.put(key, Buffer.from('new'), png), () => layer.storage.delete(key)]) {
          const error = await failure(run);
          expect({ code: error.code, errno: (error.cause as NodeJS.ErrnoException).code }).toEqual({ code: 'STORAGE_READ_ONLY', errno: 'EROFS' });
          expect(error.message).toContain('read-only');
        }
        expect((await readAll(await layer.storage.get(key))).toString()).toBe('earlier');
      } finally {
        execFileSync('mount', ['-o', 'remount,rw', mountPoint]);
      }
    });
  });

  it.skipIf(!canChattr)(`an immutable folder (EPERM): STORAGE_ACCESS_DENIED${canChattr ? '' : ' (skipped: needs root and chattr)'}`, async () => {
    const root = path.join(base, 'immutable');
    const layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
    const id = randomUUID();
    await layer.repository.uploadDesignPreview(id, Buffer.from('earlier'));
    const folder = path.join(root, 'designs', id);
    execFileSync('chattr', ['+i', folder]);
    try {
      for (const run of [() => layer.repository.uploadDesignThumbnail(id, Buffer.from('x')), () => layer.repository.deleteDesignAssets(id)]) {
        const error = await failure(run);
        expect({ code: error.code, errno: (error.cause as NodeJS.ErrnoException).code }).toEqual({ code: 'STORAGE_ACCESS_DENIED', errno: 'EPERM' });
        expect(error.message).toMatch(/writable/);
      }
    } finally {
      execFileSync('chattr', ['-i', folder]);
    }
    expect(await layer.storage.exists(`designs/${id}/preview.png`)).toBe(true);
  });

  it.skipIf(!isRoot)(`a folder this user cannot write (EACCES, as uid nobody): STORAGE_ACCESS_DENIED${isRoot ? '' : ' (skipped: needs root to switch uid)'}`, async () => {
    const root = path.join(base, 'not-mine');
    const layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
    await layer.storage.put('designs/kept.png', Buffer.from('kept'), png);
    await chmod(base, 0o755);
    process.seteuid!(65534);
    try {
      for (const run of [
        () => layer.repository.uploadDesignPreview(randomUUID(), Buffer.from('x')),
        () => layer.storage.delete('designs/kept.png'),
        () => createStorageLayer(localSettings(path.join(root, 'sub')), { logger: silentLogger }).then((l) => l.storage.put('designs/x.png', Buffer.from('x'), png)),
      ]) {
        const error = await failure(run);
        expect({ code: error.code, errno: (error.cause as NodeJS.ErrnoException).code }).toEqual({ code: 'STORAGE_ACCESS_DENIED', errno: 'EACCES' });
      }
      expect((await readAll(await layer.storage.get('designs/kept.png'))).toString()).toBe('kept');
    } finally {
      process.seteuid!(0);
    }
  });
});

describe('metadataImpliedByKey: what a key already says, so the local driver need not store it', () => {
  const id = randomUUID();
  it.each([
    [`designs/${id}/preview.png`, { design_id: id, type: 'preview' }],
    [`designs/${id}/thumbnail.png`, { design_id: id, type: 'thumbnail' }],
    [`designs/${id.toUpperCase()}/preview.png`, { design_id: id, type: 'preview' }],
    [`designs/${id}/poster.png`, {}],
    [`designs/${id}/preview.jpg`, {}],
    [`designs/${id}/x/preview.png`, {}],
    ['designs/not-a-uuid/preview.png', {}],
    [`other/${id}/preview.png`, {}],
  ])('%s', (key, expected) => {
    expect(metadataImpliedByKey(key)).toEqual(expected);
  });
});
