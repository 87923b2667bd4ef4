import { createHash } from 'node:crypto';
import { AVATAR_SIZES } from '../uploads/normalise.js';
import { assertUploadId } from '../uploads/upload.js';

/**
 * A user's avatar (issue #11): the current one is a PUBLISHED upload of kind `avatar`, published
 * as squares of AVATAR_SIZES in AVATAR_FORMATS under a key versioned by the upload id, so a new
 * avatar never reuses an old one's URL and caches may keep each file forever:
 *
 *   avatars/{user}/{upload_id}/512.webp, 512.png, 128.webp, 128.png, 64.webp, 64.png
 */
export { AVATAR_SIZES };
export type AvatarSize = (typeof AVATAR_SIZES)[number];
export const AVATAR_FORMATS = ['webp', 'png'] as const;
export type AvatarFormat = (typeof AVATAR_FORMATS)[number];

export const AVATARS_PREFIX = 'avatars/';

// What a storage key segment may hold without encoding (a subset of keys.ts's safe characters).
const PLAIN_USER_ID = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_SEGMENT = 128;

/**
 * The user id as one key segment. Ids come from the token's `sub` and may hold anything
 * (`auth0|123`, an e-mail address, `..`); those that are not plain letters, digits, `_` and `-`
 * are written as `!` + base64url of their UTF-8, and ids too long for that as `!!` + their
 * SHA-256 (hex), so a key stays far below S3's 1024 bytes. No plain id starts with `!` and no
 * base64url with `!`: one user, one folder, and no user id reaches another's folder or leaves
 * `avatars/`.
 */
export function avatarUserSegment(userId: string): string {
  if (PLAIN_USER_ID.test(userId)) return userId;
  const encoded = Buffer.from(userId, 'utf8').toString('base64url');
  return encoded.length < MAX_SEGMENT ? `!${encoded}` : `!!${createHash('sha256').update(userId, 'utf8').digest('hex')}`;
}

export const avatarKeys = {
  /** Everything of one user. */
  user: (userId: string) => `${AVATARS_PREFIX}${avatarUserSegment(userId)}/`,
  /** One avatar (one upload) of the user. */
  prefix: (userId: string, uploadId: string) => `${avatarKeys.user(userId)}${assertUploadId(uploadId)}/`,
  image: (userId: string, uploadId: string, size: AvatarSize, format: AvatarFormat) => `${avatarKeys.prefix(userId, uploadId)}${size}.${format}`,
};
