import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FileStore } from '@tus/file-store';
import { ERRORS, type DataStore, type KvStore, type Upload } from '@tus/server';
import { isUploadId, uploadKeys } from './upload.js';

/**
 * Where resumable (tus) uploads keep their bytes while they arrive, local disk or S3 alike:
 *
 *   staging/{id}                the bytes themselves: the very key a direct upload is staged at,
 *                               so a finished tus upload is already where the pipeline reads it
 *                               (S3: a multipart upload on that key, completed with the last part;
 *                               local: the file, written in place)
 *   staging/tus/{id}.info       S3: the upload's tus record (length, metadata, multipart id)
 *   staging/tus/{id}.part       S3: the tail shorter than a part, until more bytes come
 *   staging/tus/{id}.json       local: the upload's tus record
 *
 * `staging/` is private (not in PUBLIC_PREFIXES): nothing here is ever given a URL. The tus
 * file id is the storage key `staging/{id}`; URLs carry only the `{id}`, which is also the
 * id of the upload row created when the last byte arrives.
 */
export const TUS_PREFIX = 'staging/tus/';

/** What the tus mount, the cleanup command and the benchmark need of a store. */
export interface TusStagingStore {
  readonly kind: 'local' | 's3';
  readonly datastore: DataStore;
  /** The owner recorded at creation, or null when there is no such unfinished upload. */
  ownerOf(uploadId: string): Promise<string | null>;
  /** The bytes are complete at `staging/{id}`: drops the tus record, so the upload is no longer resumable. */
  finish(uploadId: string): Promise<void>;
  /**
   * Unfinished uploads created more than the expiry before `now`: their bytes, records and
   * (S3) multipart uploads are removed, unless `dryRun`. S3 also aborts any other multipart
   * upload under `staging/` started before then (a direct upload a crash interrupted).
   */
  removeExpired(options: { now: Date; dryRun: boolean }): Promise<ExpiredTusUpload[]>;
  /** Releases sockets. */
  close(): void;
}

export interface ExpiredTusUpload {
  /** The upload id, or the storage key for a stray multipart upload. */
  id: string;
  createdAt: Date;
}

/** `staging/{id}` → `{id}`; undefined for anything else. */
export function uploadIdOfFileId(fileId: string): string | undefined {
  const id = fileId.startsWith('staging/') ? fileId.slice('staging/'.length) : undefined;
  return id && isUploadId(id) ? id.toLowerCase() : undefined;
}

export const fileIdOf = (uploadId: string): string => uploadKeys.staging(uploadId);

const OWNER = 'owner';
/** The metadata key holding the owner: set by the server at creation, never by the client. */
export const OWNER_METADATA_KEY = OWNER;

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code;
}

/** The tus records of the file store, as `staging/tus/{id}.json` (the bytes are beside, at `staging/{id}`). */
class StagingRecords implements KvStore<Upload> {
  constructor(private readonly dir: string) {}

  private file(key: string): string {
    const id = uploadIdOfFileId(key);
    // @tus/server answers its own refusals, plain objects, with their status (404 here).
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    if (!id) throw ERRORS.FILE_NOT_FOUND;
    return path.join(this.dir, `${id}.json`);
  }

  async get(key: string): Promise<Upload | undefined> {
    try {
      return JSON.parse(await readFile(this.file(key), 'utf8')) as Upload;
    } catch (error) {
      if (isErrno(error, 'ENOENT') || error === ERRORS.FILE_NOT_FOUND) return undefined;
      throw error;
    }
  }

  async set(key: string, value: Upload): Promise<void> {
    const file = this.file(key);
    await mkdir(this.dir, { recursive: true });
    // Atomic, so a crash never leaves half a record (which would make the upload unreadable).
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(value));
    await rename(temp, file);
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((name) => name.endsWith('.json')).map((name) => fileIdOf(name.slice(0, -'.json'.length))).filter(Boolean);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
  }
}

/** Local mode: @tus/file-store rooted at LOCAL_STORAGE_PATH. (S3 mode: tus-s3.store.ts, loaded only in S3 mode.) */
export class LocalTusStore implements TusStagingStore {
  readonly kind = 'local' as const;
  readonly datastore: FileStore;
  private readonly records: StagingRecords;

  constructor(options: { root: string; expiryMs: number }) {
    const root = path.resolve(options.root);
    this.records = new StagingRecords(path.join(root, ...TUS_PREFIX.split('/').filter(Boolean)));
    this.datastore = new FileStore({ directory: root, configstore: this.records, expirationPeriodInMilliseconds: options.expiryMs });
  }

  async ownerOf(uploadId: string): Promise<string | null> {
    const record = await this.records.get(fileIdOf(uploadId));
    return record?.metadata?.[OWNER] ?? null;
  }

  async finish(uploadId: string): Promise<void> {
    await this.records.delete(fileIdOf(uploadId));
  }

  async removeExpired(options: { now: Date; dryRun: boolean }): Promise<ExpiredTusUpload[]> {
    const expired: ExpiredTusUpload[] = [];
    const expiry = this.datastore.getExpiration();
    for (const fileId of await this.records.list()) {
      const record = await this.records.get(fileId);
      const createdAt = new Date(record?.creation_date ?? 0);
      if (createdAt.getTime() + expiry >= options.now.getTime()) continue;
      expired.push({ id: uploadIdOfFileId(fileId)!, createdAt });
      if (options.dryRun) continue;
      // The bytes may already be gone (a crash between the two removals): the record still goes.
      await rm(path.join(this.datastore.directory, fileId), { force: true });
      await this.records.delete(fileId);
    }
    return expired;
  }

  close(): void {}

  /** Bytes received so far (for tests and the benchmark). */
  async receivedBytes(uploadId: string): Promise<number> {
    return (await stat(path.join(this.datastore.directory, fileIdOf(uploadId)))).size;
  }
}
