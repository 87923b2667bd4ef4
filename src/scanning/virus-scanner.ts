import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';

/**
 * The virus-scanner port. The upload pipeline scans every file before it is decoded or
 * published; the adapter is picked once by the composition root (clamd when CLAMD_HOST is
 * set, the disabled scanner otherwise).
 *
 * Error behaviour, for every adapter:
 * - `scan` resolves with a verdict, or rejects with a ScanError:
 *   - SCAN_UNAVAILABLE (retryable): the scanner could not be reached or dropped the
 *     connection before answering. The upload stays SCANNING and is retried later.
 *   - SCAN_TIMEOUT (retryable): connected, but no progress or no answer within the deadline.
 *   - SCAN_TOO_LARGE (not retryable): the scanner refused the stream as longer than its own
 *     limit (clamd's StreamMaxLength). Retrying sends the same bytes.
 *   - SCAN_PROTOCOL (not retryable): the scanner answered something this client does not
 *     understand, or an ERROR reply: retrying the same conversation cannot fix it.
 *   - SCAN_INPUT_FAILED (retryable): reading the bytes to scan failed (the source stream
 *     errored, e.g. the staging file vanished or the disk failed); the scanner was not at fault.
 * - `ping` and `version` reject with the same SCAN_UNAVAILABLE / SCAN_TIMEOUT / SCAN_PROTOCOL errors.
 */

/** What a scan found. `skipped` comes only from the disabled scanner (no CLAMD_HOST). */
export type ScanResult =
  | { status: 'clean' }
  | { status: 'infected'; signature: string }
  | { status: 'skipped'; reason: string };

/** The bytes to scan: a Buffer, or a stream read once and never held whole in memory. */
export type ScanInput = Buffer | Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface VirusScanner {
  /** False for the disabled scanner: readiness and start-up warn, SCAN_REQUIRED refuses to start. */
  readonly enabled: boolean;
  scan(input: ScanInput): Promise<ScanResult>;
  /** Cheap liveness check (clamd: zPING -> PONG). Resolves when the scanner answers. */
  ping(): Promise<void>;
  /** The engine and signature database version (clamd: zVERSION), or "scanning disabled". */
  version(): Promise<string>;
}

export type ScanErrorCode = 'SCAN_UNAVAILABLE' | 'SCAN_TIMEOUT' | 'SCAN_TOO_LARGE' | 'SCAN_PROTOCOL' | 'SCAN_INPUT_FAILED';

const RETRYABLE: Record<ScanErrorCode, boolean> = {
  SCAN_UNAVAILABLE: true,
  SCAN_TIMEOUT: true,
  SCAN_TOO_LARGE: false,
  SCAN_PROTOCOL: false,
  SCAN_INPUT_FAILED: true,
};

export class ScanError extends AppError {
  declare readonly code: ScanErrorCode;

  constructor(code: ScanErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, retryable: RETRYABLE[code] });
  }
}

export function isScanError(error: unknown): error is ScanError {
  return error instanceof ScanError;
}
