import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * `mkdir -p` that reports the real reason a folder cannot be made, and always ends.
 *
 * Node's `mkdir(dir, { recursive: true })` (libuv's mkdirp) answers ENOENT for any failure
 * it meets after walking up: on a read-only mount the EROFS of the first missing folder is
 * lost, so a write looked like "object not found". And where the kernel answers ENOENT for
 * a folder whose parent exists (/proc, /sys), it retries the parent and the child forever at
 * 100% CPU. Here the nearest existing ancestor is found with stat, and each missing folder
 * is created on its own, once: its errno is the real one, and an ENOENT under an existing
 * parent is reported (as FolderRefusedError) instead of retried.
 *
 * Returns the topmost folder this call created, or undefined when `dir` already existed
 * (as `mkdir` with `recursive` does). Throws the errno error of the step that failed: EEXIST
 * when `dir` is a file, ENOTDIR when a folder above it is.
 *
 * The walk up stats synchronously and mkdir stays asynchronous, as the local driver's puts
 * do (local.driver.ts, SYNC_WRITE_MAX_BYTES, says why).
 */
export async function makeFolders(dir: string): Promise<string | undefined> {
  const missing: string[] = [];
  for (let current = path.resolve(dir); ; ) {
    try {
      const info = statSync(current);
      // Only `dir` itself can be found a file here (under a file, stat answers ENOTDIR): EEXIST, as mkdir says.
      if (!info.isDirectory()) throw errnoError('EEXIST', `a file, not a folder: ${current}`, current);
      break;
    } catch (error) {
      if (!hasCode(error, 'ENOENT')) throw error;
      const parent = path.dirname(current);
      if (parent === current) throw error;
      missing.push(current);
      current = parent;
    }
  }
  let first: string | undefined;
  for (const folder of missing.reverse()) {
    try {
      await mkdir(folder);
      first ??= folder;
    } catch (error) {
      // Another writer made it meanwhile: fine, as long as it is a folder.
      if (hasCode(error, 'EEXIST') && isFolder(folder)) continue;
      if (hasCode(error, 'ENOENT')) throw new FolderRefusedError(folder, error);
      throw error;
    }
  }
  return first;
}

/**
 * The file system answered ENOENT to creating `folder` although its parent exists: a virtual
 * file system (/proc, /sys) that takes no folders, or the parent was removed meanwhile.
 * Keeps `code` ENOENT (and the original as `cause`) so errno-based callers still see it.
 */
export class FolderRefusedError extends Error {
  readonly code = 'ENOENT';
  readonly folder: string;

  constructor(folder: string, cause: unknown) {
    super(`cannot create the folder ${folder}: the file system refuses new folders in ${path.dirname(folder)} (a virtual file system such as /proc or /sys?), or that folder was removed meanwhile`, { cause });
    this.name = 'FolderRefusedError';
    this.folder = folder;
  }
}

function isFolder(target: string): boolean {
  try {
    return statSync(target).isDirectory();
  } catch {
    return false;
  }
}

function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

function errnoError(code: string, message: string, where: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code, path: where });
}
