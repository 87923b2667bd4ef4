import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStorage } from '../storage/index.js';
import { uploadKeys } from './upload.js';

export interface UploadStorageOptions {
  /** false: hand out presigned GET URLs (S3_PUBLIC_BUCKET=false). */
  publicBucket: boolean;
  signedUrlExpiresSeconds: number;
}

// A published original never changes under its key (a new upload gets a new id).
const PUBLIC_CACHE = 'public, max-age=31536000, immutable';
const PRIVATE_CACHE = 'private, max-age=3600';

/**
 * Where an upload's bytes live, through the ObjectStorage facade (local disk or S3 alike):
 * `staging/{id}` as received, `quarantine/{id}` if infected, `uploads/{id}/original.{ext}`
 * once published. Staging and quarantine never get a URL. Errors are the facade's StorageErrors.
 */
export class UploadStorage {
  constructor(
    readonly storage: ObjectStorage,
    private readonly options: UploadStorageOptions,
  ) {}

  /** Streams the request body to `staging/{id}`; returns the bytes written. */
  stage(id: string, body: Readable): Promise<number> {
    return this.storage.put(uploadKeys.staging(id), body, { contentType: 'application/octet-stream', kind: 'upload-staging' });
  }

  /** Copies a stored object to a local file (streamed), for sniffing, scanning and decoding. */
  async download(key: string, file: string): Promise<void> {
    const object = await this.storage.get(key);
    await pipeline(object.body, createWriteStream(file));
  }

  /**
   * A published original's bytes, for rendering a design that uses it: one exact-size
   * allocation from the object's size (no pooled slice, so a render thread can be handed
   * the ArrayBuffer itself), grown only if the store sends more than it said.
   */
  async readOriginal(key: string): Promise<Uint8Array> {
    const object = await this.storage.get(key);
    let bytes = new Uint8Array(object.size);
    let length = 0;
    for await (const chunk of object.body as AsyncIterable<Buffer>) {
      if (length + chunk.length > bytes.length) {
        const grown = new Uint8Array(Math.max(length + chunk.length, bytes.length * 2));
        grown.set(bytes.subarray(0, length));
        bytes = grown;
      }
      bytes.set(chunk, length);
      length += chunk.length;
    }
    return length === bytes.length ? bytes : bytes.slice(0, length);
  }

  /** Puts the file under `quarantine/{id}` (private), then removes the staged copy. */
  async quarantine(id: string, file: string): Promise<string> {
    const key = uploadKeys.quarantine(id);
    await this.storage.put(key, createReadStream(file), { contentType: 'application/octet-stream', kind: 'upload-quarantine' });
    await this.storage.delete(uploadKeys.staging(id));
    return key;
  }

  async publishOriginal(id: string, file: string, encoded: { contentType: string; extension: string }): Promise<string> {
    const key = uploadKeys.original(id, encoded.extension);
    await this.storage.put(key, createReadStream(file), {
      contentType: encoded.contentType,
      cacheControl: this.options.publicBucket ? PUBLIC_CACHE : PRIVATE_CACHE,
      metadata: { upload_id: id },
      kind: 'upload-original',
    });
    return key;
  }

  /** Puts a published rendition of an upload (an avatar size) under `key`, cached as the original is. */
  async publishFile(key: string, file: string, contentType: string, metadata: Record<string, string>): Promise<void> {
    await this.storage.put(key, createReadStream(file), {
      contentType,
      cacheControl: this.options.publicBucket ? PUBLIC_CACHE : PRIVATE_CACHE,
      metadata,
      kind: 'upload-rendition',
    });
  }

  /** Removes the staged bytes; a missing object is fine. */
  async removeStaged(id: string): Promise<void> {
    await this.storage.delete(uploadKeys.staging(id));
  }

  /** Removes everything the user's upload has (staged and published); quarantine stays for the operator. */
  async removeAll(id: string): Promise<void> {
    await this.storage.delete(uploadKeys.staging(id));
    await this.storage.deletePrefix(uploadKeys.prefix(id));
  }

  async urlFor(key: string): Promise<string> {
    return this.options.publicBucket ? this.storage.publicUrl(key) : this.storage.signedUrl(key, this.options.signedUrlExpiresSeconds);
  }

}
