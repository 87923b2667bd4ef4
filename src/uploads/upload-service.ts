import { randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { AppError, describeError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RenderQueue } from '../jobs/render-queue.js';
import { assertUploadId, uploadKeys, type Upload, type UploadKind } from './upload.js';
import type { UploadRepository } from './upload-repository.js';
import type { UploadStorage } from './upload-storage.js';

/** An upload as the API shows it; `url` only once PUBLISHED. */
export interface UploadView {
  id: string;
  kind: Upload['kind'];
  status: Upload['status'];
  reason: Upload['reason'];
  message: string | null;
  filename: string | null;
  content_type: string | null;
  bytes: number | null;
  width: number | null;
  height: number | null;
  url: string | null;
  created_at: string;
  updated_at: string;
  published_at: string | null;
}

export interface UploadServiceDeps {
  uploads: UploadRepository;
  storage: UploadStorage;
  queue: Pick<RenderQueue, 'enqueue'>;
  logger: Logger;
  maxBytes: number;
  /** Live designs whose image is this upload (ids, a few): named when a DELETE is refused. */
  designsUsing?: (uploadId: string) => Promise<string[]>;
}

/** `variable` names the setting that sets the limit (AVATAR_MAX_BYTES for avatars). */
export function payloadTooLarge(maxBytes: number, variable = 'UPLOAD_MAX_BYTES'): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `The file is larger than the upload limit of ${maxBytes} bytes (${variable}): upload a smaller image.`, { field: 'file', details: { maxBytes } });
}

export interface ReceiveOptions {
  filename?: string | null;
  /** Default design-image. Avatars are received here too (src/avatars/) and published by their own publisher. */
  kind?: UploadKind;
  /** Default: UPLOAD_MAX_BYTES (the service's maxBytes). */
  limit?: { maxBytes: number; variable: string };
}

/** Use cases behind /api/v1/uploads. Knows nothing of HTTP. */
export class UploadService {
  constructor(private readonly deps: UploadServiceDeps) {}

  get maxBytes(): number {
    return this.deps.maxBytes;
  }

  /**
   * Streams `body` to staging (never whole in memory), records the upload RECEIVED and queues
   * its pipeline. Past `maxBytes` the stream is cut, the staged bytes removed and
   * PAYLOAD_TOO_LARGE thrown. A failed enqueue is left to the sweep (the row says RECEIVED).
   */
  async receive(ownerId: string, body: Readable, options: ReceiveOptions = {}): Promise<UploadView> {
    const id = randomUUID();
    const { maxBytes, variable } = options.limit ?? { maxBytes: this.deps.maxBytes, variable: 'UPLOAD_MAX_BYTES' };
    let seen = 0;
    let overLimit = false;
    const limiter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        if (seen > maxBytes) {
          overLimit = true;
          done(payloadTooLarge(maxBytes, variable));
          return;
        }
        done(null, chunk);
      },
    });
    body.on('error', (error) => limiter.destroy(error));
    let bytes: number;
    try {
      bytes = await this.deps.storage.stage(id, body.pipe(limiter));
    } catch (error) {
      // The driver's own write is atomic (a temp file, a multipart upload) and cleans up; this
      // covers an object that was completed before the error surfaced.
      await this.deps.storage.removeStaged(id).catch((cleanup: unknown) =>
        this.deps.logger.warn(`Could not remove the staged bytes of a refused upload ${id}: ${describeError(cleanup)}`));
      if (overLimit) throw payloadTooLarge(maxBytes, variable);
      throw error;
    }
    return this.recordStaged(ownerId, id, { bytes, filename: options.filename, kind: options.kind });
  }

  /**
   * The second half of `receive`, for bytes another way in has already put at `staging/{id}`
   * (a finished tus upload): records the upload RECEIVED and queues the same pipeline. If the
   * row cannot be written the staged bytes are removed. `id` must be new (a UUID).
   */
  async recordStaged(ownerId: string, id: string, options: { bytes: number; filename?: string | null; kind?: UploadKind }): Promise<UploadView> {
    assertUploadId(id);
    let upload: Upload;
    try {
      upload = await this.deps.uploads.create({ id, ownerId, kind: options.kind ?? 'design-image', stagingKey: uploadKeys.staging(id), bytes: options.bytes, filename: cleanFilename(options.filename) });
    } catch (error) {
      await this.deps.storage.removeStaged(id).catch(() => undefined);
      throw error;
    }
    await this.deps.queue.enqueue(id).catch((error: unknown) =>
      this.deps.logger.warn(`Upload ${id} recorded but not queued (${describeError(error)}); the sweep queues it.`));
    return this.view(upload);
  }

  async get(ownerId: string, id: string): Promise<UploadView> {
    return this.view(await this.find(ownerId, id));
  }

  async list(ownerId: string, page: { limit?: number; cursor?: string }): Promise<{ items: UploadView[]; next_cursor: string | null }> {
    const { items, nextCursor } = await this.deps.uploads.listByOwner(ownerId, page);
    return { items: await Promise.all(items.map((u) => this.view(u))), next_cursor: nextCursor };
  }

  /**
   * Removes the row, then its objects. A pipeline still running on it finds the row gone when
   * it records its result and removes what it published (see the task). Refused with 409
   * UPLOAD_IN_USE, naming the designs, while a design's image is this upload; someone else's
   * upload is 404 whether or not it is in use (the DELETE matches no row of this owner).
   */
  async delete(ownerId: string, id: string): Promise<void> {
    assertUploadId(id);
    const removed = await this.deps.uploads.delete(id, ownerId).catch(async (error: unknown) => {
      if (!(error instanceof AppError && error.code === 'UPLOAD_IN_USE')) throw error;
      throw await this.inUse(id, error);
    });
    if (!removed) throw notFound();
    await this.deps.storage.removeAll(removed.id);
  }

  /** UPLOAD_IN_USE naming the designs that use the upload (their deletion may be finishing). */
  private async inUse(id: string, cause: AppError): Promise<AppError> {
    const ids = (await this.deps.designsUsing?.(id.toLowerCase())) ?? [];
    const named = ids.length > 0
      ? `the image of design${ids.length > 1 ? 's' : ''} ${ids.join(', ')}; delete ${ids.length > 1 ? 'them' : 'it'} first, or keep the upload.`
      : 'the image of a design being deleted; try again in a moment.';
    return new AppError('UPLOAD_IN_USE', `Upload ${id} cannot be deleted: it is ${named}`, { field: 'id', cause, details: { uploadId: id, designIds: ids } });
  }

  private async find(ownerId: string, id: string): Promise<Upload> {
    assertUploadId(id);
    const upload = await this.deps.uploads.findByIdForOwner(id, ownerId);
    if (!upload) throw notFound();
    return upload;
  }

  async view(u: Upload): Promise<UploadView> {
    return {
      id: u.id,
      kind: u.kind,
      status: u.status,
      reason: u.reason,
      message: u.message,
      filename: u.filename,
      content_type: u.status === 'PUBLISHED' ? u.contentType : null,
      bytes: u.bytes,
      width: u.width,
      height: u.height,
      url: u.status === 'PUBLISHED' && u.originalKey ? await this.deps.storage.urlFor(u.originalKey) : null,
      created_at: u.createdAt.toISOString(),
      updated_at: u.updatedAt.toISOString(),
      published_at: u.publishedAt?.toISOString() ?? null,
    };
  }
}

function notFound(): NotFoundError {
  return new NotFoundError('UPLOAD_NOT_FOUND', 'No upload with this id among yours: check the id returned by POST /api/v1/uploads.', { field: 'id' });
}

/** A display name only: no path, no control characters, at most 255 characters. */
function cleanFilename(name: string | null | undefined): string | null {
  if (!name) return null;
  // eslint-disable-next-line no-control-regex
  const base = name.split(/[/\\]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 255);
  return base || null;
}
