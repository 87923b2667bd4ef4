import { AppError, type AppErrorOptions } from '../errors.js';

/**
 * The codes a storage failure can carry. Stable: logs, metrics, the HTTP error body and
 * the render task's retry decision all read them.
 */
export const STORAGE_ERROR_CODES = {
  STORAGE_CREDENTIALS_MISSING: { retryable: false },
  STORAGE_INVALID_CREDENTIALS: { retryable: false },
  STORAGE_ACCESS_DENIED: { retryable: false },
  STORAGE_BUCKET_NOT_FOUND: { retryable: false },
  STORAGE_OBJECT_NOT_FOUND: { retryable: false },
  STORAGE_INVALID_KEY: { retryable: false },
  STORAGE_UNAVAILABLE: { retryable: true },
  STORAGE_THROTTLED: { retryable: true },
  STORAGE_DISK_FULL: { retryable: false },
  STORAGE_QUOTA_EXCEEDED: { retryable: false },
  STORAGE_READ_ONLY: { retryable: false },
  STORAGE_ERROR: { retryable: false },
} as const;

export type StorageErrorCode = keyof typeof STORAGE_ERROR_CODES;

export class StorageError extends AppError {
  declare readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options: Omit<AppErrorOptions, 'retryable'> & { retryable?: boolean } = {}) {
    super(code, message, { ...options, retryable: options.retryable ?? STORAGE_ERROR_CODES[code].retryable });
  }
}

export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}
