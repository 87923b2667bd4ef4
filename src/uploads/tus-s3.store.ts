import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type Part,
  type S3,
} from '@aws-sdk/client-s3';
import { S3Store } from '@tus/s3-store';
import type { Upload } from '@tus/server';
import { addContentMd5ToDeleteObjects, s3ClientConfig, type S3DriverOptions } from '../storage/s3.driver.js';
import { fileIdOf, OWNER_METADATA_KEY, TUS_PREFIX, uploadIdOfFileId, type ExpiredTusUpload, type TusStagingStore } from './tus-store.js';
import { isUploadId } from './upload.js';

export interface S3TusStoreOptions extends Omit<S3DriverOptions, 'publicBaseUrl' | 'client'> {
  expiryMs: number;
  /** Preferred part size (S3's minimum, 5 MiB, by default): each part is buffered in a temp file. */
  partSize?: number;
  /** Parts sent to S3 at once, over all uploads of this process. */
  maxConcurrentPartUploads?: number;
}

/** What this process knows of an upload's parts, kept while it is being written to. */
interface KnownParts {
  parts: Part[];
  /** Size of the buffered tail (`.part`), 0 when there is none. */
  tail: number;
  until: number;
}

/** How long the parts of an upload nobody wrote to are trusted without asking S3 again. */
const KNOWN_PARTS_TTL_MS = 60_000;

/**
 * @tus/s3-store with its records under `staging/tus/` instead of beside the object, a client
 * built like the service's own (checksums only when required, Content-MD5 on DeleteObjects:
 * what Ceph RGW and MinIO accept), and termination that also removes the buffered tail.
 *
 * It also remembers the parts it uploaded: @tus/s3-store asks S3 for them (ListParts, and the
 * tail with HeadObject and GetObject) twice on every PATCH, four round trips that cost more
 * than the part itself (bench/tus.bench.ts). The memory is per process, like @tus/server's
 * default locker and this store's metadata cache, which already require one process per
 * upload at a time (sticky routing, or a shared locker and cache); it is dropped after any
 * failure and after a minute without writes, so S3 is asked again.
 */
class StagingS3Store extends S3Store {
  private readonly known = new Map<string, KnownParts>();

  private knownParts(id: string): KnownParts | undefined {
    const known = this.known.get(id);
    if (known && known.until > Date.now()) return known;
    this.known.delete(id);
    return undefined;
  }

  private remember(id: string, update: (known: KnownParts) => void): void {
    const known = this.knownParts(id);
    if (!known) return;
    update(known);
    known.until = Date.now() + KNOWN_PARTS_TTL_MS;
  }

  protected override async retrieveParts(id: string, partNumberMarker?: string): Promise<Part[]> {
    const known = partNumberMarker === undefined ? this.knownParts(id) : undefined;
    // Sorted as S3 lists them: the store takes the last one's number as the highest.
    if (known) return [...known.parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
    const parts = await super.retrieveParts(id, partNumberMarker);
    if (partNumberMarker === undefined) {
      const tail = this.known.get(id)?.tail;
      this.known.set(id, { parts: [...parts], tail: tail ?? -1, until: Date.now() + KNOWN_PARTS_TTL_MS });
    }
    return parts;
  }

  protected override async getIncompletePartSize(id: string): Promise<number | undefined> {
    const known = this.knownParts(id);
    if (known && known.tail >= 0) return known.tail === 0 ? undefined : known.tail;
    const size = await super.getIncompletePartSize(id);
    this.remember(id, (k) => (k.tail = size ?? 0));
    return size;
  }

  protected override async getIncompletePart(id: string): Promise<Readable | undefined> {
    // Known to have no tail: no GetObject (it would answer 404).
    if (this.knownParts(id)?.tail === 0) return undefined;
    const tail = await super.getIncompletePart(id);
    if (!tail) this.remember(id, (k) => (k.tail = 0));
    return tail;
  }

  protected override async uploadPart(metadata: Parameters<S3Store['uploadPart']>[0], readStream: Parameters<S3Store['uploadPart']>[1], partNumber: number): Promise<string> {
    const id = metadata.file.id;
    const size = Buffer.isBuffer(readStream) ? readStream.length : 'path' in readStream ? (await stat(readStream.path)).size : undefined;
    try {
      const etag = await super.uploadPart(metadata, readStream, partNumber);
      if (size === undefined) this.known.delete(id);
      else this.remember(id, (k) => k.parts.push({ PartNumber: partNumber, ETag: etag, Size: size }));
      return etag;
    } catch (error) {
      this.known.delete(id);
      throw error;
    }
  }

  protected override async uploadIncompletePart(id: string, readStream: Parameters<S3Store['uploadIncompletePart']>[1]): Promise<string> {
    const size = 'path' in readStream ? (await stat(readStream.path)).size : undefined;
    try {
      const etag = await super.uploadIncompletePart(id, readStream);
      if (size === undefined) this.known.delete(id);
      else this.remember(id, (k) => (k.tail = size));
      return etag;
    } catch (error) {
      this.known.delete(id);
      throw error;
    }
  }

  protected override async deleteIncompletePart(id: string): Promise<void> {
    await super.deleteIncompletePart(id);
    this.remember(id, (k) => (k.tail = 0));
  }

  override async write(src: Readable, id: string, offset: number): Promise<number> {
    try {
      return await super.write(src, id, offset);
    } catch (error) {
      this.known.delete(id);
      throw error;
    }
  }

  get s3(): S3 {
    return this.client;
  }

  get bucketName(): string {
    return this.bucket;
  }

  protected override infoKey(id: string): string {
    return `${TUS_PREFIX}${uploadIdOfFileId(id) ?? 'invalid'}.info`;
  }

  protected override partKey(id: string, isIncomplete = false): string {
    return isIncomplete ? `${TUS_PREFIX}${uploadIdOfFileId(id) ?? 'invalid'}.part` : id;
  }

  override async remove(id: string): Promise<void> {
    this.known.delete(id);
    await super.remove(id);
    await this.deleteIncompletePart(id);
  }

  /** The tus record's metadata, or null when there is none (never created, finished or removed). */
  async metadataOf(id: string): Promise<Upload['metadata'] | null> {
    try {
      return (await this.getMetadata(id)).file.metadata;
    } catch (error) {
      const name = (error as { name?: string } | null)?.name;
      if (name === 'NoSuchKey' || name === 'NotFound') return null;
      throw error;
    }
  }

  async clearCacheOf(id: string): Promise<void> {
    await this.clearCache(id);
  }

  async forget(id: string): Promise<void> {
    this.known.delete(id);
    await this.client.deleteObjects({ Bucket: this.bucket, Delete: { Objects: [{ Key: this.infoKey(id) }, { Key: this.partKey(id, true) }] } });
    await this.clearCache(id);
  }
}

/** S3 mode: @tus/s3-store on the service's bucket, multipart uploads on `staging/{id}`. */
export class S3TusStore implements TusStagingStore {
  readonly kind = 's3' as const;
  readonly datastore: StagingS3Store;

  constructor(private readonly options: S3TusStoreOptions) {
    const config = s3ClientConfig(options);
    this.datastore = new StagingS3Store({
      s3ClientConfig: { ...config, bucket: options.bucket },
      partSize: options.partSize ?? 5 * 1024 * 1024,
      maxConcurrentPartUploads: options.maxConcurrentPartUploads ?? 4,
      expirationPeriodInMilliseconds: options.expiryMs,
      // Tus-Completed tags let an operator add a lifecycle rule; `customify cleanup` needs none.
      useTags: true,
    });
    if (options.endpoint) addContentMd5ToDeleteObjects(this.datastore.s3);
    if (options.serverSideEncryption && options.serverSideEncryption !== 'none') encryptWrites(this.datastore.s3, options.serverSideEncryption, options.kmsKeyId);
  }

  async ownerOf(uploadId: string): Promise<string | null> {
    return (await this.datastore.metadataOf(fileIdOf(uploadId)))?.[OWNER_METADATA_KEY] ?? null;
  }

  async finish(uploadId: string): Promise<void> {
    await this.datastore.forget(fileIdOf(uploadId));
  }

  async removeExpired(options: { now: Date; dryRun: boolean }): Promise<ExpiredTusUpload[]> {
    const s3 = this.datastore.s3;
    const Bucket = this.datastore.bucketName;
    const cutoff = options.now.getTime() - this.datastore.getExpiration();
    const expired = new Map<string, ExpiredTusUpload>();
    const keys: string[] = [];

    // Records and tails under staging/tus/ written before the cutoff: the record is written
    // when the upload is created, so an old one is an expired upload.
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: TUS_PREFIX, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const match = /^staging\/tus\/([0-9a-f-]{36})\.(info|part)$/.exec(object.Key ?? '');
        if (!match || !object.LastModified || object.LastModified.getTime() >= cutoff) continue;
        keys.push(object.Key!);
        if (!expired.has(match[1]!)) expired.set(match[1]!, { id: match[1]!, createdAt: object.LastModified });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);

    // Multipart uploads under staging/ started before the cutoff: expired tus uploads, and
    // direct uploads a crash interrupted. Aborting frees their parts.
    const aborts: Array<{ Key: string; UploadId: string }> = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'staging/', KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || !upload.Initiated || upload.Initiated.getTime() >= cutoff) continue;
        aborts.push({ Key: upload.Key, UploadId: upload.UploadId });
        const id = uploadIdOfFileId(upload.Key) ?? upload.Key;
        if (!expired.has(id)) expired.set(id, { id, createdAt: upload.Initiated });
      }
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }

    if (!options.dryRun) {
      for (const upload of aborts) await s3.send(new AbortMultipartUploadCommand({ Bucket, ...upload }));
      for (let i = 0; i < keys.length; i += 1000) {
        await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
      }
      for (const id of expired.keys()) if (isUploadId(id)) await this.datastore.clearCacheOf(fileIdOf(id));
    }
    return [...expired.values()];
  }

  close(): void {
    this.datastore.s3.destroy();
  }
}

/**
 * S3_SSE for what @tus/s3-store writes (it has no option for it): the multipart upload that
 * becomes the staged object, and its records and tail, as the S3 driver encrypts its own writes.
 */
function encryptWrites(client: S3, sse: 'AES256' | 'aws:kms', kmsKeyId: string | undefined): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'CreateMultipartUploadCommand' || context.commandName === 'PutObjectCommand') {
        const input = args.input as { ServerSideEncryption?: string; SSEKMSKeyId?: string };
        input.ServerSideEncryption = sse;
        if (sse === 'aws:kms' && kmsKeyId) input.SSEKMSKeyId = kmsKeyId;
      }
      return next(args);
    },
    { step: 'initialize', name: 'customifyTusServerSideEncryption' },
  );
}
