import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { createStorageLayer, StorageError, type StorageErrorCode } from '../../src/storage/index.js';
import { mapFsError } from '../../src/storage/local.driver.js';
import { makeFolders } from '../../src/storage/make-folders.js';
import { localSettings } from '../helpers/tmp.js';

/**
 * Local storage errors are mapped by the action that failed and the real errno: a read-only
 * disk is not "object not found", and a path the kernel refuses folders in (/proc) fails once
 * instead of looping in Node's recursive mkdir (issue #9 items 13 and 14).
 */

const png = { contentType: 'image/png' };
const isRoot = process.getuid?.() === 0;

async function failure(run: () => Promise<unknown>): Promise<StorageError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(StorageError);
    return error as StorageError;
  }
  throw new Error('expected a StorageError');
}

describe.skipIf(!isRoot)(`on a read-only tmpfs${isRoot ? '' : ' (skipped: needs root to mount)'}`, () => {
  let mountPoint: string;

  beforeAll(() => {
    mountPoint = mkdtempSync(path.join(tmpdir(), 'customify-rofs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint]);
    mkdirSync(path.join(mountPoint, 'storage', 'designs'), { recursive: true });
    execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
  });
  afterAll(() => {
    if (!mountPoint) return;
    execFileSync('umount', ['-l', mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  // Each put needs folders that do not exist yet: the case Node's recursive mkdir reported as ENOENT.
  it.each([
    ['a new design folder under an existing root', () => path.join(mountPoint, 'storage')],
    ['a root that does not exist yet', () => path.join(mountPoint, 'new', 'storage')],
  ])('a put into %s fails with STORAGE_READ_ONLY (EROFS), not STORAGE_OBJECT_NOT_FOUND', async (_label, root) => {
    const { storage, repository } = await createStorageLayer(localSettings(root()), { logger: silentLogger });
    const id = randomUUID();
    for (const run of [
      () => storage.put(`designs/${id}/preview.png`, Buffer.from('x'), png),
      () => repository.uploadDesignPreview(id, Buffer.from('x')),
    ]) {
      const error = await failure(run);
      expect({ code: error.code, retryable: error.retryable, errno: (error.cause as NodeJS.ErrnoException).code })
        .toEqual({ code: 'STORAGE_READ_ONLY', retryable: false, errno: 'EROFS' });
      expect(error.message).toContain('read-only');
      expect(error.message).toContain('LOCAL_STORAGE_PATH');
    }
    expect(existsSync(path.join(root(), 'designs', id))).toBe(false);
  });

  it('makeFolders reports EROFS for the first folder it cannot create', async () => {
    await expect(makeFolders(path.join(mountPoint, 'a', 'b', 'c'))).rejects.toMatchObject({ code: 'EROFS', path: path.join(mountPoint, 'a') });
  });
});

describe('a storage path under /proc', () => {
  it('a put fails once with a message naming the folder and what to do (no endless mkdir loop)', async () => {
    const root = `/proc/customify-${randomUUID()}`;
    const { storage } = await createStorageLayer(localSettings(root), { logger: silentLogger });
    const error = await failure(() => storage.put('designs/x/preview.png', Buffer.from('x'), png));
    expect(error.code).toBe('STORAGE_ERROR');
    expect(error.code).not.toBe('STORAGE_OBJECT_NOT_FOUND');
    expect(error.message).toContain(root);
    expect(error.message).toContain('virtual file system');
    expect(error.message).toContain('Set LOCAL_STORAGE_PATH');
  });
});

describe('mapFsError', () => {
  const errno = (code: string) => Object.assign(new Error(`${code}: test`), { code });
  it.each([
    ['ENOSPC', 'write', 'STORAGE_DISK_FULL', /Free space/],
    ['EDQUOT', 'write', 'STORAGE_QUOTA_EXCEEDED', /quota/],
    ['EROFS', 'create folder', 'STORAGE_READ_ONLY', /read-write/],
    ['EACCES', 'write', 'STORAGE_ACCESS_DENIED', /writable/],
    ['EPERM', 'delete', 'STORAGE_ACCESS_DENIED', /immutable/],
    ['ENOENT', 'read', 'STORAGE_OBJECT_NOT_FOUND', /No object/],
    ['ENOENT', 'write', 'STORAGE_ERROR', /removed while writing/],
    ['ENOENT', 'create folder', 'STORAGE_ERROR', /LOCAL_STORAGE_PATH/],
  ] as const)('%s while trying to %s → %s', (code, action, expected: StorageErrorCode, message) => {
    const original = errno(code);
    const mapped = mapFsError(original, 'designs/x/preview.png', action);
    expect(mapped.code).toBe(expected);
    expect(mapped.message).toMatch(message);
    expect(mapped.cause).toBe(original);
  });
});
