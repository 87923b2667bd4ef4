import type { RenditionFile } from './design-asset-storage.js';
import type { AssetKind, PrintFileExtension } from './keys.js';
import type { Body, StoredObject } from './object-store.js';

/**
 * The seed's domain port (`storage_repository.py`): where a design's rendered assets live.
 *
 * Errors: design ids that are not UUIDs throw ValidationError INVALID_DESIGN_ID before any
 * I/O; storage failures throw StorageError with a stable code and `retryable` set when
 * trying again can help (unreachable, throttled).
 */
export interface StorageRepository {
  /** Stores `designs/{designId}/preview.png` and returns its URL. */
  uploadDesignPreview(designId: string, data: Body): Promise<string>;
  /** Stores `designs/{designId}/thumbnail.png` and returns its URL. */
  uploadDesignThumbnail(designId: string, data: Body): Promise<string>;
  /** Stores any asset kind of a design (more sizes may come); returns its URL. */
  uploadDesignAsset(designId: string, kind: AssetKind, data: Body): Promise<string>;
  /**
   * Stores one rendition of a render (issue #13) under `designs/{designId}/{version}/{name}.{format}`,
   * immutable (cached for a year); returns its key.
   */
  uploadRendition(designId: string, version: string, file: RenditionFile): Promise<string>;
  /** Removes the version folder `designs/{designId}/{version}/` of a render that never published; returns how many objects were removed. */
  deleteAssetVersion(designId: string, version: string): Promise<number>;
  /** Removes the given keys (superseded images, once their grace period is over); each is invalidated in the CDN. */
  deleteKeys(keys: readonly string[]): Promise<void>;
  /** Removes every object under `designs/{designId}/`; returns how many were removed. */
  deleteDesignAssets(designId: string): Promise<number>;
  /**
   * The URL to hand out now for a stored asset: public, CloudFront or, for private buckets,
   * freshly signed. Takes the storage key recorded when the asset was uploaded.
   */
  urlFor(key: string): Promise<string>;
  /** The key an asset of a design is stored under. */
  keyFor(designId: string, kind: AssetKind): string;
  /**
   * Stores `designs/{designId}/print.{extension}` (issue #12), private whatever the bucket's
   * public setting (no public URL is ever made for it; the public-read policy leaves it out),
   * streamed (a multipart upload on S3). Returns its key.
   */
  uploadPrintFile(designId: string, extension: PrintFileExtension, data: Buffer): Promise<string>;
  /** Removes both print files of a design, if present. */
  deletePrintFiles(designId: string): Promise<void>;
  /**
   * A freshly signed URL for a print file's key (S3, valid S3_SIGNED_URL_EXPIRES), or null in
   * local mode, where the API's authenticated route serves it. STORAGE_INVALID_KEY for any other key.
   */
  printFileUrl(key: string): Promise<string | null>;
  /** A print file's bytes, as a stream (the local mode route). StorageError STORAGE_OBJECT_NOT_FOUND when absent. */
  readPrintFile(key: string): Promise<StoredObject>;
}
