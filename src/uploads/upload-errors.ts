import { AppError } from '../errors.js';

/**
 * Why an upload is refused: the machine-readable reasons of the REJECTED state (issue #11).
 * None is retryable: the same bytes fail the same way. INFECTED comes from the scanner's
 * verdict, not from an error, and is listed so the state's reason has one type.
 */
export type RejectionReason = 'INFECTED' | 'UNSUPPORTED_TYPE' | 'TOO_LARGE' | 'TOO_MANY_PIXELS' | 'CORRUPT';

export class UploadRejectedError extends AppError {
  declare readonly code: Exclude<RejectionReason, 'INFECTED'>;

  constructor(code: Exclude<RejectionReason, 'INFECTED'>, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, { ...options, retryable: false, field: 'file' });
  }
}

export function isUploadRejectedError(error: unknown): error is UploadRejectedError {
  return error instanceof UploadRejectedError;
}
