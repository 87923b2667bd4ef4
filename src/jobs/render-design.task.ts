import { AppError, describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { LEGACY_VERSION, type DesignRepository, type PublishedAssets } from '../designs/design-repository.js';
import type { Design, PublishedRendition } from '../designs/design.js';
import { validateDesignSpec, type DesignSpec, type RenderedImage, type RenditionFileName } from '../rendering/index.js';
import { newAssetVersion, renditionKey, type StorageRepository } from '../storage/index.js';
import { allSettledOrThrow } from '../shared/settled.js';
import { isRetryable } from './retry-policy.js';

export interface RenderObserver {
  rendered(event: { outcome: 'published' | 'retry' | 'failed' | 'skipped'; seconds: number }): void;
}

/** An upload as a render of a design that uses it needs to see it. */
export interface DesignImageUpload {
  id: string;
  ownerId: string;
  status: 'RECEIVED' | 'SCANNING' | 'CLEAN' | 'PUBLISHED' | 'REJECTED';
  reason: string | null;
  message: string | null;
  originalKey: string | null;
}

/** Where a render finds a design's image: the upload (uploads table) and its normalised original's bytes. */
export interface DesignImageSource {
  /** The upload, or null when there is none with this id. */
  find(uploadId: string): Promise<DesignImageUpload | null>;
  /**
   * The bytes stored under `key`, in an ArrayBuffer of their own, so they can be moved to a
   * render thread rather than copied. Throws the storage layer's errors (retryable ones retry).
   */
  read(key: string): Promise<Uint8Array>;
}

export interface RenderTaskDeps {
  designs: Pick<DesignRepository, 'claimForRendering' | 'findById' | 'releaseLease' | 'markPublished' | 'markFailed' | 'endRenderLeaseOfDeleted' | 'returnToWaiting'>;
  storage: StorageRepository;
  /**
   * Renders every rendition in every format (renderRenditions); `image` is the design's image
   * (designs with design_data.image only), `watermarked` the design's flag.
   */
  renderAssets: (spec: DesignSpec, image: Uint8Array | undefined, watermarked: boolean) => Promise<RenderedImage[]>;
  /** How long the images a re-render replaces stay served (ASSET_GRACE_PERIOD). Default 1 h. */
  gracePeriodMs?: number;
  /**
   * Every file a version has (RENDITIONS x IMAGE_FORMATS, with sizes), recorded on publish;
   * those renderAssets does not make are made on first request. Default: what renderAssets made.
   */
  plan?: ReadonlyArray<RenditionFileName & { size: number }>;
  /** Needed to render designs with an image; a design with one fails without it. */
  images?: DesignImageSource;
  logger: Logger;
  /** How long a claim keeps other workers off a design; a crashed worker's design is free again after it. */
  leaseMs: number;
  observer?: RenderObserver;
}

export interface Attempt {
  /** 1 for the first run, 2 for the first retry, ... */
  attempt: number;
  maxAttempts: number;
}

export type RenderOutcome =
  | { status: 'PUBLISHED'; previewUrl: string; thumbnailUrl: string }
  | { status: 'SKIPPED'; reason: 'missing' | 'already-published' | 'already-failed' | 'busy' | 'superseded' | 'waiting-for-image' };

/** A render that will not be retried: the design is FAILED with `message` already recorded. */
export class RenderFailedError extends AppError {
  constructor(designId: string, message: string, cause: unknown) {
    super('RENDER_FAILED', `Design ${designId} failed: ${message}`, { cause, retryable: false });
  }
}

export type RenderDesignTask = (designId: string, attempt: Attempt) => Promise<RenderOutcome>;

/**
 * The seed's `render_design_preview`: claim the design (RENDERING), render every rendition
 * (preview, thumbnail and the configured others, in each format), upload them concurrently
 * under a new version folder (`designs/{id}/{version}/`), then record PUBLISHED with their
 * keys. Assets go up before the record changes, so a PUBLISHED design always has its files;
 * nothing is ever written to a version folder twice, so every URL handed out is immutable.
 * The images the publish replaces are recorded in the same transaction and removed by the
 * sweep once ASSET_GRACE_PERIOD has passed; an attempt that does not publish removes its own
 * version folder.
 *
 * Idempotent: the claim is a compare-and-set, so a second run (a duplicate job, a second
 * worker) finds the design taken or published and does nothing; if a lease expired and two
 * runs overlap, each writes its own version and only one PUBLISHED transition succeeds.
 *
 * Deleted while rendering (see DesignDeletion): the DELETE's tombstone makes the publish,
 * fail or release UPDATE match nothing; the render then removes what it may have written,
 * ends its lease so the waiting DELETE goes on, and ends SKIPPED ('missing'), logged at info:
 * losing that race is not a failure, whatever error the render met on the way. The normal
 * path costs no extra round trip: the check is part of the UPDATEs it runs anyway.
 *
 * A design with an image (`uploadId`): the upload is looked up after the claim (designs
 * without one cost no extra query). Still being checked: the claim is given back uncounted
 * (PENDING, see DesignRepository.returnToWaiting) and the task ends SKIPPED
 * ('waiting-for-image'); the upload's publish queues the design again. Rejected or gone: the
 * design FAILS with DESIGN_IMAGE_UNAVAILABLE's message, which says why. Published: its
 * normalised original is read and rendered with the design.
 *
 * Throws the original error when a retry may help and retries remain (the design stays
 * RENDERING with its lease released); throws RenderFailedError once the design is FAILED.
 */
export function createRenderDesignTask(deps: RenderTaskDeps): RenderDesignTask {
  const { designs, storage, logger } = deps;
  return async function renderDesignPreview(designId, attempt) {
    for (;;) {
      const outcome = await renderOnce(designId, attempt);
      if (outcome !== 'again') return outcome;
    }
  };

  /** One claim and render; 'again' when the design's image became ready while it was being given back. */
  async function renderOnce(designId: string, attempt: Attempt): Promise<RenderOutcome | 'again'> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const design = await designs.claimForRendering(designId, deps.leaseMs);
    if (!design) {
      const reason = skipReason(await designs.findById(designId));
      logger.debug({ designId, reason }, 'render skipped');
      deps.observer?.rendered({ outcome: 'skipped', seconds: seconds() });
      return { status: 'SKIPPED', reason };
    }
    const log = logger.child({ designId, attempt: attempt.attempt });
    /** This attempt's version folder, once it may have written there. */
    let version: string | undefined;
    const removeOwnVersion = async (why: string) => {
      if (version === undefined) return;
      await storage.deleteAssetVersion(design.id, version).catch((error: unknown) =>
        log.warn(`Could not remove the images of a render that ${why} (${describeError(error)}); customify cleanup removes them.`));
    };
    /** After an UPDATE matched nothing: SKIPPED if that was because the design was deleted, else null. */
    const abandonIfDeleted = async (cause?: unknown): Promise<RenderOutcome | null> => {
      if (await designs.findById(design.id)) return null;
      // The DELETE removes the files too once the lease ends; this covers a render that
      // outlived its lease, whose DELETE did not wait for it.
      const removed = await storage.deleteDesignAssets(design.id).then(
        () => true,
        (error: unknown) => {
          log.warn(`Could not remove the files of a render whose design was deleted: ${describeError(error)}; the DELETE removes them.`);
          return false;
        },
      );
      if (design.leaseUntil) await designs.endRenderLeaseOfDeleted(design.id, design.leaseUntil);
      const met = cause === undefined ? '' : ` (on the way it met: ${describeError(cause)})`;
      log.info(`Design deleted while rendering: render abandoned${removed ? ', its files removed' : ''}${met}`);
      deps.observer?.rendered({ outcome: 'skipped', seconds: seconds() });
      return { status: 'SKIPPED', reason: 'missing' };
    };
    try {
      const spec = validateDesignSpec({ product_type: design.productType, design_data: design.designData });
      let image: Uint8Array | undefined;
      if (design.uploadId !== null) {
        const found = await designImage(design, deps.images);
        if (found === 'waiting') {
          // Its upload is still being checked: give the claim back uncounted. The upload's
          // publish (or rejection) queues the design again; the sweep leaves it alone meanwhile.
          if (!(await designs.returnToWaiting(design.id, design.leaseUntil!))) {
            const abandoned = await abandonIfDeleted();
            if (abandoned) return abandoned;
            deps.observer?.rendered({ outcome: 'skipped', seconds: seconds() });
            return { status: 'SKIPPED', reason: 'superseded' };
          }
          // The upload may have been published between the look and the give-back, its wake-up
          // finding the design still RENDERING: look once more, and render now if it is done.
          // (A failed look leaves it waiting: the sweep queues it once its upload is done.)
          const now = await deps.images?.find(design.uploadId).catch(() => undefined);
          if (now === null || now?.status === 'PUBLISHED' || now?.status === 'REJECTED') return 'again';
          log.debug({ uploadId: design.uploadId }, 'design waits for its image upload to be checked');
          deps.observer?.rendered({ outcome: 'skipped', seconds: seconds() });
          return { status: 'SKIPPED', reason: 'waiting-for-image' };
        }
        image = found;
      }
      const images = await deps.renderAssets(spec, image, design.watermark);
      version = newAssetVersion();
      const thisVersion = version;
      // allSettled, not all: when one upload fails the others may still be writing, and this
      // render must not release its lease (letting a DELETE go on) until they have finished.
      await allSettledOrThrow(images.map((file) => storage.uploadRendition(design.id, thisVersion, file)));
      const plan = deps.plan ?? images.map((file) => ({ name: file.name, format: file.format, size: file.width }));
      const assets: PublishedRendition[] = plan.map((file) => {
        const made = images.find((image) => image.name === file.name && image.format === file.format);
        return {
          name: file.name, format: file.format, key: renditionKey(design.id, thisVersion, file.name, file.format),
          width: made?.width ?? file.size, height: made?.height ?? file.size, bytes: made ? made.data.length : null, watermarked: design.watermark,
        };
      });
      const keyOf = (name: string) => assets.find((a) => a.name === name && a.format === 'png')?.key;
      const previewKey = keyOf('preview');
      const thumbnailKey = keyOf('thumbnail');
      if (!previewKey || !thumbnailKey) throw new AppError('RENDER_FAILED', 'The renderer made no PNG preview or thumbnail (RENDITIONS and IMAGE_FORMATS must include them).');
      const published = await designs.markPublished(design.id, { previewKey, thumbnailKey, assetVersion: thisVersion, assets, superseded: replacedImages(design, deps.gracePeriodMs ?? 3_600_000) });
      if (!published) {
        const abandoned = await abandonIfDeleted();
        if (abandoned) return abandoned;
        await removeOwnVersion('lost its design to a newer render');
        log.warn('design changed while rendering (lease lost or re-render requested); this render\'s images were not published');
        deps.observer?.rendered({ outcome: 'skipped', seconds: seconds() });
        return { status: 'SKIPPED', reason: 'superseded' };
      }
      log.info({ seconds: Number(seconds().toFixed(3)), version: thisVersion }, `Design ${design.id} published`);
      deps.observer?.rendered({ outcome: 'published', seconds: seconds() });
      const [previewUrl, thumbnailUrl] = await Promise.all([storage.urlFor(previewKey), storage.urlFor(thumbnailKey)]);
      return { status: 'PUBLISHED', previewUrl, thumbnailUrl };
    } catch (error) {
      const message = failureMessage(error, attempt);
      // Whatever happens next, this attempt's images will never be published.
      await removeOwnVersion('did not publish');
      if (isRetryable(error) && attempt.attempt < attempt.maxAttempts) {
        if (!(await designs.releaseLease(design.id, message))) {
          const abandoned = await abandonIfDeleted(error);
          if (abandoned) return abandoned;
        }
        log.warn({ err: error }, `Render attempt ${attempt.attempt} of ${attempt.maxAttempts} failed, will retry: ${describeError(error)}`);
        deps.observer?.rendered({ outcome: 'retry', seconds: seconds() });
        throw error;
      }
      if (!(await designs.markFailed(design.id, message))) {
        const abandoned = await abandonIfDeleted(error);
        if (abandoned) return abandoned;
      }
      log.error({ err: error }, `Render failed: ${describeError(error)}`);
      deps.observer?.rendered({ outcome: 'failed', seconds: seconds() });
      throw new RenderFailedError(design.id, message, error);
    }
  }
}

/**
 * The bytes of a design's image, or 'waiting' while its upload is still being checked.
 * Throws AppError DESIGN_IMAGE_UNAVAILABLE (not retryable, so the design FAILS with its
 * message) when the upload was rejected or is gone, and the storage layer's errors.
 */
async function designImage(design: Design, images: DesignImageSource | undefined): Promise<Uint8Array | 'waiting'> {
  const uploadId = design.uploadId!;
  if (!images) throw new AppError('DESIGN_IMAGE_UNAVAILABLE', 'This renderer cannot load design images (no image source configured).', { details: { uploadId } });
  const upload = await images.find(uploadId);
  // Someone else's upload is as good as none (the API never accepts one; this is the guard).
  if (!upload || upload.ownerId !== design.ownerId) {
    throw new AppError('DESIGN_IMAGE_UNAVAILABLE', `The image of this design (design_data.image.upload_id ${uploadId}) no longer exists: it was deleted. Create the design again with another upload.`, { details: { uploadId } });
  }
  if (upload.status === 'REJECTED') {
    const why = upload.message ? ` ${upload.message}` : '';
    throw new AppError('DESIGN_IMAGE_UNAVAILABLE', `The image of this design (upload ${uploadId}) was rejected (${upload.reason ?? 'REJECTED'}) and cannot be printed.${why} Create the design again with another upload.`, {
      details: { uploadId, reason: upload.reason },
    });
  }
  if (upload.status !== 'PUBLISHED' || upload.originalKey === null) return 'waiting';
  return images.read(upload.originalKey);
}

/** The images a publish of `design` replaces: its current version, or the seed's unversioned keys. */
function replacedImages(design: Design, gracePeriodMs: number): PublishedAssets['superseded'] {
  const deleteAfter = new Date(Date.now() + gracePeriodMs);
  if (design.assetVersion !== null) return { version: design.assetVersion, keys: design.assets.map((asset) => asset.key), deleteAfter, assets: design.assets };
  const legacy = [design.previewKey, design.thumbnailKey].filter((key): key is string => key !== null);
  return legacy.length > 0 ? { version: LEGACY_VERSION, keys: legacy, deleteAfter } : undefined;
}

function skipReason(design: Design | null): Extract<RenderOutcome, { status: 'SKIPPED' }>['reason'] {
  if (!design) return 'missing';
  if (design.status === 'PUBLISHED') return 'already-published';
  if (design.status === 'FAILED') return 'already-failed';
  return 'busy';
}

/** What the design's `error` field says: what went wrong and what the user can do. */
function failureMessage(error: unknown, attempt: Attempt): string {
  const exhausted = isRetryable(error) && attempt.maxAttempts > 1 ? ` (gave up after ${attempt.attempt} attempts)` : '';
  if (error instanceof AppError) return `${error.message}${exhausted}`;
  // Untyped errors may carry internals (paths, SQL): keep them in the log, not in the API.
  return `Rendering failed because of an internal error${exhausted}. Request a re-render; if it keeps failing, contact support.`;
}
