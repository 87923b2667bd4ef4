import { contentTypeOf } from '../shared/content-type.js';
import type { Body } from './object-store.js';
import type { ObjectStorage } from './object-storage.js';


/**
 * The seed's S3 client wrapper (`s3_client.py`) with its four operations, over the
 * configured object store. Keys are validated; errors are StorageErrors.
 */
export class S3ClientWrapper {
  constructor(
    private readonly storage: ObjectStorage,
    private readonly options: { publicBucket: boolean; signedUrlExpiresSeconds: number },
  ) {}

  /** Uploads and returns the object's URL (public, CloudFront, or signed for private buckets). */
  async uploadFile(data: Body, key: string, contentType?: string, metadata: Record<string, string> = {}): Promise<string> {
    const type = contentType ?? contentTypeOf(key);
    await this.storage.put(key, data, { contentType: type, metadata });
    return this.options.publicBucket ? this.storage.publicUrl(key) : this.storage.signedUrl(key, this.options.signedUrlExpiresSeconds);
  }

  /** True if the object existed and was deleted; false if there was nothing at `key`. */
  deleteFile(key: string): Promise<boolean> {
    return this.storage.delete(key);
  }

  fileExists(key: string): Promise<boolean> {
    return this.storage.exists(key);
  }

  /** A presigned GET URL valid for `expiration` seconds (the seed's default: 3600). */
  getSignedUrl(key: string, expiration = 3600): Promise<string> {
    return this.storage.signedUrl(key, expiration);
  }
}
