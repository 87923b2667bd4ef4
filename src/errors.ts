/**
 * The one error base of the project. Every error a user can see carries a stable `code`
 * (what the HTTP layer maps to a status and what tests assert), a message that says what
 * to do, whether retrying the same operation can help, and the original `cause`.
 * Modules below the HTTP layer never know about status codes.
 */
import type { ErrorCode } from './error-codes.js';

export type { ErrorCode } from './error-codes.js';

export interface AppErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  /** The input field at fault, for validation errors (`design_data.color`). */
  field?: string;
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  /** Registered in ERROR_CODES (src/error-codes.ts), which gives its HTTP status. */
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.field = options.field;
    this.details = options.details;
  }
}

/** Bad input: a value the caller must change. Never retryable. */
export class ValidationError extends AppError {
  constructor(code: ErrorCode, message: string, field: string, options: Omit<AppErrorOptions, 'field' | 'retryable'> = {}) {
    super(code, message, { ...options, field, retryable: false });
  }
}

/** A thing that does not exist (or is not visible to the caller). */
export class NotFoundError extends AppError {}

/** A configuration value the process cannot start with. */
export class ConfigError extends AppError {
  constructor(message: string, field: string) {
    super('CONFIG_INVALID', message, { field });
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** A one-line description of any thrown value, for logs and stored failure messages. */
export function describeError(error: unknown): string {
  if (error instanceof AppError) return `${error.message} [${error.code}]`;
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
