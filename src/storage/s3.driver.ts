import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { keyToUrlPath } from './keys.js';
import type { Body, ObjectInfo, ObjectListPage, ObjectStoreDriver, PutOptions, StoredObject } from './object-store.js';
import { mapS3Error, type S3Operation } from './s3.errors.js';
import { StorageError } from './storage-errors.js';

export interface S3DriverOptions {
  bucket: string;
  region: string;
  /** S3-compatible endpoint (MinIO, Ceph RGW, R2); empty for AWS. */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Empty means the SDK's default credential chain (environment, profile, IAM role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Base of public URLs: the seed's `s3_base_url` (CloudFront, bucket URL or endpoint). */
  publicBaseUrl: string;
  serverSideEncryption?: 'none' | 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  /** Streams larger than this go up in parts (lib-storage); default 5 MiB, S3's minimum part size. */
  partSize?: number;
  /** Parts uploaded at once; memory held is about partSize x (queueSize + 1). Default 2. */
  queueSize?: number;
  /** A prebuilt client, for tests and for sharing sockets. */
  client?: S3Client;
}

/** Builds the AWS SDK v3 client the way S3-compatible servers need it. */
export function createS3Client(options: Omit<S3DriverOptions, 'publicBaseUrl' | 'bucket' | 'client'>): S3Client {
  const client = new S3Client(s3ClientConfig(options));
  if (options.endpoint) addContentMd5ToDeleteObjects(client);
  return client;
}

/**
 * The client configuration createS3Client uses, for libraries that build their own client
 * (the tus S3 store): pass it, then `addContentMd5ToDeleteObjects(client)` with an endpoint.
 */
export function s3ClientConfig(options: Omit<S3DriverOptions, 'publicBaseUrl' | 'bucket' | 'client'>): S3ClientConfig {
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle ?? false,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  };
  if (options.endpoint) {
    config.endpoint = options.endpoint;
    // Since early 2025 the SDK adds CRC32 checksums and sends streams with aws-chunked
    // framing; s3rver stores the framing as data and Ceph RGW answers 411. Only checksum
    // where the operation demands it.
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  if (options.accessKeyId && options.secretAccessKey) {
    config.credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
  }
  return config;
}

/**
 * DeleteObjects must carry an integrity header. The SDK now sends a CRC32 checksum, which
 * older S3-compatible servers (Ceph RGW, MinIO before 2024) do not read and answer with
 * MissingContentMD5. Content-MD5 is the header every implementation accepts.
 */
export function addContentMd5ToDeleteObjects(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown; query?: Record<string, unknown> };
      if (context.commandName === 'DeleteObjectsCommand' && request.headers && typeof request.body === 'string') {
        for (const name of Object.keys(request.headers)) {
          if (name.toLowerCase().startsWith('x-amz-checksum-') || name.toLowerCase() === 'x-amz-sdk-checksum-algorithm') delete request.headers[name];
        }
        request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
      }
      return next(args);
    },
    { step: 'build', name: 'customifyContentMd5', priority: 'low' },
  );
}

/** The S3 driver: thin, one SDK call per operation, errors translated at this boundary. */
export class S3Driver implements ObjectStoreDriver {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  readonly bucket: string;
  readonly region: string;
  /** S3_ENDPOINT, for messages whose commands must name it (`aws --endpoint-url ...`). */
  readonly endpoint: string | undefined;
  private readonly baseUrl: string;
  private readonly sse: S3DriverOptions['serverSideEncryption'];
  private readonly kmsKeyId: string | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;
  private bucketSeen = false;

  constructor(options: S3DriverOptions) {
    this.client = options.client ?? createS3Client(options);
    this.bucket = options.bucket;
    this.region = options.region;
    this.endpoint = options.endpoint || undefined;
    this.baseUrl = options.publicBaseUrl.replace(/\/+$/, '');
    this.sse = options.serverSideEncryption;
    this.kmsKeyId = options.kmsKeyId || undefined;
    // Small parts keep a streamed upload's memory low (about partSize x (queueSize + 1) buffered);
    // 10,000 parts of 5 MiB still allow objects of 48 GiB.
    this.partSize = options.partSize ?? 5 * 1024 * 1024;
    this.queueSize = options.queueSize ?? 2;
  }

  async put(key: string, body: Body, options: PutOptions): Promise<void> {
    const input: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: key,
      ContentType: options.contentType,
      Metadata: options.metadata,
      CacheControl: options.cacheControl,
    };
    if (this.sse && this.sse !== 'none') {
      input.ServerSideEncryption = this.sse;
      if (this.sse === 'aws:kms' && this.kmsKeyId) input.SSEKMSKeyId = this.kmsKeyId;
    }
    await this.call('PutObject', key, async () => {
      if (body instanceof Readable) {
        // lib-storage buffers the stream into parts of known length: no aws-chunked framing,
        // bounded memory (about partSize x (queueSize + 1)), one PutObject when the stream is small.
        const upload = new Upload({ client: this.client, params: { ...input, Body: body }, partSize: this.partSize, queueSize: this.queueSize, leavePartsOnError: false });
        await upload.done();
      } else {
        const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        await this.client.send(new PutObjectCommand({ ...input, Body: bytes, ContentLength: bytes.length }));
      }
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      this.bucketSeen = true;
      return { key, size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0), contentType: out.ContentType, metadata: normalizeMetadata(out.Metadata) };
    } catch (error) {
      const mapped = mapS3Error(error, { operation: 'HeadObject', bucket: this.bucket, region: this.region, endpoint: this.endpoint, key });
      if (mapped.code !== 'STORAGE_OBJECT_NOT_FOUND') throw mapped;
      // HEAD answers a bare 404 both for a missing key and a missing bucket; tell them apart once.
      if (!this.bucketSeen) await this.assertBucket();
      return null;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== null;
  }

  async get(key: string): Promise<StoredObject> {
    return this.call('GetObject', key, async () => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: out.ContentLength ?? 0,
        lastModified: out.LastModified ?? new Date(0),
        contentType: out.ContentType,
        metadata: normalizeMetadata(out.Metadata),
        body: out.Body as Readable,
      };
    });
  }

  async delete(key: string): Promise<boolean> {
    // S3 answers 204 whether or not the key existed; the seed's delete_file reports which.
    if (!(await this.exists(key))) return false;
    await this.call('DeleteObject', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
    return true;
  }

  async deleteMany(keys: string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    if (keys.length > 1000) throw new StorageError('STORAGE_ERROR', 'deleteMany takes at most 1,000 keys a call.');
    const out = await this.call('DeleteObjects', keys[0], () =>
      this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: false } })),
    );
    const failed = out.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0]!;
      throw mapS3Error(Object.assign(new Error(first.Message ?? ''), { name: first.Code ?? 'Error' }), { operation: 'DeleteObject', bucket: this.bucket, region: this.region, endpoint: this.endpoint, key: first.Key });
    }
    return (out.Deleted ?? []).map((d) => d.Key!).filter(Boolean);
  }

  async deletePrefix(prefix: string): Promise<number> {
    let count = 0;
    // Each page is deleted before the next is listed, so memory stays at one page.
    for (;;) {
      const page = await this.list(prefix, { limit: 1000 });
      if (page.objects.length === 0) return count;
      count += (await this.deleteMany(page.objects.map((o) => o.key))).length;
      if (!page.nextCursor) return count;
    }
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<ObjectListPage> {
    const out = await this.call('ListObjectsV2', prefix, () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix || undefined, ContinuationToken: options.cursor, MaxKeys: Math.min(options.limit ?? 1000, 1000) })),
    );
    return {
      objects: (out.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) })),
      nextCursor: out.IsTruncated ? out.NextContinuationToken : undefined,
    };
  }

  publicUrl(key: string): string {
    return `${this.baseUrl}/${keyToUrlPath(key)}`;
  }

  async signedUrl(key: string, expiresInSeconds: number): Promise<string> {
    return this.call('GetObject', key, () => getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresInSeconds }));
  }

  /** Throws STORAGE_BUCKET_NOT_FOUND (or access/credential errors) unless the bucket answers. */
  async assertBucket(): Promise<void> {
    await this.call('HeadBucket', undefined, () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
    this.bucketSeen = true;
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }

  private async call<T>(operation: S3Operation, key: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw mapS3Error(error, { operation, bucket: this.bucket, region: this.region, endpoint: this.endpoint, key });
    }
  }
}

/**
 * Metadata keys are ours and use underscores (`design_id`, as in the seed). Ceph RGW and
 * some proxies rewrite `_` to `-` in header names, so read-back keys are normalised.
 */
function normalizeMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k.toLowerCase().replaceAll('-', '_'), v]));
}
