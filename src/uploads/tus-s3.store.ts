import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type Part,
  type S3,
} from '@aws-sdk/client-s3';
import { S3Store } from '@tus/s3-store';
import { ERRORS, Upload } from '@tus/server';
import { addContentMd5ToDeleteObjects, s3ClientConfig, type S3DriverOptions } from '../storage/s3.driver.js';
import { PartFilePool, PartWriter, type PartFile } from './tus-part-buffers.js';
import { fileIdOf, OWNER_METADATA_KEY, TUS_PREFIX, uploadIdOfFileId, type ExpiredTusUpload, type TusStagingStore } from './tus-store.js';
import { isUploadId } from './upload.js';

export interface S3TusStoreOptions extends Omit<S3DriverOptions, 'publicBaseUrl' | 'client'> {
  expiryMs: number;
  /** Preferred part size (S3's minimum, 5 MiB, by default). */
  partSize?: number;
  /** Parts sent to S3 at once, over all uploads of this process. */
  maxConcurrentPartUploads?: number;
  /** Parts of one upload acknowledged to the client and waiting on local disk for S3 (default 8). */
  maxQueuedParts?: number;
}

type Metadata = Parameters<S3Store['uploadPart']>[0];

/**
 * What this process knows of an upload it is writing: its parts in S3, the parts acknowledged
 * to the client but still on local disk (queued or being sent), and the tail (`.part`) in S3.
 */
interface UploadState {
  /** Parts S3 confirmed. */
  parts: Part[];
  nextPartNumber: number;
  /** Bytes of the parts acknowledged but not yet confirmed by S3. */
  pendingBytes: number;
  /** The background part uploads still running (each gives its temp file back when done). */
  pending: Set<Promise<void>>;
  /** Size of the tail in S3: 0 when there is none, -1 when unknown. */
  tail: number;
  /** The first part upload that failed (after its retries); the state is then dropped. */
  failure?: Error;
  /** Trusted without asking S3 again until then, or while parts are pending. */
  until: number;
}

/** How long the state of an upload nobody wrote to is trusted without asking S3 again. */
const STATE_TTL_MS = 60_000;
/** Attempts for one part (a fresh body each time: a used stream cannot be resent). */
const PART_ATTEMPTS = 3;

/** The parts numbered 1..n without a gap: what the object really holds from its start. */
function contiguous(parts: Part[]): Part[] {
  const sorted = [...parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
  const out: Part[] = [];
  for (const part of sorted) {
    if (part.PartNumber !== out.length + 1) break;
    out.push(part);
  }
  return out;
}

function isMissingUpload(error: unknown): boolean {
  const e = error as { name?: string; Code?: string } | null;
  return e?.name === 'NoSuchUpload' || e?.name === 'NoSuchKey' || e?.Code === 'NoSuchUpload' || e?.Code === 'NoSuchKey';
}

/**
 * @tus/s3-store with its records under `staging/tus/` instead of beside the object, a client
 * built like the service's own (checksums only when required, Content-MD5 on DeleteObjects:
 * what Ceph RGW and MinIO accept), termination that also removes the buffered tail, and
 * pipelined part uploads.
 *
 * Pipelining (issue #11 benchmark 2): tus clients send one PATCH at a time and wait for its
 * answer, and @tus/s3-store uploads each part to S3 before answering, so one part at a time
 * was in flight. Here a PATCH is answered once its bytes are cut into part files on local
 * disk (tus-part-buffers.ts says why not memory); the parts go to S3 in the background, at
 * most `maxConcurrentPartUploads` at once over the process and at most `maxQueuedParts`
 * waiting per upload (the next PATCH's bytes wait for room, which bounds disk use). The PATCH that brings the last byte waits for every part and
 * completes the multipart upload before answering, so the pipeline still starts only once the
 * whole object exists. A HEAD reports the bytes received (in S3 or on disk). A part that fails
 * after its retries is not lost silently: the next request for the upload fails, the state is
 * dropped and the offset falls back to what S3 really holds (the parts numbered 1..n without a
 * gap, and the tail), from which the client resumes (tus clients HEAD before resuming).
 *
 * Durability trade-off: a process that crashes loses the acknowledged bytes still on its disk.
 * The client then resumes from the lower offset HEAD reports, which the tus protocol allows
 * (the offset is the server's to tell). The tail (`.part`, the bytes of a PATCH short of a
 * whole part) is written to S3 only after every part before it is confirmed, so S3 never holds
 * a tail past a missing part.
 *
 * The state is per process, like @tus/server's default locker and this store's metadata cache,
 * which already require one process per upload at a time (sticky routing, or a shared locker
 * and cache); an idle one is dropped after a minute, so S3 is asked again. It also saves the
 * four round trips @tus/s3-store makes to S3 on every PATCH to learn the parts and the tail.
 */
class StagingS3Store extends S3Store {
  private readonly states = new Map<string, UploadState>();
  private readonly maxQueuedParts: number;
  /** Temp files for the parts on their way to S3, reused (tus-part-buffers.ts). */
  readonly partFiles = new PartFilePool();
  /** Part uploads running now, and the most seen at once (for tests and /metrics-style checks). */
  partsInFlight = 0;
  maxPartsInFlight = 0;

  constructor(options: ConstructorParameters<typeof S3Store>[0] & { maxQueuedParts?: number }) {
    super(options);
    this.maxQueuedParts = Math.max(1, options.maxQueuedParts ?? 8);
  }

  private freshState(id: string): UploadState | undefined {
    const state = this.states.get(id);
    if (state && (state.pending.size > 0 || state.until > Date.now())) return state;
    this.states.delete(id);
    return undefined;
  }

  private offsetOf(state: UploadState): number {
    return state.parts.reduce((sum, part) => sum + (part.Size ?? 0), 0) + state.pendingBytes + Math.max(0, state.tail);
  }

  /** Waits for the upload's background parts; if one failed, drops the state and throws its error. */
  private async settle(id: string, state: UploadState): Promise<void> {
    while (state.pending.size > 0) await Promise.allSettled([...state.pending]);
    if (state.failure !== undefined) {
      if (this.states.get(id) === state) this.states.delete(id);
      throw state.failure;
    }
  }

  /**
   * The upload's state, asked of S3 when this process does not know it: the parts numbered
   * 1..n without a gap (a part after a failed one is not counted: it is sent again) and the
   * tail. Undefined when the multipart upload is gone (completed or aborted). A state whose
   * part upload failed is dropped here, its error thrown.
   */
  private async stateOf(id: string): Promise<UploadState | undefined> {
    const known = this.freshState(id);
    if (known) {
      if (known.failure === undefined) return known;
      await this.settle(id, known).catch(() => undefined);
      throw known.failure;
    }
    let parts: Part[];
    try {
      parts = contiguous(await this.retrieveParts(id));
    } catch (error) {
      if (isMissingUpload(error)) return undefined;
      throw error;
    }
    const tail = (await this.getIncompletePartSize(id)) ?? 0;
    const state: UploadState = { parts, nextPartNumber: parts.length + 1, pendingBytes: 0, pending: new Set(), tail, until: Date.now() + STATE_TTL_MS };
    this.states.set(id, state);
    return state;
  }

  /**
   * A new upload has no parts and no tail: its state is known here, so its first PATCH does not
   * ask S3 (ListParts, then HEAD of the tail).
   */
  override async create(upload: Upload): Promise<Upload> {
    const created = await super.create(upload);
    this.states.set(created.id, { parts: [], nextPartNumber: 1, pendingBytes: 0, pending: new Set(), tail: 0, until: Date.now() + STATE_TTL_MS });
    return created;
  }

  override async getUpload(id: string): Promise<Upload> {
    let metadata: Metadata;
    try {
      metadata = await this.getMetadata(id);
    } catch {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- @tus/server answers its ERRORS
      throw ERRORS.FILE_NOT_FOUND;
    }
    let state: UploadState | undefined;
    try {
      state = await this.stateOf(id);
    } catch {
      // A part upload failed: report what S3 really holds, from which the client resumes.
      state = await this.stateOf(id);
    }
    const file = metadata.file;
    return new Upload({ ...file, offset: state ? this.offsetOf(state) : file.size!, size: file.size, storage: file.storage });
  }

  /**
   * One part to S3, its length given (the SDK would otherwise stat the file synchronously).
   * The body is a stream, so the SDK neither buffers nor hashes it: the request is signed
   * UNSIGNED-PAYLOAD, and no MD5 or CRC is computed (requestChecksumCalculation is WHEN_REQUIRED,
   * and UploadPart does not require one).
   */
  private async sendPart(metadata: Metadata, part: PartFile, partNumber: number): Promise<string> {
    const data = await this.client.uploadPart({
      Bucket: this.bucket,
      Key: metadata.file.id,
      UploadId: metadata['upload-id'],
      PartNumber: partNumber,
      Body: part.body(),
      ContentLength: part.size,
    });
    return data.ETag!;
  }

  /** Sends one part in the background, its bytes already acknowledged to the client. */
  private enqueuePart(state: UploadState, metadata: Metadata, part: PartFile): void {
    const partNumber = state.nextPartNumber++;
    const size = part.size;
    state.pendingBytes += size;
    const task = (async () => {
      const permit = await this.partUploadSemaphore.acquire();
      this.partsInFlight++;
      this.maxPartsInFlight = Math.max(this.maxPartsInFlight, this.partsInFlight);
      try {
        for (let attempt = 1; state.failure === undefined; attempt++) {
          try {
            const etag = await this.sendPart(metadata, part, partNumber);
            state.parts.push({ PartNumber: partNumber, ETag: etag, Size: size });
            break;
          } catch (error) {
            if (attempt >= PART_ATTEMPTS) state.failure ??= error instanceof Error ? error : new Error(String(error));
            else await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
          }
        }
      } finally {
        state.pendingBytes -= size;
        state.until = Date.now() + STATE_TTL_MS;
        this.partsInFlight--;
        await part.release().catch(() => undefined);
        await permit.release().catch(() => undefined);
      }
    })();
    state.pending.add(task);
    void task.finally(() => state.pending.delete(task));
  }

  /** Waits until the upload has room for one more waiting part. */
  private async roomFor(state: UploadState): Promise<void> {
    while (state.pending.size >= this.maxQueuedParts) await Promise.race(state.pending);
  }

  override async write(src: Readable, id: string, offset: number): Promise<number> {
    const metadata = await this.getMetadata(id);
    const state = await this.stateOf(id);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- @tus/server answers its ERRORS
    if (!state) throw ERRORS.FILE_NOT_FOUND;
    if (state.failure !== undefined) await this.settle(id, state);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- @tus/server answers its ERRORS
    if (offset !== this.offsetOf(state)) throw ERRORS.INVALID_OFFSET;
    const size = metadata.file.size;
    try {
      let input = src;
      let end = offset;
      if (state.tail !== 0) {
        const tail = await this.downloadIncompletePart(id);
        if (tail) {
          await this.deleteIncompletePart(id);
          end -= tail.size;
          const reader = tail.createReader({ cleanUpOnEnd: true });
          input = Readable.from((async function* () {
            yield* reader;
            yield* src;
          })());
        }
        state.tail = 0;
      }

      const partSize = this.calcOptimalPartSize(size);
      const parts = new PartWriter({
        partSize,
        start: async () => {
          await this.roomFor(state);
          return this.partFiles.acquire();
        },
        finished: async (part) => {
          end += part.size;
          if (part.size >= this.minPartSize || end === size) {
            this.enqueuePart(state, metadata, part);
            return;
          }
          // A tail short of a part: stored in S3 only after every part before it is.
          try {
            await this.settle(id, state);
            await this.client.putObject({ Bucket: this.bucket, Key: this.partKey(id, true), Body: part.body(), ContentLength: part.size, Tagging: this.useCompleteTag('false') });
            state.tail = part.size;
          } finally {
            await part.release().catch(() => undefined);
          }
        },
      });
      await pipeline(input, parts);

      if (state.failure !== undefined) await this.settle(id, state);
      const newOffset = this.offsetOf(state);
      if (newOffset === size) {
        await this.settle(id, state);
        await this.finishMultipartUpload(metadata, contiguous(state.parts));
        await this.completeMetadata(metadata.file);
        await this.clearCache(id);
        this.states.delete(id);
      }
      return newOffset;
    } catch (error) {
      // A failed part drops the state in settle(); a state with the tail unknown is asked again.
      if (state.failure === undefined && state.pending.size === 0 && this.states.get(id) === state) this.states.delete(id);
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

  /** Stops the upload's background parts (those not yet sent are skipped) and forgets its state. */
  private async drop(id: string): Promise<void> {
    const state = this.states.get(id);
    this.states.delete(id);
    if (!state) return;
    state.failure ??= new Error('the upload was removed');
    await Promise.allSettled([...state.pending]);
  }

  override async remove(id: string): Promise<void> {
    await this.drop(id);
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
    await this.drop(id);
    await this.clearCache(id);
  }

  /**
   * Removes the upload's record and tail. Two DeleteObject calls at once rather than one
   * DeleteObjects: Ceph RGW answers every DeleteObjects after some 44 ms, whatever its keys
   * (bench/tus.bench.ts: the last PATCH of a 200 MiB upload waited on it), a DeleteObject in
   * 3-6 ms; on AWS both are one round trip. A key that is not there is no error for either.
   */
  async forget(id: string): Promise<void> {
    await this.drop(id);
    await Promise.all([this.infoKey(id), this.partKey(id, true)].map((Key) => this.client.deleteObject({ Bucket: this.bucket, Key })));
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
      maxQueuedParts: options.maxQueuedParts,
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
    void this.datastore.partFiles.close();
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
