import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { assertDesignId, designAssetKey, designPrefix, type AssetKind } from './keys.js';
import type { Body } from './object-store.js';
import type { ObjectStorage } from './object-storage.js';
import type { StorageRepository } from './storage-repository.js';

export interface DesignAssetStorageOptions {
  /** false: hand out presigned GET URLs (the seed's S3_PUBLIC_BUCKET=false). */
  publicBucket: boolean;
  signedUrlExpiresSeconds: number;
}

// Re-renders overwrite the same key, so caches must come back within the hour;
// private assets must not be kept by shared caches at all.
const PUBLIC_CACHE = 'public, max-age=3600';
const PRIVATE_CACHE = 'private, max-age=3600';

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
}
