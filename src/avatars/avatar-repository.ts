import type { Database } from '../db/database.js';
import { databaseError } from '../designs/design-repository.js';
import { toUpload, UploadRepository, type PublishedOriginal } from '../uploads/upload-repository.js';
import type { Upload } from '../uploads/upload.js';

/**
 * Avatars in the database: the `avatars` pointer (user → current upload) and the user's avatar
 * uploads (rows of kind `avatar` in `uploads`, whose states the UploadRepository moves).
 *
 * Concurrency: `publish` marks an upload PUBLISHED and points the user at it in one
 * transaction, so of two avatars published at once the one committed last is current. The
 * others are then "superseded" (PUBLISHED, not current) and removed by whoever looks next:
 * nothing makes a superseded upload current again, so removing one never races with its use.
 *
 * Errors: database failures as DATABASE_UNAVAILABLE (retryable) or DATABASE_ERROR.
 */
export class AvatarRepository {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The user's current avatar upload (PUBLISHED), or null. */
  async current(userId: string): Promise<Upload | null> {
    const row = await this.run('reading an avatar', () =>
      this.db.selectFrom('avatars').innerJoin('uploads', 'uploads.id', 'avatars.upload_id')
        .selectAll('uploads').where('avatars.user_id', '=', userId).executeTakeFirst());
    return row ? toUpload(row) : null;
  }

  /** The user's newest avatar upload, whatever its state (the one GET reports on), or null. */
  async latestAttempt(userId: string): Promise<Upload | null> {
    const row = await this.run('reading an avatar', () =>
      this.db.selectFrom('uploads').selectAll().where('owner_id', '=', userId).where('kind', '=', 'avatar')
        .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst());
    return row ? toUpload(row) : null;
  }

  /**
   * CLEAN → PUBLISHED and the user's current avatar, at once. Returns null when the upload is
   * gone or no longer CLEAN (deleted meanwhile): then nothing changed.
   */
  async publish(id: string, userId: string, published: PublishedOriginal): Promise<Upload | null> {
    return this.run('publishing an avatar', () =>
      this.db.transaction().execute(async (trx) => {
        const upload = await new UploadRepository(trx, this.clock).markPublished(id, published);
        if (!upload) return null;
        const now = this.clock().getTime();
        await trx.insertInto('avatars').values({ user_id: userId, upload_id: id, updated_at: now })
          .onConflict((oc) => oc.column('user_id').doUpdateSet({ upload_id: id, updated_at: now })).execute();
        return upload;
      }));
  }

  /**
   * The user's avatar uploads nobody will show again: PUBLISHED ones that are not current, and
   * REJECTED ones older than the latest attempt (the latest stays, so GET can say why it was
   * refused). Uploads on their way (RECEIVED, SCANNING, CLEAN) are never listed.
   */
  async superseded(userId: string): Promise<Upload[]> {
    // One statement, so the current and latest it compares with are those of the same moment:
    // read apart, an avatar published in between would look superseded.
    const rows = await this.run('finding replaced avatars', () =>
      this.db.selectFrom('uploads').selectAll().where('owner_id', '=', userId).where('kind', '=', 'avatar')
        .where((eb) => eb.or([
          eb.and([
            eb('status', '=', 'PUBLISHED'),
            eb('id', 'not in', eb.selectFrom('avatars').select('upload_id').where('user_id', '=', userId)),
          ]),
          eb.and([
            eb('status', '=', 'REJECTED'),
            eb('id', 'not in', eb.selectFrom('uploads as newest').select('newest.id')
              .where('newest.owner_id', '=', userId).where('newest.kind', '=', 'avatar')
              .orderBy('newest.created_at', 'desc').orderBy('newest.id', 'desc').limit(1)),
          ]),
        ]))
        .execute());
    return rows.map(toUpload);
  }

  /** Removes these avatar upload rows of the user, unless one became current meanwhile. */
  async removeRows(userId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.run('removing replaced avatars', () =>
      this.db.deleteFrom('uploads').where('owner_id', '=', userId).where('kind', '=', 'avatar').where('id', 'in', ids)
        .where('id', 'not in', (eb) => eb.selectFrom('avatars').select('upload_id').where('user_id', '=', userId))
        .execute());
  }

  /**
   * Removes the pointer and every avatar upload of the user (current, superseded, in flight);
   * returns the removed uploads, for their objects. Rows first, pointer second, in one
   * transaction: an avatar published meanwhile is either removed here or finds its row gone.
   */
  async removeAll(userId: string): Promise<Upload[]> {
    return this.run('deleting an avatar', () =>
      this.db.transaction().execute(async (trx) => {
        const rows = await trx.deleteFrom('uploads').where('owner_id', '=', userId).where('kind', '=', 'avatar').returningAll().execute();
        await trx.deleteFrom('avatars').where('user_id', '=', userId).execute();
        return rows.map(toUpload);
      }));
  }

  private async run<T>(operation: string, query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw databaseError(operation, error);
    }
  }
}
