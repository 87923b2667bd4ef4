import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, fdatasync, fsync, open as openFd, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open, readdir, readFile, realpath, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { contentTypeOf } from '../shared/content-type.js';
import { keyToUrlPath, metadataImpliedByKey } from './keys.js';
import type { Body, ObjectInfo, ObjectListPage, ObjectStoreDriver, PutOptions, StaleTempFileOptions, StoredObject, TempFileInfo } from './object-store.js';
import { FolderRefusedError, makeFolders } from './make-folders.js';
import { StorageError } from './storage-errors.js';

export interface LocalDriverOptions {
  /** The folder that holds every object; created on first write. */
  root: string;
  /** Objects are served at `{publicBaseUrl}/static/{key}`. */
  publicBaseUrl: string;
  /** fsync files and folders so a crash right after `put` keeps the object. Default true. */
  durable?: boolean;
}

// Content type and metadata that the key does not already imply live beside the data in a
// dot-file (`.preview.png.meta.json`): no valid key can name it, listings skip it, and it
// shares the folder the data write checked.
/** `writeAtomic`'s temp files: `.{name}.{12 hex}.tmp`, beside the final file. */
const TEMP_FILE = /^\..+\.[0-9a-f]{12}\.tmp$/;
const tempPathOf = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
const metaPathOf = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.meta.json`);

// Cache-Control is not kept: the static route sets its own.
interface MetaFile { contentType: string; metadata: Record<string, string> }

/** A folder ready for writes, and (durable mode, new folder) the sync of its parents still under way. */
interface FolderReady { parentsSynced: Promise<void> | undefined }

const openAsync = promisify(openFd);
const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

/**
 * How a put spends its file-system calls. Each asynchronous call's hand-off to libuv's threads
 * and back cost about 90 µs of CPU on the 2-core machines measured, while a synchronous
 * realpath, stat, write into the page cache, rename or close takes a few µs: a render's two
 * files took some 25 asynchronous calls, about a tenth of its CPU. So those run synchronously,
 * and only what can wait on the disk's journal stays asynchronous: creating a file or folder
 * (measured: synchronous creates held the event loop while other puts' fsyncs ran) and the
 * flushes themselves (BENCHMARKS.md, "Fewer thread hand-offs per render"). Bodies above this
 * size and streams are written asynchronously, so a big upload never holds the event loop.
 */
const SYNC_WRITE_MAX_BYTES = 1024 * 1024;

/** What the key alone says: the extension's content type, and a design asset's `{design_id, type}`. */
function impliedMeta(key: string): MetaFile {
  return { contentType: contentTypeOf(key), metadata: metadataImpliedByKey(key) };
}

function sameMeta(a: MetaFile, b: MetaFile): boolean {
  const keys = Object.keys(a.metadata);
  return a.contentType === b.contentType && keys.length === Object.keys(b.metadata).length && keys.every((k) => a.metadata[k] === b.metadata[k]);
}

/** Local-disk driver: the seed's `local_storage.py`, with atomic writes and a root no key can leave. */
export class LocalDriver implements ObjectStoreDriver {
  readonly kind = 'local' as const;
  readonly root: string;
  private readonly publicBaseUrl: string;
  private readonly durable: boolean;
  private realRoot: string | undefined;
  private readonly folderSyncs = new Map<string, Promise<void>>();
  private readonly folderCreations = new Map<string, Promise<FolderReady>>();
  /** Syncs of the parents of folders this driver created, until they settle. */
  private readonly parentSyncs = new Map<string, Promise<void>>();

  constructor(options: LocalDriverOptions) {
    this.root = path.resolve(options.root);
    this.publicBaseUrl = options.publicBaseUrl.replace(/\/+$/, '');
    this.durable = options.durable ?? true;
  }

  async put(key: string, body: Body, options: PutOptions): Promise<void> {
    const { target: file, parentsSynced } = await this.pathForWrite(key);
    const meta: MetaFile = { contentType: options.contentType, metadata: options.metadata ?? {} };
    try {
      // Data first: an upload that fails mid-stream must leave the earlier object whole, its
      // metadata included. Metadata without fsync: it only adds to what the key and extension
      // tell, so losing it in a power cut costs little, while syncing it would double the fsyncs.
      await this.writeAtomic(file, body, this.durable);
      // Creating a file is the dearest step of a small write, so metadata the key already
      // implies (every design asset's) gets no file; one left by an earlier put is removed.
      if (sameMeta(meta, impliedMeta(key))) removeIfPresent(metaPathOf(file));
      else await this.writeAtomic(metaPathOf(file), Buffer.from(JSON.stringify(meta)), false);
      await parentsSynced;
    } catch (error) {
      throw mapFsError(error, key, 'write');
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const file = await this.pathForRead(key);
    try {
      const info = await stat(file);
      if (!info.isFile()) return null;
      const meta = await this.readMeta(key, file);
      return { key, size: info.size, lastModified: info.mtime, contentType: meta.contentType, metadata: meta.metadata };
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return null;
      throw mapFsError(error, key, 'read');
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== null;
  }

  async get(key: string): Promise<StoredObject> {
    const info = await this.head(key);
    if (!info) throw new StorageError('STORAGE_OBJECT_NOT_FOUND', `No object at key "${key}" in ${this.root}.`, { details: { key } });
    const file = await this.pathForRead(key);
    return { ...info, body: createReadStream(file) };
  }

  async delete(key: string): Promise<boolean> {
    const file = await this.pathForRead(key);
    try {
      await unlink(file);
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return false;
      throw mapFsError(error, key, 'delete');
    }
    await rm(metaPathOf(file), { force: true }).catch(() => undefined);
    await this.pruneEmptyFolders(path.dirname(file));
    return true;
  }

  async deleteMany(keys: string[]): Promise<string[]> {
    const deleted: string[] = [];
    for (const key of keys) if (await this.delete(key)) deleted.push(key);
    return deleted;
  }

  async deletePrefix(prefix: string): Promise<number> {
    let count = 0;
    // Collect first: deleting while walking would shift the listing under us.
    const keys = (await this.walk(prefix)).map((o) => o.key);
    for (const key of keys) if (await this.delete(key)) count++;
    return count;
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<ObjectListPage> {
    const limit = Math.min(Math.max(options.limit ?? 1000, 1), 1000);
    const found = await this.walk(prefix, { after: options.cursor, max: limit + 1 });
    const objects = found.slice(0, limit);
    return { objects, nextCursor: found.length > limit ? objects[objects.length - 1]!.key : undefined };
  }


  publicUrl(key: string): string {
    return `${this.publicBaseUrl}/static/${keyToUrlPath(key)}`;
  }

  /** Files are served as they are: the signed URL is the public one (async for the driver contract). */
  signedUrl(key: string): Promise<string> {
    return Promise.resolve(this.publicUrl(key));
  }

  async close(): Promise<void> {}

  /**
   * A SIGKILL or power cut between a temp file's creation and its rename leaves it (perhaps
   * empty) beside the object. Listings skip dot-files, so only this finds them: every folder
   * under the prefix's deepest folder is read; a folder emptied by it is pruned.
   */
  async removeStaleTempFiles(options: StaleTempFileOptions): Promise<TempFileInfo[]> {
    const prefix = options.prefix ?? '';
    const cutoff = (options.now ?? new Date()).getTime() - options.olderThanMs;
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = folder ? await this.pathForRead(folder) : await this.getRealRoot();
    const found: TempFileInfo[] = [];
    const visit = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isErrno(error, 'ENOENT', 'ENOTDIR')) return;
        throw mapFsError(error, rel || '/', 'list');
      }
      let removedHere = false;
      for (const entry of entries) {
        const entryRel = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          // Keys have no dot-segments: a dot-folder is not ours.
          if (!entry.name.startsWith('.') && `${entryRel}/`.startsWith(prefix.slice(0, entryRel.length + 1))) await visit(path.join(dir, entry.name), entryRel);
          continue;
        }
        if (!entry.isFile() || !TEMP_FILE.test(entry.name)) continue;
        // The object a temp file stands for must be under the prefix: `.preview.png.x.tmp` for `designs/id/preview.png`.
        const objectKey = `${rel ? `${rel}/` : ''}${entry.name.slice(1).replace(/\.[0-9a-f]{12}\.tmp$/, '')}`;
        if (!objectKey.startsWith(prefix)) continue;
        const file = path.join(dir, entry.name);
        const info = await stat(file).catch(() => undefined);
        if (!info || info.mtimeMs >= cutoff) continue;
        if (!options.dryRun) {
          try {
            await unlink(file);
          } catch (error) {
            if (isErrno(error, 'ENOENT')) continue; // its write finished or another sweep took it
            throw mapFsError(error, entryRel, 'delete');
          }
          removedHere = true;
        }
        found.push({ path: entryRel, size: info.size, lastModified: info.mtime });
      }
      // A folder a crash left holding only a temp file goes too (rmdir fails unless it is empty now).
      if (removedHere) await this.pruneEmptyFolders(dir);
    };
    await visit(start, folder);
    return found;
  }

  /**
   * Objects under `prefix` in key order (as S3 sorts ASCII keys), after `after`, at most `max`.
   * Folders are read in order and skipped whole when the cursor is past them, so each page
   * reads about one page of entries rather than the whole tree.
   */
  private async walk(prefix: string, options: { after?: string; max?: number } = {}): Promise<ObjectInfo[]> {
    const { after, max = Number.POSITIVE_INFINITY } = options;
    // Start at the deepest folder the prefix names, so listing one design reads one folder.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = folder ? await this.pathForRead(folder) : this.root;
    const found: ObjectInfo[] = [];
    const visit = async (dir: string, keyPrefix: string): Promise<boolean> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
        throw mapFsError(error, keyPrefix, 'list');
      }
      // A folder sorts as its name plus "/", exactly where its keys sort among its siblings.
      const items = entries
        .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || e.isFile())) // not temp files or metadata
        .map((e) => ({ entry: e, key: `${keyPrefix}${e.name}${e.isDirectory() ? '/' : ''}` }))
        .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
      for (const { entry, key } of items) {
        if (entry.isDirectory()) {
          if (!prefix.startsWith(key) && !key.startsWith(prefix)) continue;
          if (after !== undefined && key < after && !after.startsWith(key)) continue;
          if (await visit(path.join(dir, entry.name), key)) return true;
        } else if (key.startsWith(prefix) && (after === undefined || key > after)) {
          const info = await stat(path.join(dir, entry.name)).catch(() => undefined);
          if (info) found.push({ key, size: info.size, lastModified: info.mtime });
          if (found.length >= max) return true;
        }
      }
      return false;
    };
    await visit(start, folder ? `${folder}/` : '');
    return found;
  }


  private async writeAtomic(file: string, body: Body, durable: boolean): Promise<void> {
    const temp = tempPathOf(file);
    try {
      if (body instanceof Readable) {
        await pipeline(body, createWriteStream(temp, { flags: 'wx' }));
        if (durable) await fsyncPath(temp, 'r+');
      } else if (body.byteLength <= SYNC_WRITE_MAX_BYTES) {
        const fd = await openAsync(temp, 'wx');
        try {
          for (let at = 0; at < body.byteLength; ) at += writeSync(fd, body, at);
          if (durable) await fdatasyncAsync(fd);
        } finally {
          closeSync(fd);
        }
      } else {
        const handle = await open(temp, 'wx');
        try {
          await handle.writeFile(body);
          if (durable) await handle.datasync();
        } finally {
          await handle.close();
        }
      }
      renameSync(temp, file);
      if (durable) await this.syncFolder(path.dirname(file));
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * fsync of a folder, shared by every caller that asks before it starts: a design's preview
   * and thumbnail land in one folder at once, and one sync covers both renames. A caller never
   * joins a sync that has already started, which might not cover its rename.
   */
  private syncFolder(dir: string): Promise<void> {
    const queued = this.folderSyncs.get(dir);
    if (queued) return queued;
    const sync = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.folderSyncs.delete(dir);
      return fsyncPath(dir, 'r');
    });
    this.folderSyncs.set(dir, sync);
    return sync;
  }

  private async readMeta(key: string, file: string): Promise<MetaFile> {
    const implied = impliedMeta(key);
    try {
      return { ...implied, ...(JSON.parse(await readFile(metaPathOf(file), 'utf8')) as Partial<MetaFile>) };
    } catch {
      // No metadata file: the put added nothing to what the key implies, or the object was copied in by hand.
      return implied;
    }
  }

  private async pruneEmptyFolders(dir: string): Promise<void> {
    for (let current = dir; current.startsWith(this.root + path.sep); current = path.dirname(current)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty, or already gone
      }
    }
  }

  private async getRealRoot(): Promise<string> {
    if (!this.realRoot) {
      try {
        await makeFolders(this.root);
        this.realRoot = await realpath(this.root);
      } catch (error) {
        throw mapFsError(error, this.root, 'create folder');
      }
    }
    return this.realRoot;
  }

  /** The path of `key` under the root, by name alone. Keys are validated above the driver; this is the second wall. */
  private async resolveInRoot(key: string): Promise<{ root: string; target: string }> {
    const root = await this.getRealRoot();
    const target = path.resolve(root, key);
    if (!target.startsWith(root + path.sep) || key.split('/').some((s) => s.startsWith('.'))) {
      throw new StorageError('STORAGE_INVALID_KEY', `Key "${key}" resolves outside the storage root ${this.root}.`, { field: 'key' });
    }
    return { root, target };
  }

  private assertInside(root: string, real: string, key: string): void {
    if (real !== root && !real.startsWith(root + path.sep)) {
      throw new StorageError('STORAGE_INVALID_KEY', `Key "${key}" leads outside the storage root ${this.root} through a symbolic link.`, { field: 'key' });
    }
  }

  /** For reads and deletes: the path of `key`, refusing one that a symlink leads out of the root. */
  private async pathForRead(key: string): Promise<string> {
    const { root, target } = await this.resolveInRoot(key);
    this.assertInside(root, realpathOfExisting(target), key);
    return target;
  }

  /**
   * For writes: only the folder matters, since rename replaces a link at the final name and
   * never follows it. One realpath when the folder exists; when it doesn't, its nearest
   * existing ancestor is checked before mkdir (so a link can't make us create folders
   * outside), and the folder again after (one may have become a link meanwhile).
   */
  private async pathForWrite(key: string): Promise<{ target: string } & FolderReady> {
    const { root, target } = await this.resolveInRoot(key);
    const dir = path.dirname(target);
    const existing = realpathOrUndefined(dir);
    if (existing !== undefined) {
      this.assertInside(root, existing, key);
      // Rename would replace a link at the final name rather than follow it; refuse it anyway, as reads do.
      const final = realpathOrUndefined(target);
      if (final !== undefined) this.assertInside(root, final, key);
      // The folder may be one another put has just created, whose parents are still syncing.
      return { target, parentsSynced: this.parentSyncs.get(dir) };
    }
    let creating = this.folderCreations.get(dir);
    if (!creating) {
      creating = this.createFolder(root, dir, key).finally(() => this.folderCreations.delete(dir));
      this.folderCreations.set(dir, creating);
    }
    try {
      return { target, ...(await creating) };
    } catch (error) {
      throw mapFsError(error, key, 'create folder');
    }
  }

  /**
   * mkdir -p of a missing folder, checked before and after; a design's preview and thumbnail,
   * put at once, share one. With durable writes, the parents that gained a folder are synced
   * while the data is written: a new folder's name lives in its parent, and a power cut could
   * otherwise take the folder and the objects put into it. Puts wait for it before they return.
   */
  private async createFolder(root: string, dir: string, key: string): Promise<FolderReady> {
    // The folder itself was just found missing: start from its parent.
    this.assertInside(root, path.join(realpathOfExisting(path.dirname(dir)), path.basename(dir)), key);
    const first = await makeFolders(dir);
    this.assertInside(root, realpathSync.native(dir), key);
    if (!this.durable || first === undefined) return { parentsSynced: undefined };
    const parents: string[] = [];
    for (let created = dir; created.length >= first.length; created = path.dirname(created)) parents.push(path.dirname(created));
    const parentsSynced = Promise.all(parents.map((parent) => this.syncFolder(parent))).then(() => undefined);
    this.parentSyncs.set(dir, parentsSynced);
    // Awaited by every put into the folder once its data is written; until then a failure must not count as unhandled.
    parentsSynced.catch(() => undefined).finally(() => this.parentSyncs.delete(dir));
    return { parentsSynced };
  }

}

function realpathOfExisting(target: string): string {
  const missing: string[] = [];
  let current = target;
  for (;;) {
    try {
      return path.join(realpathSync.native(current), ...missing.reverse());
    } catch (error) {
      if (!isErrno(error, 'ENOENT', 'ENOTDIR')) throw error;
      const parent = path.dirname(current);
      if (parent === current) return target;
      missing.push(path.basename(current));
      current = parent;
    }
  }
}

async function fsyncPath(target: string, flags: 'r' | 'r+'): Promise<void> {
  const fd = openSync(target, flags);
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The real path of `target`, or undefined when it cannot be resolved (missing, or not reachable). */
function realpathOrUndefined(target: string): string | undefined {
  try {
    return realpathSync.native(target);
  } catch {
    return undefined;
  }
}

/** Removes `file` if it is there (a stat first: a failed unlink's error costs more than the stat). */
function removeIfPresent(file: string): void {
  if (!statSync(file, { throwIfNoEntry: false })) return;
  try {
    unlinkSync(file);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

type FsAction = 'read' | 'write' | 'delete' | 'list' | 'create folder';

/**
 * An fs error → StorageError, by errno and by the action that failed: ENOENT means "no such
 * object" only for a read. A write or a folder creation that meets ENOENT has another cause
 * (a folder removed meanwhile, a file system that takes no folders), never a missing object.
 */
export function mapFsError(error: unknown, key: string, action: FsAction): StorageError {
  if (error instanceof StorageError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `"${key}"`;
  switch (code) {
    case 'ENOSPC':
      return new StorageError('STORAGE_DISK_FULL', `The disk holding LOCAL_STORAGE_PATH is full: could not ${action} ${where}. Free space (customify cleanup --older-than 90d) or point LOCAL_STORAGE_PATH at a larger volume.`, { cause: error });
    case 'EDQUOT':
      return new StorageError('STORAGE_QUOTA_EXCEEDED', `This user's disk quota on the file system holding LOCAL_STORAGE_PATH is used up: could not ${action} ${where}. Raise the quota (edquota / setquota) or free space (customify cleanup --older-than 90d).`, { cause: error });
    case 'EROFS':
      return new StorageError('STORAGE_READ_ONLY', `LOCAL_STORAGE_PATH is on a read-only file system: could not ${action} ${where}. Mount it read-write (mount -o remount,rw, or drop :ro from the container volume) or choose another folder.`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new StorageError('STORAGE_ACCESS_DENIED', `Permission denied to ${action} ${where} under LOCAL_STORAGE_PATH. Make the folder writable by this process (e.g. chown or chmod -R u+rwX), and check it is not immutable (lsattr).`, { cause: error });
    case 'ENOTDIR':
    case 'EEXIST':
      return new StorageError('STORAGE_ERROR', `A file is in the way: could not ${action} ${where} because LOCAL_STORAGE_PATH or a folder under it is a regular file. Move that file, or set LOCAL_STORAGE_PATH to a folder.`, { cause: error });
    case 'ENOENT':
      if (action === 'read') return new StorageError('STORAGE_OBJECT_NOT_FOUND', `No object at key ${where}.`, { cause: error });
      if (error instanceof FolderRefusedError || action === 'create folder') {
        return new StorageError('STORAGE_ERROR', `Could not ${action} for ${where}: ${(error as Error).message}. Set LOCAL_STORAGE_PATH to a folder on a real disk.`, { cause: error });
      }
      // The folder was there a moment ago: a concurrent delete pruned it. Trying again recreates it.
      return new StorageError('STORAGE_ERROR', `Could not ${action} ${where}: its folder was removed while writing (a concurrent delete?); retry.`, { cause: error, retryable: true });
    case 'EMFILE':
    case 'ENFILE':
    case 'EBUSY':
    case 'EAGAIN':
      return new StorageError('STORAGE_UNAVAILABLE', `The file system is busy (${code}) while trying to ${action} ${where}; retry shortly.`, { cause: error, retryable: true });
    default:
      return new StorageError('STORAGE_ERROR', `Could not ${action} ${where} on local storage: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}
