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
import { uploadKeys } from './upload.js';

export interface UploadObserver {
  /** One pipeline run ended: published, rejected (with its reason), retry, skipped. */
  processed(event: { outcome: 'published' | 'rejected' | 'retry' | 'failed' | 'skipped'; reason?: RejectionReason }): void;
}

export interface UploadTaskDeps {
  uploads: Pick<UploadRepository, 'claim' | 'findById' | 'releaseLease' | 'markClean' | 'markPublished' | 'markRejected'>;
  storage: UploadStorage;
  scanner: VirusScanner;
  logger: Logger;
  leaseMs: number;
  maxBytes: number;
  maxInputPixels: number;
  observer?: UploadObserver;
  /**
   * Told once the upload is final (PUBLISHED or REJECTED): queues the designs that wait for it
   * as their image. A failure is logged; the design sweep queues them later.
   */
  onSettled?: (uploadId: string) => Promise<void>;
  /** Where the worker keeps its working copies; the system temp folder by default. */
  tempDir?: string;
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
 * infected. Anything else (scanner unreachable, storage down) keeps the upload where it is
 * (SCANNING or CLEAN) with the lease released and is thrown for the queue to retry; when the
 * attempts run out the sweep queues it again later. An upload is never published unscanned
 * unless scanning is disabled (no CLAMD_HOST), which is recorded as scan "skipped".
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
    const log = logger.child({ uploadId: id, attempt: attempt.attempt });
    const work = await mkdtemp(path.join(deps.tempDir ?? tmpdir(), 'customify-upload-'));
    const received = path.join(work, 'received');
    const encoded = path.join(work, 'encoded');
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
      const message = error instanceof AppError ? error.message : 'Processing failed because of an internal error; it is retried.';
      if (!(await uploads.releaseLease(id, message))) {
        if (!(await uploads.findById(id))) return await skippedAfterDelete();
      }
      const willRetry = isRetryable(error) && attempt.attempt < attempt.maxAttempts;
      log.warn({ err: error }, `Upload attempt ${attempt.attempt} of ${attempt.maxAttempts} failed${willRetry ? ', will retry' : '; the sweep queues it again later'}: ${describeError(error)}`);
      deps.observer?.processed({ outcome: willRetry ? 'retry' : 'failed' });
      throw error;
    } finally {
      await rm(work, { recursive: true, force: true }).catch(() => undefined);
    }
  };
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
