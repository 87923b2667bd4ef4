import path from 'node:path';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { writeAvatarSizes } from '../uploads/normalise.js';
import type { UploadPublisher } from '../uploads/process-upload.task.js';
import type { UploadStorage } from '../uploads/upload-storage.js';
import type { Upload } from '../uploads/upload.js';
import { avatarKeys, type AvatarFormat, type AvatarSize } from './avatar.js';
import type { AvatarRepository } from './avatar-repository.js';

export interface AvatarPublisherDeps {
  avatars: AvatarRepository;
  storage: UploadStorage;
  logger: Logger;
  maxInputPixels: number;
}

/**
 * The last step of the upload pipeline for avatars (the task calls it once the upload is
 * CLEAN): writes the six squares (512, 128, 64 px; WebP and PNG; upright, sRGB, no metadata,
 * a smart "attention" crop), stores them under `avatars/{user}/{upload_id}/`, then marks the
 * upload PUBLISHED and makes it the user's avatar in one transaction (stored first, recorded
 * second). Only then are the user's older avatars and their objects removed, so a replacement
 * that is refused, or still scanning, leaves the old avatar in place.
 *
 * Throws what normalise and storage throw: UploadRejectedError (the task rejects the upload)
 * or a storage/database error (the task retries; the same keys are written again).
 */
export class AvatarPublisher implements UploadPublisher {
  constructor(private readonly deps: AvatarPublisherDeps) {}

  async publish(upload: Upload, file: string, workDir: string): Promise<{ key: string } | null> {
    const { storage, avatars } = this.deps;
    const userId = upload.ownerId;
    const local = (size: number, format: AvatarFormat) => path.join(workDir, `avatar-${size}.${format}`);
    const written = await writeAvatarSizes(file, local, { limits: { maxInputPixels: this.deps.maxInputPixels } });
    let bytes = 0;
    for (const image of written) {
      const key = avatarKeys.image(userId, upload.id, image.size as AvatarSize, image.format as AvatarFormat);
      await storage.publishFile(key, local(image.size, image.format as AvatarFormat), image.contentType, { upload_id: upload.id });
      bytes += image.bytes;
    }
    const largest = avatarKeys.image(userId, upload.id, 512, 'png');
    const published = await avatars.publish(upload.id, userId, { originalKey: largest, contentType: 'image/png', bytes, width: 512, height: 512 });
    if (!published) {
      // Deleted while we worked (DELETE /users/me/avatar): take back what we stored.
      await storage.storage.deletePrefix(avatarKeys.prefix(userId, upload.id));
      return null;
    }
    await this.removeSuperseded(userId).catch((error: unknown) =>
      this.deps.logger.warn({ uploadId: upload.id }, `Could not remove a replaced avatar; the next avatar published removes it: ${describeError(error)}`));
    return { key: largest };
  }

  /**
   * Removes the user's avatars nobody shows any more (see AvatarRepository.superseded):
   * objects first, rows second, so an interrupted removal is found again next time.
   */
  async removeSuperseded(userId: string): Promise<string[]> {
    const { storage, avatars } = this.deps;
    const old = await avatars.superseded(userId);
    for (const upload of old) await storage.storage.deletePrefix(avatarKeys.prefix(userId, upload.id));
    await avatars.removeRows(userId, old.map((u) => u.id));
    return old.map((u) => u.id);
  }
}
