import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { AppError, describeError } from '../errors.js';
import type { Attempt } from '../jobs/render-design.task.js';
import { isRetryable } from '../jobs/retry-policy.js';
import type { Logger } from '../logger.js';
import type { VirusScanner } from '../scanning/index.js';
import { normaliseImage } from './normalise.js';
import { MarkupDetector, SNIFF_BYTES, sniff } from './sniff.js';
import { isUploadRejectedError, type RejectionReason } from './upload-errors.js';
import type { UploadRepository } from './upload-repository.js';
import type { UploadStorage } from './upload-storage.js';
import { uploadKeys, type Upload, type UploadKind } from './upload.js';

export interface UploadObserver {
  /**
   * One pipeline run ended: published, rejected (with its reason), retry (a transient failure,
   * retried), scanner-unavailable (clamd out: retried without end), failed (terminal), skipped.
   */
  processed(event: { outcome: 'published' | 'rejected' | 'retry' | 'scanner-unavailable' | 'failed' | 'skipped'; reason?: RejectionReason }): void;
}

/** The queue's backoff, reused for the wait between rounds while the scanner is out. */
export interface UploadRetry {
  /** The first retry's delay (RENDER_BACKOFF_MS). Default 1 s. */
  backoffMs?: number;
  /** Cap of the wait between rounds. Default SCANNER_RETRY_MAX_DELAY_MS (5 min). */
  maxDelayMs?: number;
}

/**
 * Publishes a CLEAN upload of a kind with its own renditions (avatars: src/avatars/) in place of
 * the normalised original: stores its objects, then records the upload PUBLISHED. Null when the
 * row vanished meanwhile (it has then removed what it stored). Throws as normalise and storage do.
 */
export interface UploadPublisher {
  publish(upload: Upload, file: string, workDir: string): Promise<{ key: string } | null>;
}

export interface UploadTaskDeps {
  uploads: Pick<UploadRepository, 'claim' | 'findById' | 'releaseLease' | 'markClean' | 'markPublished' | 'markRejected' | 'markFailed'>;
  storage: UploadStorage;
  scanner: VirusScanner;
  logger: Logger;
  leaseMs: number;
  maxBytes: number;
  maxInputPixels: number;
  observer?: UploadObserver;
  /** Publishers of the kinds that are not published as a normalised original (avatar). */
  publishers?: Partial<Record<UploadKind, UploadPublisher>>;
  /**
   * Told once the upload is final (PUBLISHED or REJECTED): queues the designs that wait for it
   * as their image. A failure is logged; the design sweep queues them later.
   */
  onSettled?: (uploadId: string) => Promise<void>;
  /** Where the worker keeps its working copies; the system temp folder by default. */
  tempDir?: string;
  retry?: UploadRetry;
}

export type UploadOutcome =
  | { status: 'PUBLISHED'; key: string }
  | { status: 'REJECTED'; reason: RejectionReason }
  | { status: 'SKIPPED'; reason: 'missing' | 'busy' | 'final' };

export type ProcessUploadTask = (uploadId: string, attempt: Attempt) => Promise<UploadOutcome>;

/**
 * The upload pipeline, run by the queue's workers with the render jobs' retry policy:
 * claim (SCANNING) → copy the staged bytes to a local working file → virus scan (looking for
 * markup over the whole stream on the way) → sniff the type from the bytes → CLEAN → re-encode with
 * sharp (pixel limit, upright, sRGB, no metadata) → store `uploads/{id}/original.{ext}` →
 * PUBLISHED. Stored first, recorded second: a PUBLISHED upload always has its file.
 *
 * A refusal (UploadRejectedError, or an infected verdict) is the job's result, not a failure:
 * REJECTED with its reason, the staged bytes removed, or moved to `quarantine/{id}` when
 * infected. Any other failure is classified (failureClass): a scanner outage keeps the upload
 * SCANNING and is retried without end (with a growing, capped wait between rounds); a
 * retryable failure is retried within the job's attempts, then ends the upload; an
 * unrecoverable one ends it at once. The end is REJECTED with no reason and a message saying
 * what to do, thrown as UploadFailedError (not retryable: BullMQ stops). An upload is never
 * published unscanned unless scanning is disabled (no CLAMD_HOST), recorded as scan "skipped".
 */
export function createProcessUploadTask(deps: UploadTaskDeps): ProcessUploadTask {
  const { uploads, storage, scanner, logger } = deps;
  return async function processUpload(uploadId, attempt) {
    const upload = await uploads.claim(uploadId, deps.leaseMs);
    if (!upload) {
      const current = await uploads.findById(uploadId);
      const reason = !current ? 'missing' : current.status === 'PUBLISHED' || current.status === 'REJECTED' ? 'final' : 'busy';
      deps.observer?.processed({ outcome: 'skipped' });
      return { status: 'SKIPPED', reason };
    }
    const id = upload.id;
    const claims = upload.attempts;
    const log = logger.child({ uploadId: id, attempt: attempt.attempt });
    // Inside the try below: a failure to make the working folder is handled like any other.
    let work: string | undefined;
    const reject = async (reason: RejectionReason, message: string, scan?: string): Promise<UploadOutcome> => {
      if (reason !== 'INFECTED') {
        await storage.removeStaged(id).catch((error: unknown) => log.warn(`Could not remove the staged bytes of a rejected upload: ${describeError(error)}`));
      }
      const rejected = await uploads.markRejected(id, reason, message, scan);
      if (!rejected) return skippedAfterDelete();
      await settled();
      log.info({ reason }, `Upload ${id} rejected: ${reason}`);
      deps.observer?.processed({ outcome: 'rejected', reason });
      return { status: 'REJECTED', reason };
    };
    const settled = async (): Promise<void> => {
      await deps.onSettled?.(id).catch((error: unknown) => log.warn(`Could not queue the designs waiting for upload ${id}: ${describeError(error)}; the design sweep queues them.`));
    };
    /** The row vanished (DELETE while we worked): remove whatever this run wrote. */
    const skippedAfterDelete = async (): Promise<UploadOutcome> => {
      await storage.removeAll(id).catch((error: unknown) => log.warn(`Could not remove the files of an upload deleted while processing: ${describeError(error)}`));
      log.info(`Upload ${id} deleted while processing: abandoned`);
      deps.observer?.processed({ outcome: 'skipped' });
      return { status: 'SKIPPED', reason: 'missing' };
    };
    try {
      work = await mkdtemp(path.join(deps.tempDir ?? tmpdir(), 'customify-upload-'));
      const received = path.join(work, 'received');
      const encoded = path.join(work, 'encoded');
      try {
        await storage.download(uploadKeys.staging(id), received);
      } catch (error) {
        if (error instanceof AppError && error.code === 'STORAGE_OBJECT_NOT_FOUND') {
          if (!(await uploads.findById(id))) return await skippedAfterDelete();
          return await reject('CORRUPT', 'The received bytes were lost before they could be checked: upload the file again.');
        }
        throw error;
      }
      if (upload.status === 'SCANNING') {
        // Scanned before the type is judged: malware is quarantined and reported INFECTED
        // whatever it claims to be, not merely refused as an unsupported type.
        const detector = new MarkupDetector();
        const watched = createReadStream(received).pipe(new Transform({
          transform(chunk: Buffer, _encoding, done) {
            detector.update(chunk);
            done(null, chunk);
          },
        }));
        const verdict = await scanner.scan(watched);
        if (verdict.status === 'infected') {
          const key = await storage.quarantine(id, received);
          log.warn({ signature: verdict.signature, quarantine: key }, `Upload ${id} is infected (${verdict.signature}): quarantined under ${key}`);
          return await reject('INFECTED', `The file contains malware (${verdict.signature}) and was refused. It is not stored for use; scan your device and upload a clean file.`, `infected: ${verdict.signature}`);
        }
        detector.assertClean(sniff(await readHead(received)).format);
        if (!(await uploads.markClean(id, verdict.status))) return await skippedAfterDelete();
      }
      if (upload.kind !== 'design-image') {
        const publisher = deps.publishers?.[upload.kind];
        if (!publisher) throw new Error(`No publisher for uploads of kind ${upload.kind}`);
        const published = await publisher.publish(upload, received, work);
        if (!published) return await skippedAfterDelete();
        await storage.removeStaged(id).catch((error: unknown) => log.warn(`Could not remove the staged bytes of a published upload: ${describeError(error)}`));
        log.info({ key: published.key, kind: upload.kind }, `Upload ${id} published`);
        deps.observer?.processed({ outcome: 'published' });
        return { status: 'PUBLISHED', key: published.key };
      }
      const image = await normaliseImage(received, encoded, { maxInputPixels: deps.maxInputPixels, maxBytes: deps.maxBytes });
      const key = await storage.publishOriginal(id, encoded, image);
      const published = await uploads.markPublished(id, { originalKey: key, contentType: image.contentType, bytes: image.bytes, width: image.width, height: image.height });
      if (!published) return await skippedAfterDelete();
      await settled();
      await storage.removeStaged(id).catch((error: unknown) => log.warn(`Could not remove the staged bytes of a published upload: ${describeError(error)}`));
      log.info({ key, width: image.width, height: image.height }, `Upload ${id} published`);
      deps.observer?.processed({ outcome: 'published' });
      return { status: 'PUBLISHED', key };
    } catch (error) {
      if (isUploadRejectedError(error)) return await reject(error.code, error.message);
      if (error instanceof AppError && error.code === 'SCAN_TOO_LARGE') {
        return await reject('TOO_LARGE', 'The file is larger than the virus scanner accepts: upload a smaller image.');
      }
      return await failedAttempt(error);
    } finally {
      if (work) await rm(work, { recursive: true, force: true }).catch(() => undefined);
    }

    /**
     * A failure that is not the file's fault. Three ends (see failureClass):
     * - the scanner is out (SCAN_UNAVAILABLE, SCAN_TIMEOUT): never terminal, the file is never
     *   published unscanned. Retried with the queue's backoff; once a job's attempts are spent
     *   the lease is held for a growing, capped wait, and the sweep queues it again after it.
     * - retryable (storage or database unreachable, an untyped error): retried with the
     *   queue's backoff, like renders; once the attempts are spent, terminal.
     * - unrecoverable (access denied, a scanner reply we cannot read): terminal at once.
     * Terminal is REJECTED with no reason (the file was not judged) and a message saying
     * what happened and what to do; the staged bytes are removed.
     */
    async function failedAttempt(error: unknown): Promise<UploadOutcome> {
      const kind = failureClass(error);
      const lastAttempt = attempt.attempt >= attempt.maxAttempts;
      if (kind === 'scanner-outage' || (kind === 'retryable' && !lastAttempt)) {
        const waitMs = kind === 'scanner-outage' && lastAttempt ? scannerWaitMs(claims, attempt.maxAttempts, deps.retry) : 0;
        const message = kind === 'scanner-outage'
          ? `Waiting for the virus scanner: ${describeError(error)}. The file is not published until it scans clean; it is tried again${waitMs > 0 ? ` in about ${Math.ceil(waitMs / 1000)} s` : ' shortly'}.`
          : transientMessage(error);
        if (!(await uploads.releaseLease(id, message, waitMs))) {
          if (!(await uploads.findById(id))) return await skippedAfterDelete();
        }
        const next = lastAttempt ? `; the sweep queues it again in about ${Math.ceil(waitMs / 1000)} s` : ', will retry';
        log.warn({ err: error }, `Upload attempt ${attempt.attempt} of ${attempt.maxAttempts} failed${next}: ${describeError(error)}`);
        deps.observer?.processed({ outcome: kind === 'scanner-outage' ? 'scanner-unavailable' : 'retry' });
        throw error;
      }
      const message = terminalMessage(error, kind === 'retryable' ? attempt.attempt : null);
      await storage.removeStaged(id).catch((cleanup: unknown) => log.warn(`Could not remove the staged bytes of a failed upload: ${describeError(cleanup)}`));
      if (await uploads.markFailed(id, message)) await settled();
      else if (!(await uploads.findById(id))) return await skippedAfterDelete();
      log.error({ err: error }, `Upload ${id} failed for good after attempt ${attempt.attempt}: ${describeError(error)}`);
      deps.observer?.processed({ outcome: 'failed' });
      throw new UploadFailedError(id, message, error);
    }
  };
}

/** How a failure that is not the file's fault is handled; see failedAttempt. */
export type FailureClass = 'scanner-outage' | 'retryable' | 'unrecoverable';

const SCANNER_OUTAGES: ReadonlySet<string> = new Set(['SCAN_UNAVAILABLE', 'SCAN_TIMEOUT']);

export function failureClass(error: unknown): FailureClass {
  if (error instanceof AppError && SCANNER_OUTAGES.has(error.code)) return 'scanner-outage';
  return isRetryable(error) ? 'retryable' : 'unrecoverable';
}

/** Longest wait between two rounds of attempts while the scanner is out. */
export const SCANNER_RETRY_MAX_DELAY_MS = 5 * 60_000;

/**
 * The wait after a round of attempts met a scanner outage: the backoff doubled once per
 * round so far (`claims` counts every attempt), capped at SCANNER_RETRY_MAX_DELAY_MS.
 */
export function scannerWaitMs(claims: number, attemptsPerRound: number, retry: UploadRetry = {}): number {
  const rounds = Math.max(1, Math.ceil(claims / Math.max(1, attemptsPerRound)));
  const base = Math.max(1, retry.backoffMs ?? 1000);
  const cap = retry.maxDelayMs ?? SCANNER_RETRY_MAX_DELAY_MS;
  return Math.min(cap, base * 2 ** Math.min(30, rounds - 1));
}

/** A run that will not be retried: the upload is REJECTED (no reason) with `message` recorded. */
export class UploadFailedError extends AppError {
  constructor(uploadId: string, message: string, cause: unknown) {
    super('UPLOAD_FAILED', `Upload ${uploadId} failed: ${message}`, { cause, retryable: false });
  }
}

/** While retried: what the owner sees. Untyped errors may carry internals; they stay in the log. */
function transientMessage(error: unknown): string {
  const what = error instanceof AppError ? error.message : 'Processing failed because of an internal error';
  return `${what.replace(/\.$/, '')}; it is retried.`;
}

/** The message of the terminal state: what happened, and what the owner can do. */
function terminalMessage(error: unknown, attempts: number | null): string {
  const gaveUp = attempts !== null && attempts > 1 ? ` (gave up after ${attempts} attempts)` : '';
  const what = error instanceof AppError ? `${error.message.replace(/\.$/, '')} [${error.code}]` : 'Processing failed because of an internal error';
  return `The file could not be processed${gaveUp}: ${what}. It was not published and is not kept: upload it again later; if this keeps happening, contact support.`;
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
