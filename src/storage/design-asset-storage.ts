import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { Readable } from 'node:stream';
import { assertDesignId, assetVersionPrefix, designAssetKey, designPrefix, isPrintFileKey, printFileKey, renditionKey, PRINT_FILE_EXTENSIONS, type AssetKind, type PrintFileExtension } from './keys.js';
import type { Body, StoredObject } from './object-store.js';
import { StorageError } from './storage-errors.js';
import type { ObjectStorage } from './object-storage.js';
import type { StorageRepository } from './storage-repository.js';

export interface DesignAssetStorageOptions {
  /** false: hand out presigned GET URLs (the seed's S3_PUBLIC_BUCKET=false). */
  publicBucket: boolean;
  signedUrlExpiresSeconds: number;
}

// The seed's unversioned keys are overwritten by a re-render, so caches must come back
// within the hour; private assets must not be kept by shared caches at all.
const PUBLIC_CACHE = 'public, max-age=3600';
const PRIVATE_CACHE = 'private, max-age=3600';
// A versioned rendition's bytes never change (issue #13): cache it for a year, never revalidate.
export const IMMUTABLE_PUBLIC_CACHE = 'public, max-age=31536000, immutable';
const IMMUTABLE_PRIVATE_CACHE = 'private, max-age=31536000, immutable';

/** One rendition in one format, as the render made it. */
export interface RenditionFile {
  readonly name: string;
  readonly format: string;
  readonly contentType: string;
  readonly data: Buffer;
}
// Print files are replaced in place when printed again: never cached anywhere.
const PRINT_CACHE = 'private, no-store';
const PRINT_CONTENT_TYPES: Record<PrintFileExtension, string> = { pdf: 'application/pdf', png: 'image/png' };

/** The one implementation of the seed's StorageRepository, over any object-store driver. */
export class DesignAssetStorage implements StorageRepository {
  constructor(
    private readonly storage: ObjectStorage,
    private readonly options: DesignAssetStorageOptions,
    private readonly logger: Logger,
  ) {}

  uploadDesignPreview(designId: string, data: Body): Promise<string> {
    return this.uploadDesignAsset(designId, 'preview', data);
  }

  uploadDesignThumbnail(designId: string, data: Body): Promise<string> {
    return this.uploadDesignAsset(designId, 'thumbnail', data);
  }

  async uploadDesignAsset(designId: string, kind: AssetKind, data: Body): Promise<string> {
    const id = assertDesignId(designId);
    const key = designAssetKey(id, kind);
    try {
      await this.storage.put(key, data, {
        contentType: 'image/png',
        metadata: { design_id: id, type: kind },
        cacheControl: this.options.publicBucket ? PUBLIC_CACHE : PRIVATE_CACHE,
        kind,
      });
    } catch (error) {
      this.logger.error({ err: error, designId: id, kind }, `Upload failed: ${describeError(error)}`);
      throw error;
    }
    const url = await this.urlFor(key);
    this.logger.info({ designId: id, kind, key }, `Uploaded ${kind}: ${this.options.publicBucket ? url : key}`);
    return url;
  }

  /**
   * Stores one rendition under the render's version folder,
   * `designs/{id}/{version}/{name}.{format}`, cached for a year as immutable: nothing is
   * ever written there again. Returns the key.
   */
  async uploadRendition(designId: string, version: string, file: RenditionFile): Promise<string> {
    const id = assertDesignId(designId);
    const key = renditionKey(id, version, file.name, file.format);
    try {
      await this.storage.put(key, file.data, {
        contentType: file.contentType,
        metadata: { design_id: id, type: file.name },
        cacheControl: this.options.publicBucket ? IMMUTABLE_PUBLIC_CACHE : IMMUTABLE_PRIVATE_CACHE,
        kind: file.name === 'preview' || file.name === 'thumbnail' ? file.name : 'rendition',
      });
    } catch (error) {
      this.logger.error({ err: error, designId: id, kind: file.name, format: file.format }, `Upload failed: ${describeError(error)}`);
      throw error;
    }
    this.logger.debug({ designId: id, key }, `Uploaded ${file.name}.${file.format}`);
    return key;
  }

  /**
   * Removes the version folder of a render that never published (its URLs were never handed
   * out, so no CDN is told); returns how many objects.
   */
  deleteAssetVersion(designId: string, version: string): Promise<number> {
    return this.storage.deletePrefix(assetVersionPrefix(assertDesignId(designId), version), { published: false });
  }

  /** Removes the given keys of a design's images (the seed's unversioned ones, once superseded). */
  async deleteKeys(keys: readonly string[]): Promise<void> {
    await this.storage.deleteMany([...keys]);
  }

  async deleteDesignAssets(designId: string): Promise<number> {
    const id = assertDesignId(designId);
    const removed = await this.storage.deletePrefix(designPrefix(id));
    this.logger.info({ designId: id, removed }, `Deleted ${removed} asset(s) of design ${id}`);
    return removed;
  }

  async urlFor(key: string): Promise<string> {
    return this.options.publicBucket
      ? this.storage.publicUrl(key)
      : this.storage.signedUrl(key, this.options.signedUrlExpiresSeconds);
  }

  keyFor(designId: string, kind: AssetKind): string {
    return designAssetKey(assertDesignId(designId), kind);
  }

  async uploadPrintFile(designId: string, extension: PrintFileExtension, data: Buffer): Promise<string> {
    const id = assertDesignId(designId);
    const key = printFileKey(id, extension);
    try {
      // A stream, so the S3 driver sends it as a multipart upload in parts (a poster's PNG is
      // tens of MB) rather than one request holding the whole body.
      await this.storage.put(key, Readable.from([data]), {
        contentType: PRINT_CONTENT_TYPES[extension],
        metadata: { design_id: id, type: `print-${extension}` },
        cacheControl: PRINT_CACHE,
        kind: 'print',
      });
    } catch (error) {
      this.logger.error({ err: error, designId: id, kind: `print.${extension}` }, `Upload failed: ${describeError(error)}`);
      throw error;
    }
    this.logger.info({ designId: id, key }, `Uploaded print.${extension}: ${key}`);
    return key;
  }

  async deletePrintFiles(designId: string): Promise<void> {
    const id = assertDesignId(designId);
    await this.storage.deleteMany(PRINT_FILE_EXTENSIONS.map((extension) => printFileKey(id, extension)));
  }

  async printFileUrl(key: string): Promise<string | null> {
    assertPrintFileKey(key);
    // Local files have no signature to check: the API's authenticated route serves them.
    if (this.storage.kind === 'local') return null;
    return this.storage.signedUrl(key, this.options.signedUrlExpiresSeconds);
  }

  readPrintFile(key: string): Promise<StoredObject> {
    assertPrintFileKey(key);
    return this.storage.get(key);
  }
}

function assertPrintFileKey(key: string): void {
  if (!isPrintFileKey(key)) throw new StorageError('STORAGE_INVALID_KEY', `${JSON.stringify(key)} is not a print file key (designs/<uuid>/print.pdf or print.png).`, { field: 'key' });
}
