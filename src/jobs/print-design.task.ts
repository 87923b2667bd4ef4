import { AppError, describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DesignRepository } from '../designs/design-repository.js';
import type { Design } from '../designs/design.js';
import type { PrintFileOptions, PrintFiles, PrintSpec, PrintSpecs } from '../print/index.js';
import { validateDesignSpec, type DesignSpec } from '../rendering/index.js';
import type { StorageRepository } from '../storage/index.js';
import type { Attempt, DesignImageSource } from './render-design.task.js';
import { allSettledOrThrow } from '../shared/settled.js';
import { isRetryable } from './retry-policy.js';

export interface PrintTaskDeps {
  designs: Pick<DesignRepository, 'claimForPrinting' | 'findById' | 'releasePrintLease' | 'markPrintReady' | 'markPrintFailed' | 'endPrintLeaseOfDeleted'>;
  storage: Pick<StorageRepository, 'uploadPrintFile' | 'deletePrintFiles'>;
  /** The print spec of each product type (settings.printSpecs). */
  printSpecs: PrintSpecs;
  /** Draws the files: renderPrintFiles (src/print/), injectable for tests. */
  renderPrintFiles: (spec: DesignSpec, printSpec: PrintSpec, options: PrintFileOptions) => Promise<PrintFiles>;
  /** Where a design's image is read from, as for renders; a design with an image fails without it. */
  images?: DesignImageSource;
  logger: Logger;
  /** How long a claim keeps other workers off a print job (RENDER_LEASE). */
  leaseMs: number;
  compressionLevel: number;
}

export type PrintOutcome =
  | { status: 'READY'; pdfKey: string | null; pngKey: string | null }
  | { status: 'SKIPPED'; reason: 'missing' | 'not-requested' | 'busy' | 'superseded' };

/** A print job that will not be retried: the design's print is FAILED with `message` already recorded. */
export class PrintFailedError extends AppError {
  constructor(designId: string, message: string, cause: unknown) {
    super('PRINT_FAILED', `Print files of design ${designId} failed: ${message}`, { cause, retryable: false });
  }
}

export type PrintDesignTask = (designId: string, attempt: Attempt) => Promise<PrintOutcome>;

/**
 * Makes a design's print files (issue #12) with the render task's rules:
 *
 * - claim first: a compare-and-set that counts the attempt and takes a lease, so a duplicate
 *   job or a second worker finds the print taken (or done) and does nothing: two requests at
 *   once make one set of files;
 * - upload first, record second: both files are stored (streamed; private keys
 *   `designs/{id}/print.pdf` and `print.png`) before the design says READY, so a READY design
 *   always has its files;
 * - a result is recorded only under the claim's own lease: a re-render of the design (which
 *   resets the print to NONE) or a deletion while the job runs makes the record match
 *   nothing; the job then removes what it wrote (the files would not match the design, or the
 *   design is gone) and, if deleted, ends its lease so the waiting DELETE goes on;
 * - retryable errors (storage unreachable, database busy) release the lease and are thrown
 *   for the queue to retry with backoff; others, and the last attempt, record FAILED with a
 *   message a user can act on and throw PrintFailedError.
 */
export function createPrintDesignTask(deps: PrintTaskDeps): PrintDesignTask {
  const { designs, storage, logger } = deps;
  return async function printDesign(designId, attempt) {
    const design = await designs.claimForPrinting(designId, deps.leaseMs);
    if (!design) {
      const current = await designs.findById(designId);
      const reason = !current ? 'missing' : current.print.status === 'PENDING' ? 'busy' : 'not-requested';
      logger.debug({ designId, reason }, 'print skipped');
      return { status: 'SKIPPED', reason };
    }
    const lease = design.print.leaseUntil!;
    const log = logger.child({ designId, attempt: attempt.attempt, job: 'print' });
    /** After a record matched nothing: removes what this job wrote, unless a newer print of the same design may own it. */
    const abandon = async (cause?: unknown): Promise<PrintOutcome> => {
      const current = await designs.findById(design.id);
      if (!current || current.print.status !== 'PENDING') {
        await storage.deletePrintFiles(design.id).catch((error: unknown) =>
          log.warn(`Could not remove the print files of an abandoned print job: ${describeError(error)}`));
      }
      if (!current) await designs.endPrintLeaseOfDeleted(design.id, lease);
      const met = cause === undefined ? '' : ` (on the way it met: ${describeError(cause)})`;
      log.info(`${current ? 'Design re-rendered or print taken over' : 'Design deleted'} while printing: print job abandoned${met}`);
      return { status: 'SKIPPED', reason: current ? 'superseded' : 'missing' };
    };
    try {
      const spec = validateDesignSpec({ product_type: design.productType, design_data: design.designData });
      const printSpec = deps.printSpecs[spec.product_type];
      const files = await deps.renderPrintFiles(spec, printSpec, {
        title: design.id,
        compressionLevel: deps.compressionLevel,
        ...(design.uploadId === null ? {} : { loadImage: (uploadId: string) => loadDesignImage(design, uploadId, deps.images) }),
      });
      const [pdfKey, pngKey] = await allSettledOrThrow([
        files.pdf ? storage.uploadPrintFile(design.id, 'pdf', files.pdf) : null,
        files.png ? storage.uploadPrintFile(design.id, 'png', files.png) : null,
      ]);
      const ready = await designs.markPrintReady(design.id, lease, { pdfKey, pngKey, warnings: files.warnings });
      if (!ready) return await abandon();
      log.info(`Print files of design ${design.id} ready`);
      return { status: 'READY', pdfKey, pngKey };
    } catch (error) {
      const message = failureMessage(error, attempt);
      if (isRetryable(error) && attempt.attempt < attempt.maxAttempts) {
        if (!(await designs.releasePrintLease(design.id, lease, message))) return abandon(error);
        log.warn({ err: error }, `Print attempt ${attempt.attempt} of ${attempt.maxAttempts} failed, will retry: ${describeError(error)}`);
        throw error;
      }
      if (!(await designs.markPrintFailed(design.id, lease, message))) return abandon(error);
      log.error({ err: error }, `Print failed: ${describeError(error)}`);
      // A half-written set (one of two uploads) must not be mistaken for files.
      await storage.deletePrintFiles(design.id).catch((cleanupError: unknown) =>
        log.warn(`Could not remove the partial print files of a failed print job: ${describeError(cleanupError)}`));
      throw new PrintFailedError(design.id, message, error);
    }
  };
}

/**
 * The normalised original (`uploads/{id}/original.*`) of the design's image, at full
 * resolution. AppError DESIGN_IMAGE_UNAVAILABLE (not retryable) when it is not the design's
 * published upload; the storage layer's errors otherwise.
 */
async function loadDesignImage(design: Design, uploadId: string, images: DesignImageSource | undefined): Promise<Buffer> {
  if (!images) throw new AppError('DESIGN_IMAGE_UNAVAILABLE', 'This worker cannot load design images (no image source configured).', { details: { uploadId } });
  const upload = await images.find(uploadId);
  if (!upload || upload.ownerId !== design.ownerId || upload.status !== 'PUBLISHED' || upload.originalKey === null) {
    throw new AppError('DESIGN_IMAGE_UNAVAILABLE', `The image of this design (upload ${uploadId}) is no longer available, so it cannot be printed. Create the design again with another upload.`, { details: { uploadId } });
  }
  const bytes = await images.read(upload.originalKey);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** What print_message says: what went wrong and what the user can do. */
function failureMessage(error: unknown, attempt: Attempt): string {
  const exhausted = isRetryable(error) && attempt.maxAttempts > 1 ? ` (gave up after ${attempt.attempt} attempts)` : '';
  if (error instanceof AppError) return `${error.message}${exhausted}`;
  // Untyped errors may carry internals (paths, SQL): keep them in the log, not in the API.
  return `Making the print files failed because of an internal error${exhausted}. Request them again; if it keeps failing, contact support.`;
}
