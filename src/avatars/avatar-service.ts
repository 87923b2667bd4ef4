import type { Readable } from 'node:stream';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { UploadService, UploadView } from '../uploads/upload-service.js';
import type { UploadStorage } from '../uploads/upload-storage.js';
import type { Upload } from '../uploads/upload.js';
import { AVATAR_FORMATS, AVATAR_SIZES, avatarKeys, type AvatarFormat } from './avatar.js';
import type { AvatarRepository } from './avatar-repository.js';

/** The published squares: `urls["512"].webp`, and so on for 128 and 64 px, WebP and PNG. */
export type AvatarUrls = Record<`${(typeof AVATAR_SIZES)[number]}`, Record<AvatarFormat, string>>;

/**
 * The caller's avatar as the API shows it. The top-level fields describe the latest attempt
 * (the last PUT): poll until `status` is PUBLISHED or REJECTED. `current` is the avatar being
 * shown, which changes only when an attempt is PUBLISHED: a refused replacement leaves it.
 */
export interface AvatarView {
  upload_id: string;
  status: Upload['status'];
  reason: Upload['reason'];
  message: string | null;
  created_at: string;
  updated_at: string;
  current: { upload_id: string; published_at: string | null; urls: AvatarUrls } | null;
}

export interface AvatarServiceDeps {
  uploads: Pick<UploadService, 'receive'>;
  avatars: AvatarRepository;
  storage: UploadStorage;
  logger: Logger;
  /** AVATAR_MAX_BYTES. */
  maxBytes: number;
}

/** Use cases behind /api/v1/users/me/avatar. Knows nothing of HTTP. */
export class AvatarService {
  constructor(private readonly deps: AvatarServiceDeps) {}

  get maxBytes(): number {
    return this.deps.maxBytes;
  }

  /**
   * Streams the body to staging as an upload of kind avatar (cut at AVATAR_MAX_BYTES with
   * PAYLOAD_TOO_LARGE) and queues it through the upload pipeline; the current avatar stays
   * until this one is PUBLISHED.
   */
  async put(userId: string, body: Readable, options: { filename?: string | null } = {}): Promise<AvatarView> {
    const attempt = await this.deps.uploads.receive(userId, body, {
      filename: options.filename, kind: 'avatar', limit: { maxBytes: this.deps.maxBytes, variable: 'AVATAR_MAX_BYTES' },
    });
    return this.view(attempt, await this.deps.avatars.current(userId), userId);
  }

  /** Throws AVATAR_NOT_FOUND (404) when the user never sent one, or deleted it. */
  async get(userId: string): Promise<AvatarView> {
    const [latest, current] = await Promise.all([this.deps.avatars.latestAttempt(userId), this.deps.avatars.current(userId)]);
    if (!latest) throw notFound();
    return this.view(attemptView(latest), current, userId);
  }

  /**
   * Removes the avatar, every attempt (a replacement still in the pipeline is abandoned: the
   * task finds its row gone and removes what it stored) and their objects. Rows first, so the
   * API answers 404 at once; a crash before the objects are gone leaves unreferenced files
   * under the user's prefix, which the next DELETE removes.
   */
  async delete(userId: string): Promise<void> {
    const removed = await this.deps.avatars.removeAll(userId);
    if (removed.length === 0) throw notFound();
    for (const upload of removed) await this.deps.storage.removeStaged(upload.id);
    await this.deps.storage.storage.deletePrefix(avatarKeys.user(userId));
  }

  private async view(attempt: Pick<UploadView, 'id' | 'status' | 'reason' | 'message' | 'created_at' | 'updated_at'>, current: Upload | null, userId: string): Promise<AvatarView> {
    return {
      upload_id: attempt.id,
      status: attempt.status,
      reason: attempt.reason,
      message: attempt.message,
      created_at: attempt.created_at,
      updated_at: attempt.updated_at,
      current: current ? { upload_id: current.id, published_at: current.publishedAt?.toISOString() ?? null, urls: await this.urls(userId, current.id) } : null,
    };
  }

  private async urls(userId: string, uploadId: string): Promise<AvatarUrls> {
    const entries = await Promise.all(AVATAR_SIZES.map(async (size) => {
      const formats = await Promise.all(AVATAR_FORMATS.map(async (format) => [format, await this.deps.storage.urlFor(avatarKeys.image(userId, uploadId, size, format))] as const));
      return [String(size), Object.fromEntries(formats)] as const;
    }));
    return Object.fromEntries(entries) as AvatarUrls;
  }
}

function attemptView(u: Upload): Pick<UploadView, 'id' | 'status' | 'reason' | 'message' | 'created_at' | 'updated_at'> {
  return { id: u.id, status: u.status, reason: u.reason, message: u.message, created_at: u.createdAt.toISOString(), updated_at: u.updatedAt.toISOString() };
}

function notFound(): NotFoundError {
  return new NotFoundError('AVATAR_NOT_FOUND', 'You have no avatar: upload one with PUT /api/v1/users/me/avatar.', { field: 'avatar' });
}
