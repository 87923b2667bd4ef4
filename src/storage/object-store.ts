import type { Readable } from 'node:stream';

/** What an upload accepts: bytes in memory, or a readable stream (read once, to the end). */
export type Body = Buffer | Uint8Array | Readable;

export interface PutOptions {
  contentType: string;
  metadata?: Record<string, string>;
  cacheControl?: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface ObjectListPage {
  objects: ObjectInfo[];
  /** Pass back as `cursor` for the next page; undefined on the last page. */
  nextCursor?: string;
}

export interface StoredObject extends ObjectInfo {
  body: Readable;
}

/**
 * The object-store driver contract: the few operations both S3 and the local disk can do.
 *
 * Keys reach a driver already validated (see `keys.ts`); drivers never see `..`, absolute
 * paths or dot-segments. Errors: every method throws a `StorageError` with a stable code,
 * the original error as `cause` (STORAGE_ACCESS_DENIED, STORAGE_BUCKET_NOT_FOUND,
 * STORAGE_UNAVAILABLE, ...); missing objects are not errors for `head`, `exists` and
 * `delete` (null / false), and STORAGE_OBJECT_NOT_FOUND for `get`.
 */
export interface ObjectStoreDriver {
  readonly kind: 's3' | 'local';
  /** Stores the body under `key`, replacing any object there. Readers never see a partial object. */
  put(key: string, body: Body, options: PutOptions): Promise<void>;
  head(key: string): Promise<ObjectInfo | null>;
  exists(key: string): Promise<boolean>;
  get(key: string): Promise<StoredObject>;
  /** True if an object was there and is now gone; false if there was none. */
  delete(key: string): Promise<boolean>;
  /** Deletes every object whose key starts with `prefix`, in batches; returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** Keys starting with `prefix` in lexicographic (UTF-8 byte) order, `limit` (max 1000) at a time. */
  list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<ObjectListPage>;
  /** Deletes up to 1,000 keys in one call; returns the keys deleted. */
  deleteMany(keys: string[]): Promise<string[]>;
  /** The public URL of `key`: S3, CloudFront, the custom endpoint or the local static route. */
  publicUrl(key: string): string;
  /** A URL that grants GET on `key` for `expiresInSeconds`. The local driver returns its public URL. */
  signedUrl(key: string, expiresInSeconds: number): Promise<string>;
  /** Releases sockets and handles. */
  close(): Promise<void>;
  /**
   * Removes what writes a crash interrupted left behind (the local driver's
   * `.{name}.{hex}.tmp` files) last modified more than `olderThanMs` ago, under `prefix`;
   * with `dryRun`, only reports them. Younger ones may be a write still in progress, in this
   * process or another, and are kept. Optional: a driver whose writes leave nothing behind
   * has none. Throws StorageError as `list` does.
   */
  removeStaleTempFiles?(options: StaleTempFileOptions): Promise<TempFileInfo[]>;
}

export interface StaleTempFileOptions {
  olderThanMs: number;
  /** A key prefix; '' for everything. */
  prefix?: string;
  dryRun?: boolean;
  now?: Date;
}

/** A temp file left by an interrupted write: its path relative to the storage root. */
export interface TempFileInfo {
  path: string;
  size: number;
  lastModified: Date;
}

/**
 * How old a temp file must be before it is taken for a crash's leftover: far longer than any
 * write takes (a write updates the file's mtime as it goes), short enough to free space the
 * same day.
 */
export const STALE_TEMP_FILE_AGE_MS = 60 * 60_000;

/** Every page of a listing, one after another. */
export async function* listAll(driver: Pick<ObjectStoreDriver, 'list'>, prefix: string, pageSize = 1000): AsyncGenerator<ObjectInfo> {
  let cursor: string | undefined;
  do {
    const page = await driver.list(prefix, { cursor, limit: pageSize });
    yield* page.objects;
    cursor = page.nextCursor;
  } while (cursor);
}
