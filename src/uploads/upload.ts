import { ValidationError } from '../errors.js';
import type { RejectionReason } from './upload-errors.js';
import { isUuid } from '../shared/uuid.js';

/**
 * A file a user sent, and where it is on its way to being served (issue #11):
 *
 *   RECEIVED ─▶ SCANNING ─▶ CLEAN ─▶ PUBLISHED
 *                  │           │
 *                  └───────────┴──▶ REJECTED (reason + message)
 *
 * RECEIVED: the bytes are staged (`staging/{id}`), a job is queued. SCANNING: a worker has
 * claimed it (sniff, virus scan); a scanner outage keeps it here and the job retries.
 * CLEAN: scanned clean and of an accepted type; being re-encoded and published. PUBLISHED:
 * the normalised original is at `uploads/{id}/original.{ext}` and has a URL. REJECTED: never
 * served; an infected file is kept under `quarantine/{id}` (private), anything else removed.
 */
export const UPLOAD_STATUSES = ['RECEIVED', 'SCANNING', 'CLEAN', 'PUBLISHED', 'REJECTED'] as const;
export type UploadStatus = (typeof UPLOAD_STATUSES)[number];
/** design-image: POST /api/v1/uploads; avatar: PUT /api/v1/users/me/avatar (published as squares, see src/avatars/). */
export const UPLOAD_KINDS = ['design-image', 'avatar'] as const;
export type UploadKind = (typeof UPLOAD_KINDS)[number];
export const REJECTION_REASONS = ['INFECTED', 'UNSUPPORTED_TYPE', 'TOO_LARGE', 'TOO_MANY_PIXELS', 'CORRUPT'] as const;

export interface Upload {
  id: string;
  ownerId: string;
  kind: UploadKind;
  status: UploadStatus;
  reason: RejectionReason | null;
  /** Why it was rejected, or the last transient failure while it is retried. */
  message: string | null;
  filename: string | null;
  stagingKey: string | null;
  originalKey: string | null;
  /** Of the published original (after PUBLISHED). */
  contentType: string | null;
  /** As received until PUBLISHED, then of the published original. */
  bytes: number | null;
  width: number | null;
  height: number | null;
  /** clean, skipped (scanning disabled) or the signature found. */
  scan: string | null;
  attempts: number;
  leaseUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
  publishedAt: Date | null;
}

export function isUploadId(value: unknown): value is string {
  return isUuid(value);
}

export function assertUploadId(value: unknown, field = 'id'): string {
  if (!isUploadId(value)) {
    throw new ValidationError('INVALID_UPLOAD_ID', 'The upload id must be a UUID, as returned by POST /api/v1/uploads.', field);
  }
  return value.toLowerCase();
}

/** Storage keys of an upload. Staging and quarantine are private: never given a URL. */
export const uploadKeys = {
  staging: (id: string) => `staging/${assertUploadId(id)}`,
  quarantine: (id: string) => `quarantine/${assertUploadId(id)}`,
  prefix: (id: string) => `uploads/${assertUploadId(id)}/`,
  original: (id: string, extension: string) => `uploads/${assertUploadId(id)}/original.${extension}`,
};

/** Prefixes that hold bytes nobody may fetch (the local static route refuses them). */
export const PRIVATE_PREFIXES = ['staging/', 'quarantine/'] as const;
