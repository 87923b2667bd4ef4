import type { Database } from '../db/database.js';
import type { UploadRow } from '../db/schema.js';
import { databaseError, isForeignKeyViolation } from '../designs/design-repository.js';
import { AppError } from '../errors.js';
import { isUploadId, type Upload, type UploadKind } from './upload.js';
import { tell, type StateChangeListener } from '../events/state-change.js';
import type { RejectionReason } from './upload-errors.js';
import { checkLimit, decodeCursor, encodeCursor } from '../db/keyset-page.js';


export interface UploadPage {
  items: Upload[];
  nextCursor: string | null;
}

export interface PublishedOriginal {
  originalKey: string;
  contentType: string;
  bytes: number;
  width: number;
  height: number;
}

/**
 * Uploads in the database. As for designs, every state change is one compare-and-set
 * UPDATE ... RETURNING, so of two workers on the same upload one wins and the other gets
 * null; a worker's claim is a lease, and a crashed worker's upload is claimed again once the
 * lease has passed. Lookups by a non-UUID id find nothing.
 *
 * Errors: ValidationError INVALID_CURSOR / INVALID_LIMIT for list options; database
 * failures as DATABASE_UNAVAILABLE (retryable) or DATABASE_ERROR.
 */
export class UploadRepository {
  /** Hears every committed change of an upload's state (received, scanning, clean, published, rejected, deleted), after its commit. */
  onChange: StateChangeListener | undefined;

  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(input: { id: string; ownerId: string; kind: UploadKind; stagingKey: string; bytes: number; filename: string | null }): Promise<Upload> {
    const now = this.clock().getTime();
    const row = await this.run('recording an upload', () =>
      this.db.insertInto('uploads').values({
        id: input.id, owner_id: input.ownerId, kind: input.kind, status: 'RECEIVED', staging_key: input.stagingKey,
        bytes: input.bytes, filename: input.filename, reason: null, message: null, original_key: null, content_type: null,
        width: null, height: null, scan: null, lease_until: null, created_at: now, updated_at: now, published_at: null,
      }).returningAll().executeTakeFirstOrThrow());
    return this.changed(toUpload(row));
  }

  async findById(id: string): Promise<Upload | null> {
    if (!isUploadId(id)) return null;
    const row = await this.run('reading an upload', () => this.db.selectFrom('uploads').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst());
    return row ? toUpload(row) : null;
  }

  /**
   * Null both when the upload does not exist and when someone else owns it: callers answer 404 for both.
   * Only uploads of `kind` (design images by default: an avatar is not usable as one).
   */
  async findByIdForOwner(id: string, ownerId: string, kind: UploadKind = 'design-image'): Promise<Upload | null> {
    if (!isUploadId(id)) return null;
    const row = await this.run('reading an upload', () =>
      this.db.selectFrom('uploads').selectAll().where('id', '=', id.toLowerCase()).where('owner_id', '=', ownerId).where('kind', '=', kind).executeTakeFirst());
    return row ? toUpload(row) : null;
  }

  /** The owner's design images (avatars are not listed), newest first, one keyset page at a time (as designs). */
  async listByOwner(ownerId: string, options: { limit?: number; cursor?: string | null } = {}): Promise<UploadPage> {
    const limit = checkLimit(options.limit);
    const after = options.cursor == null || options.cursor === '' ? null : decodeCursor(options.cursor, 'uploads');
    const rows = await this.run('listing uploads', () => {
      let query = this.db.selectFrom('uploads').selectAll().where('owner_id', '=', ownerId).where('kind', '=', 'design-image');
      if (after) {
        query = query.where((eb) =>
          eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]));
      }
      return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    });
    const items = rows.slice(0, limit).map(toUpload);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /**
   * RECEIVED → SCANNING, or SCANNING/CLEAN again once the previous lease has passed (a retry,
   * or a crashed worker). Counts the attempt. Null when missing, final, or leased by another worker.
   */
  async claim(id: string, leaseMs: number): Promise<Upload | null> {
    if (!isUploadId(id)) return null;
    const now = this.clock().getTime();
    const row = await this.run('claiming an upload', () =>
      this.db.updateTable('uploads')
        .set((eb) => ({
          // A CLEAN upload whose publish failed is published again without a second scan.
          status: eb.case().when('status', '=', 'CLEAN').then('CLEAN').else('SCANNING').end(),
          attempts: eb('attempts', '+', 1), lease_until: now + Math.ceil(leaseMs), updated_at: now,
        }))
        .where('id', '=', id.toLowerCase())
        .where((eb) => eb.or([
          eb('status', '=', 'RECEIVED'),
          eb.and([eb('status', 'in', ['SCANNING', 'CLEAN']), eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)])]),
        ]))
        .returningAll().executeTakeFirst());
    return row ? this.changed(toUpload(row)) : null;
  }

  /**
   * Between retries: keeps the state, records the failure and ends the lease so the retry can
   * claim it, at once or, with `waitMs`, not before then (the sweep skips it until then too).
   */
  async releaseLease(id: string, message: string, waitMs = 0): Promise<boolean> {
    const now = this.clock().getTime();
    const result = await this.run('releasing an upload lease', () =>
      this.db.updateTable('uploads').set({ lease_until: now + Math.max(0, Math.ceil(waitMs)), message, updated_at: now })
        .where('id', '=', id).where('status', 'in', ['SCANNING', 'CLEAN']).executeTakeFirst());
    return result.numUpdatedRows > 0n;
  }

  /** SCANNING → CLEAN with the scanner's verdict. */
  async markClean(id: string, scan: string): Promise<Upload | null> {
    const now = this.clock().getTime();
    const row = await this.run('marking an upload clean', () =>
      this.db.updateTable('uploads').set({ status: 'CLEAN', scan, message: null, updated_at: now })
        .where('id', '=', id).where('status', '=', 'SCANNING').returningAll().executeTakeFirst());
    return row ? this.changed(toUpload(row)) : null;
  }

  /** CLEAN → PUBLISHED with the published original; the staged bytes are no longer referenced. */
  async markPublished(id: string, original: PublishedOriginal): Promise<Upload | null> {
    const now = this.clock().getTime();
    const row = await this.run('publishing an upload', () =>
      this.db.updateTable('uploads').set({
        status: 'PUBLISHED', original_key: original.originalKey, content_type: original.contentType, bytes: original.bytes,
        width: original.width, height: original.height, staging_key: null, message: null, lease_until: null, published_at: now, updated_at: now,
      }).where('id', '=', id).where('status', '=', 'CLEAN').returningAll().executeTakeFirst());
    return row ? this.changed(toUpload(row)) : null;
  }

  /** SCANNING or CLEAN → REJECTED; the staged bytes are gone (removed or quarantined). */
  async markRejected(id: string, reason: RejectionReason, message: string, scan?: string): Promise<Upload | null> {
    const now = this.clock().getTime();
    const row = await this.run('rejecting an upload', () =>
      this.db.updateTable('uploads').set({
        status: 'REJECTED', reason, message, staging_key: null, lease_until: null, updated_at: now, ...(scan ? { scan } : {}),
      }).where('id', '=', id).where('status', 'in', ['SCANNING', 'CLEAN']).returningAll().executeTakeFirst());
    return row ? this.changed(toUpload(row)) : null;
  }

  /**
   * SCANNING or CLEAN → REJECTED without a reason: processing failed for good for a cause that
   * is not the file's (storage access denied, an unreadable scanner reply, retries spent).
   */
  async markFailed(id: string, message: string): Promise<Upload | null> {
    const now = this.clock().getTime();
    const row = await this.run('recording a failed upload', () =>
      this.db.updateTable('uploads').set({ status: 'REJECTED', reason: null, message, staging_key: null, lease_until: null, updated_at: now })
        .where('id', '=', id).where('status', 'in', ['SCANNING', 'CLEAN']).returningAll().executeTakeFirst());
    return row ? this.changed(toUpload(row)) : null;
  }

  /**
   * Removes the owner's design image row (avatars go through src/avatars/); returns it (for its keys), or null if there was none.
   * Throws AppError UPLOAD_IN_USE when a design's image is this upload (the designs' foreign
   * key refuses the DELETE, atomically with any design being recorded at the same moment).
   */
  async delete(id: string, ownerId: string): Promise<Upload | null> {
    if (!isUploadId(id)) return null;
    const row = await this.run('deleting an upload', async () => {
      try {
        return await this.db.deleteFrom('uploads').where('id', '=', id.toLowerCase()).where('owner_id', '=', ownerId).where('kind', '=', 'design-image').returningAll().executeTakeFirst();
      } catch (error) {
        if (isForeignKeyViolation(error)) throw new AppError('UPLOAD_IN_USE', `Upload ${id} is the image of a design; delete the design first.`, { cause: error, details: { uploadId: id } });
        throw error;
      }
    });
    return row ? this.changed(toUpload(row), true) : null;
  }

  /** Unfinished uploads not touched since `before` and not leased: their job was probably lost (in-process queue, crash). */
  async findStale(before: Date, limit = 500): Promise<string[]> {
    const now = this.clock().getTime();
    const rows = await this.run('finding unfinished uploads', () =>
      this.db.selectFrom('uploads').select('id')
        .where('status', 'in', ['RECEIVED', 'SCANNING', 'CLEAN'])
        .where('updated_at', '<', before.getTime())
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
        .orderBy('updated_at').limit(limit).execute());
    return rows.map((r) => r.id);
  }

  /** Tells onChange of a committed change and returns the upload; a listener that throws cannot fail it. */
  private changed(upload: Upload, deleted = false): Upload {
    tell(this.onChange, { kind: 'upload', upload, deleted });
    return upload;
  }

  private async run<T>(operation: string, query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw databaseError(operation, error);
    }
  }
}

export function toUpload(row: UploadRow): Upload {
  const num = (v: number | null) => (v === null ? null : Number(v));
  const date = (v: number | null) => (v === null ? null : new Date(Number(v)));
  return {
    id: row.id,
    ownerId: row.owner_id,
    kind: row.kind,
    status: row.status,
    reason: row.reason as RejectionReason | null,
    message: row.message,
    filename: row.filename,
    stagingKey: row.staging_key,
    originalKey: row.original_key,
    contentType: row.content_type,
    bytes: num(row.bytes),
    width: num(row.width),
    height: num(row.height),
    scan: row.scan,
    attempts: Number(row.attempts),
    leaseUntil: date(row.lease_until),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    publishedAt: date(row.published_at),
  };
}

