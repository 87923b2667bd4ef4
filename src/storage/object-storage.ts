import { pipeline, Readable, Transform } from 'node:stream';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { assertValidKey, assertValidPrefix, isPrintFileKey, PUBLIC_PREFIXES } from './keys.js';
import type { Body, ObjectInfo, ObjectListPage, ObjectStoreDriver, PutOptions, StaleTempFileOptions, StoredObject, TempFileInfo } from './object-store.js';
import { noopObserver, type StorageObserver } from './storage-metrics.js';
import { StorageError } from './storage-errors.js';

/**
 * The facade every caller uses instead of a driver: keys are checked once here (so no
 * driver sees a hostile key), unknown failures become StorageErrors, and uploads are
 * measured. Drivers stay thin.
 */
export class ObjectStorage {
  constructor(
    readonly driver: ObjectStoreDriver,
    private readonly logger: Logger,
    private readonly observer: StorageObserver = noopObserver,
  ) {}

  get kind(): ObjectStoreDriver['kind'] {
    return this.driver.kind;
  }

  /** Stores `body` at `key`; returns the number of bytes written. */
  async put(key: string, body: Body, options: PutOptions & { kind?: string }): Promise<number> {
    assertValidKey(key);
    const started = performance.now();
    let bytes = 0;
    let data: Body = body;
    if (body instanceof Readable) {
      // Count as the bytes pass through. A 'data' listener would switch the stream to flowing
      // mode and drop every chunk read before the driver attaches (after its own awaits).
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      // pipeline, not pipe: it keeps an error listener on the counter, so a driver that attaches
      // after the body has failed (a first put waits for its folder) still gets the error, where
      // Node 22 and later would raise it as an uncaught exception.
      data = pipeline(body, counter, () => {});
    } else {
      bytes = body.byteLength;
    }
    await this.run('put', () => this.driver.put(key, data, options));
    this.observer.uploaded({ kind: options.kind ?? 'other', bytes, seconds: (performance.now() - started) / 1000 });
    this.logger.debug({ key, bytes }, 'stored object');
    return bytes;
  }

  head(key: string): Promise<ObjectInfo | null> {
    return this.run('head', () => this.driver.head(assertValidKey(key)));
  }

  exists(key: string): Promise<boolean> {
    return this.run('exists', () => this.driver.exists(assertValidKey(key)));
  }

  get(key: string): Promise<StoredObject> {
    return this.run('get', () => this.driver.get(assertValidKey(key)));
  }

  /**
   * Told of every public key or prefix removed (a CDN's copies must go: CloudFront
   * invalidation, src/cdn/). Awaited, and its failure is the removal's, so a caller that
   * retries the removal records the invalidation again: none is lost.
   */
  onRemoved: ((keysOrPrefixes: readonly string[]) => Promise<void>) | undefined;

  async delete(key: string): Promise<boolean> {
    const removed = await this.run('delete', () => this.driver.delete(assertValidKey(key)));
    await this.removed([key]);
    return removed;
  }

  // async: a refused key must reject the returned promise, not throw before there is one.
  async deleteMany(keys: string[]): Promise<string[]> {
    keys.forEach(assertValidKey);
    const removed = await this.run('deleteMany', () => this.driver.deleteMany(keys));
    await this.removed(keys);
    return removed;
  }

  /** `options.published: false`: nothing under it was ever handed out, so no CDN can hold it (onRemoved is not told). */
  async deletePrefix(prefix: string, options: { published?: boolean } = {}): Promise<number> {
    // An empty prefix would empty the whole bucket: never what a caller of this method means.
    if (!prefix) throw new StorageError('STORAGE_INVALID_KEY', 'deletePrefix needs a non-empty prefix such as designs/<uuid>/.', { field: 'prefix' });
    const removed = await this.run('deletePrefix', () => this.driver.deletePrefix(assertValidPrefix(prefix)));
    if (options.published !== false) await this.removed([prefix.endsWith('/') ? prefix : `${prefix}/`]);
    return removed;
  }

  /** Passes the public ones among removed keys and prefixes to onRemoved: nothing else is ever cached by a CDN. */
  private async removed(keysOrPrefixes: readonly string[]): Promise<void> {
    if (!this.onRemoved) return;
    const cacheable = keysOrPrefixes.filter((key) => PUBLIC_PREFIXES.some((prefix) => key.startsWith(prefix)) && !isPrintFileKey(key));
    if (cacheable.length > 0) await this.onRemoved(cacheable);
  }

  list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<ObjectListPage> {
    return this.run('list', () => this.driver.list(assertValidPrefix(prefix), options));
  }

  publicUrl(key: string): string {
    return this.driver.publicUrl(assertValidKey(key));
  }

  async signedUrl(key: string, expiresInSeconds: number): Promise<string> {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > 604_800) {
      throw new StorageError('STORAGE_ERROR', `Signed URL expiry must be a whole number of seconds from 1 to 604800 (7 days), got ${expiresInSeconds}.`, { field: 'expiration' });
    }
    return this.run('signedUrl', () => this.driver.signedUrl(assertValidKey(key), expiresInSeconds));
  }

  /** See ObjectStoreDriver.removeStaleTempFiles; none for a driver without temp files. */
  async removeStaleTempFiles(options: StaleTempFileOptions): Promise<TempFileInfo[]> {
    const driver = this.driver;
    if (!driver.removeStaleTempFiles) return [];
    const prefix = options.prefix ? assertValidPrefix(options.prefix) : '';
    return this.run('removeStaleTempFiles', () => driver.removeStaleTempFiles!({ ...options, prefix }));
  }

  close(): Promise<void> {
    return this.driver.close();
  }

  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const wrapped = error instanceof AppError
        ? error
        : new StorageError('STORAGE_ERROR', `Storage ${operation} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      this.observer.failed({ operation, code: wrapped.code });
      throw wrapped;
    }
  }
}
