import { AppError, describeError, NotFoundError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RenderQueue } from '../jobs/render-queue.js';
import { designWarnings, PREVIEW_SIZE, THUMBNAIL_MAX_SIZE, validateDesignSpec, type DesignSpec, type DesignWarning } from '../rendering/index.js';
import type { StorageRepository } from '../storage/index.js';
import { assertDesignId } from './design-id.js';
import { DesignDeletion } from './design-deletion.js';
import { newDesign, type Design, type PrintStatus, type StoredPrintWarning } from './design.js';
import type { StoredObject } from '../storage/index.js';
import { uploadNotFound, type DesignRepository } from './design-repository.js';
import type { DesignImageUpload } from '../jobs/render-design.task.js';

/** A design as the API shows it: the seed's field names, URLs derived at read time. */
export interface DesignView {
  id: string;
  status: Design['status'];
  product_type: string;
  design_data: Design['designData'];
  preview_url: string | null;
  thumbnail_url: string | null;
  error: string | null;
  attempts: number;
  created_at: string;
  updated_at: string;
  published_at: string | null;
  /** What the owner should know about an accepted design (a text colour that hardly shows). */
  warnings: DesignWarning[];
  /** Print files (issue #12): NONE until requested, then PENDING, READY or FAILED. */
  print_status: PrintStatus;
  /** Why the print FAILED; null otherwise. */
  print_message: string | null;
  /** What a print-on-demand service would warn about (an image under 150 DPI), once READY. */
  print_warnings: StoredPrintWarning[];
  /** Once READY: a freshly signed URL (S3) or the authenticated API route (local storage). */
  print_pdf_url: string | null;
  print_png_url: string | null;
  /** Whether its larger renditions carry the deployment's watermark (issue #13). */
  watermark: boolean;
  /**
   * Once PUBLISHED: every rendition (thumbnail, preview and the configured sizes) in every
   * format, each with its immutable URL, pixel size and byte size, for `<picture>`/`srcset`.
   */
  assets: DesignAssetsView | null;
}

/** `assets[rendition][format]`: `assets.preview.webp.url`. */
export type DesignAssetsView = Record<string, Record<string, AssetView>>;

export interface AssetView {
  url: string;
  width: number;
  height: number;
  /** Null for an image published before versions existed (its size was not recorded). */
  bytes: number | null;
}

/** The names of a design's print files, as the API's file route takes them. */
export const PRINT_FILE_NAMES = ['print.pdf', 'print.png'] as const;
export type PrintFileName = (typeof PRINT_FILE_NAMES)[number];

/** The most designs one `createMany` (POST /api/v1/designs/batch) takes. */
export const MAX_BATCH_DESIGNS = 100;

/** One design of a `createMany`, at its index in the input: created, or why not (the error `create` would throw). */
export type BatchItemResult = { index: number; design: DesignView } | { index: number; error: unknown };

export interface DesignServiceDeps {
  designs: DesignRepository;
  storage: StorageRepository;
  /** `enqueueMany` queues a batch's renders in one round trip (both adapters have it); without it, one `enqueue` each. */
  queue: Pick<RenderQueue, 'enqueue'> & Partial<Pick<RenderQueue, 'enqueueMany'>>;
  /** The print queue (issue #12): its own, so print jobs never hold up previews. */
  printQueue?: Pick<RenderQueue, 'enqueue'>;
  /**
   * Where the API serves a print file in local mode (no signed URLs there): the absolute URL
   * of `GET /api/v1/designs/{id}/print-files/{name}`. Default: that path, relative.
   */
  printFileRoute?: (designId: string, name: PrintFileName) => string;
  logger: Logger;
  /** The owner's uploads, for designs with an image (design_data.image.upload_id). */
  uploads?: { findByIdForOwner(id: string, ownerId: string): Promise<DesignImageUpload | null> };
  /** A design's `watermark` when its request does not say (WATERMARK_DEFAULT). Default false. */
  watermarkDefault?: boolean;
  /** The URL of a rendition not made yet, which makes it on first request; default its storage URL. */
  unmadeRenditionUrl?: (key: string) => string;
}

/** Use cases behind the HTTP API and the CLI. Knows nothing of HTTP. */
export class DesignService {
  private readonly deletion: DesignDeletion;

  constructor(private readonly deps: DesignServiceDeps) {
    this.deletion = new DesignDeletion(deps);
  }

  /**
   * Validates, stores as PENDING, queues the render. A failed enqueue is left to the sweep.
   *
   * A design with an image must name one of the owner's uploads: another user's id and an
   * unknown one are the same NotFoundError UPLOAD_NOT_FOUND (field design_data.image.upload_id),
   * a rejected one is UPLOAD_REJECTED (409). An upload still being checked is fine: the design
   * is stored PENDING but not queued; the upload's publish queues it. The database's foreign
   * key settles a race with the upload's DELETE (one of the two fails; see migration 0005).
   */
  async create(ownerId: string, input: unknown): Promise<DesignView> {
    const design = this.prepare(ownerId, input);
    if (await this.store(design, ownerId)) await this.enqueue(design.id);
    return this.view(design);
  }

  /**
   * `create` for up to MAX_BATCH_DESIGNS designs at once (`POST /api/v1/designs/batch`): each
   * is validated and stored on its own, exactly as `create` does it, so one that fails (bad
   * input, someone else's upload, a database error: its insert is one statement, so nothing
   * of it is stored) is reported in its place and never stops the others. The renders of the
   * stored designs are then queued in one round trip; a failed enqueue is left to the sweep.
   * Results come in input order, each with its index. ValidationError INVALID_VALUE (field
   * `designs`) for no design or more than MAX_BATCH_DESIGNS.
   */
  async createMany(ownerId: string, inputs: readonly unknown[]): Promise<BatchItemResult[]> {
    if (inputs.length === 0 || inputs.length > MAX_BATCH_DESIGNS) {
      const advice = inputs.length === 0 ? 'send at least one' : `split them into batches of ${MAX_BATCH_DESIGNS}`;
      throw new ValidationError('INVALID_VALUE', `designs must list 1 to ${MAX_BATCH_DESIGNS} designs, got ${inputs.length}: ${advice}.`, 'designs');
    }
    const stored: Array<{ index: number; design: Design } | { index: number; error: unknown }> = [];
    const ready: string[] = [];
    // One after the other: a batch is at most MAX_BATCH_DESIGNS short inserts, and SQLite has one writer anyway.
    for (const [index, input] of inputs.entries()) {
      try {
        const design = this.prepare(ownerId, input);
        if (await this.store(design, ownerId)) ready.push(design.id);
        stored.push({ index, design });
      } catch (error) {
        stored.push({ index, error });
      }
    }
    await this.enqueueMany(ready);
    return Promise.all(stored.map(async (item) => ('design' in item ? { index: item.index, design: await this.view(item.design) } : item)));
  }

  async get(ownerId: string, id: string): Promise<DesignView> {
    return this.view(await this.find(ownerId, id));
  }

  async list(ownerId: string, page: { limit?: number; cursor?: string }): Promise<{ items: DesignView[]; next_cursor: string | null }> {
    const { items, nextCursor } = await this.deps.designs.listByOwner(ownerId, page);
    return { items: await Promise.all(items.map((d) => this.view(d))), next_cursor: nextCursor ?? null };
  }

  /**
   * Deletes the design and its stored files, waiting for a render of it that is running
   * (see DesignDeletion): when this returns, nothing of the design is served or stored.
   */
  async delete(ownerId: string, id: string): Promise<void> {
    if (!(await this.deletion.delete(assertDesignId(id, 'id'), ownerId))) throw notFound(id);
  }

  /** Finishes deletions interrupted before `before` (for the sweep); returns how many. */
  finishInterruptedDeletions(before: Date): Promise<number> {
    return this.deletion.finishInterrupted(before);
  }

  async rerender(ownerId: string, id: string): Promise<DesignView> {
    const design = await this.find(ownerId, id);
    const pending = await this.deps.designs.requestRerender(design.id, ownerId);
    if (!pending) throw notFound(id);
    // The re-render reset the print to NONE: its files no longer match the design.
    if (design.print.status !== 'NONE') await this.removePrintFiles(design.id);
    await this.enqueue(pending.id);
    return this.view(pending);
  }

  /**
   * Turns the design's watermark on or off (`PATCH /designs/{id}`). A change re-renders a
   * PUBLISHED or FAILED design (new images, new URLs; the old ones go after the grace period)
   * and invalidates its print files; a PENDING design renders with the new flag. AppError
   * DESIGN_BUSY (409) while it is RENDERING.
   */
  async setWatermark(ownerId: string, id: string, watermark: unknown): Promise<DesignView> {
    if (typeof watermark !== 'boolean') throw new ValidationError('INVALID_TYPE', 'watermark must be true or false.', 'watermark');
    const before = await this.find(ownerId, id);
    const result = await this.deps.designs.setWatermark(before.id, ownerId, watermark);
    if (!result) throw notFound(id);
    if (result.changed && result.design.status === 'PENDING' && before.status !== 'PENDING') {
      if (before.print.status !== 'NONE') await this.removePrintFiles(before.id);
      await this.enqueue(result.design.id);
    }
    return this.view(result.design);
  }

  /**
   * Asks for the design's print files (`POST /designs/{id}/print-files`, `customify print`):
   * print NONE or FAILED → PENDING and queued on the print queue. Idempotent: a print already
   * PENDING is queued again (a no-op while its job waits; lost jobs come back this way) and
   * a READY one is returned as it is. Two requests at once: the database's compare-and-set
   * lets one through, the other finds it PENDING; one job, one set of files.
   *
   * `ownerId` undefined (the command line) reaches any design. NotFoundError DESIGN_NOT_FOUND
   * for an unknown, deleted or someone else's design; AppError PRINT_NOT_AVAILABLE (409, field
   * `status`) unless the design is PUBLISHED: print files are made from what the shopper saw.
   */
  async requestPrint(ownerId: string | undefined, id: string): Promise<DesignView> {
    const designId = assertDesignId(id, 'id');
    for (let attempt = 0; attempt < 3; attempt++) {
      const pending = await this.deps.designs.requestPrint(designId, ownerId);
      if (pending) {
        await this.enqueuePrint(pending.id);
        return this.view(pending);
      }
      const current = ownerId === undefined ? await this.deps.designs.findById(designId) : await this.deps.designs.findByIdForOwner(designId, ownerId);
      if (!current) throw notFound(id);
      if (current.status !== 'PUBLISHED') throw printNotAvailable(current);
      if (current.print.status === 'PENDING') {
        await this.enqueuePrint(current.id);
        return this.view(current);
      }
      if (current.print.status === 'READY') return this.view(current);
      // NONE or FAILED again: the design changed between the two queries; try once more.
    }
    throw new AppError('DESIGN_CONTENDED', `Design ${id} changed repeatedly while print files were requested; try again.`, { retryable: true, details: { designId: id } });
  }

  /** The bytes of a READY print file of the owner's design (the local-mode route). */
  async printFile(ownerId: string, id: string, name: PrintFileName): Promise<StoredObject> {
    const design = await this.find(ownerId, id);
    const key = name === 'print.pdf' ? design.print.pdfKey : design.print.pngKey;
    if (design.print.status !== 'READY' || key === null) {
      throw new NotFoundError('PRINT_FILES_NOT_READY', `Design ${design.id} has no ${name}: its print_status is ${design.print.status}${design.print.status === 'READY' ? ' but its product makes no such file' : '; request print files (POST /api/v1/designs/{id}/print-files) and wait for READY'}.`, { field: 'name' });
    }
    return this.deps.storage.readPrintFile(key);
  }

  async view(design: Design): Promise<DesignView> {
    const published = design.status === 'PUBLISHED';
    const printReady = design.print.status === 'READY';
    const [previewUrl, thumbnailUrl, printPdfUrl, printPngUrl, assets] = await Promise.all([
      published && design.previewKey ? this.deps.storage.urlFor(design.previewKey) : null,
      published && design.thumbnailKey ? this.deps.storage.urlFor(design.thumbnailKey) : null,
      printReady && design.print.pdfKey ? this.printUrl(design.id, design.print.pdfKey, 'print.pdf') : null,
      printReady && design.print.pngKey ? this.printUrl(design.id, design.print.pngKey, 'print.png') : null,
      published && design.previewKey ? this.assetsView(design) : null,
    ]);
    return {
      id: design.id,
      status: design.status,
      product_type: design.productType,
      design_data: design.designData,
      preview_url: previewUrl,
      thumbnail_url: thumbnailUrl,
      // A PUBLISHED design whose files a cleanup removed says so (re-render brings them back).
      error: design.status === 'FAILED' || (published && !design.previewKey) ? design.error : null,
      attempts: design.attempts,
      created_at: design.createdAt.toISOString(),
      updated_at: design.updatedAt.toISOString(),
      published_at: design.publishedAt ? design.publishedAt.toISOString() : null,
      warnings: designWarnings(design.designData),
      print_status: design.print.status,
      print_message: design.print.status === 'FAILED' ? design.print.message : null,
      print_warnings: printReady ? [...design.print.warnings] : [],
      print_pdf_url: printPdfUrl,
      print_png_url: printPngUrl,
      watermark: design.watermark,
      assets,
    };
  }

  /** Every stored rendition with its URL; a design published before versions has its seed's two PNGs. */
  private async assetsView(design: Design): Promise<DesignAssetsView> {
    const stored: Array<{ name: string; format: string; key: string; width: number; height: number; bytes: number | null }> = design.assets.length > 0
      ? [...design.assets]
      : [
          { name: 'preview', format: 'png', key: design.previewKey!, width: PREVIEW_SIZE, height: PREVIEW_SIZE, bytes: null },
          ...(design.thumbnailKey ? [{ name: 'thumbnail', format: 'png', key: design.thumbnailKey, width: THUMBNAIL_MAX_SIZE, height: THUMBNAIL_MAX_SIZE, bytes: null }] : []),
        ];
    const unmade = this.deps.unmadeRenditionUrl;
    // A design published before versions has its two PNGs stored, sizes unrecorded.
    const notMade = (asset: { bytes: number | null }) => design.assets.length > 0 && asset.bytes === null;
    const urls = await Promise.all(stored.map((asset) => (notMade(asset) && unmade ? Promise.resolve(unmade(asset.key)) : this.deps.storage.urlFor(asset.key))));
    const view: DesignAssetsView = {};
    stored.forEach((asset, i) => {
      (view[asset.name] ??= {})[asset.format] = { url: urls[i]!, width: asset.width, height: asset.height, bytes: asset.bytes };
    });
    return view;
  }

  private async printUrl(designId: string, key: string, name: PrintFileName): Promise<string> {
    return (await this.deps.storage.printFileUrl(key))
      ?? (this.deps.printFileRoute ?? ((id, file) => `/api/v1/designs/${id}/print-files/${file}`))(designId, name);
  }

  private async removePrintFiles(designId: string): Promise<void> {
    await this.deps.storage.deletePrintFiles(designId).catch((error: unknown) =>
      this.deps.logger.warn({ designId }, `Could not remove the print files of a re-rendered design (${describeError(error)}); they are private and no longer referenced.`));
  }

  private async enqueuePrint(designId: string): Promise<void> {
    if (!this.deps.printQueue) throw new AppError('SERVICE_UNAVAILABLE', 'Print files cannot be made here (no print queue configured).', { retryable: true });
    try {
      await this.deps.printQueue.enqueue(designId);
    } catch (error) {
      this.deps.logger.warn({ designId }, `Could not queue the print job now (${describeError(error)}); the sweep will queue it.`);
    }
  }

  /** A new PENDING design from a request body (see parseDesignRequest). Throws ValidationError. */
  private prepare(ownerId: string, input: unknown): Design {
    const { spec, watermark } = parseDesignRequest(input);
    return newDesign({ ownerId, productType: spec.product_type, designData: spec.design_data, now: new Date(), watermark: watermark ?? this.deps.watermarkDefault ?? false });
  }

  /**
   * Checks the design's image upload (see `create`), inserts the design, and says whether its
   * render can be queued now (false while its image is still being checked).
   */
  private async store(design: Design, ownerId: string): Promise<boolean> {
    if (design.uploadId === null) {
      await this.deps.designs.create(design);
      return true;
    }
    const upload = await this.findImage(design.uploadId, ownerId);
    if (!upload) throw uploadNotFound();
    if (upload.status === 'REJECTED') {
      throw new AppError('UPLOAD_REJECTED', `design_data.image.upload_id names an upload that was rejected (${upload.reason ?? 'REJECTED'}): it cannot be used. Upload another image.`, {
        field: 'design_data.image.upload_id',
      });
    }
    await this.deps.designs.create(design);
    // Queued now if its image is ready. Otherwise the upload's publish queues it, unless that
    // publish happened between the look above and the insert, before the design existed to be
    // found: a second look, after the insert, sees such a publish.
    const settled = (status: DesignImageUpload['status'] | undefined) => status === undefined || status === 'PUBLISHED' || status === 'REJECTED';
    return settled(upload.status) || settled((await this.findImage(design.uploadId, ownerId))?.status);
  }

  private async find(ownerId: string, id: string): Promise<Design> {
    const design = await this.deps.designs.findByIdForOwner(assertDesignId(id, 'id'), ownerId);
    if (!design) throw notFound(id);
    return design;
  }

  private async findImage(uploadId: string, ownerId: string): Promise<DesignImageUpload | null> {
    if (!this.deps.uploads) throw new AppError('DESIGN_IMAGE_UNAVAILABLE', 'Designs with an image are not available here (no uploads configured).', { field: 'design_data.image' });
    return this.deps.uploads.findByIdForOwner(uploadId, ownerId);
  }

  private async enqueue(designId: string): Promise<void> {
    try {
      await this.deps.queue.enqueue(designId);
    } catch (error) {
      this.deps.logger.warn({ designId }, `Could not queue the render now (${describeError(error)}); the sweep will queue it.`);
    }
  }

  private async enqueueMany(designIds: readonly string[]): Promise<void> {
    if (designIds.length === 0) return;
    const { queue } = this.deps;
    try {
      if (queue.enqueueMany) await queue.enqueueMany(designIds);
      else for (const designId of designIds) await queue.enqueue(designId);
    } catch (error) {
      this.deps.logger.warn({ designIds }, `Could not queue ${designIds.length} renders now (${describeError(error)}); the sweep will queue them.`);
    }
  }
}

function printNotAvailable(design: Design): AppError {
  const advice = design.status === 'FAILED'
    ? 'its render failed; re-render it (POST /api/v1/designs/{id}/render), then request print files once it is PUBLISHED.'
    : 'it is still being rendered; request print files once it is PUBLISHED.';
  return new AppError('PRINT_NOT_AVAILABLE', `Design ${design.id} is ${design.status}: print files are made from a PUBLISHED design, and ${advice}`, {
    field: 'status', details: { designId: design.id, status: design.status },
  });
}

/**
 * A design's request body (POST /api/v1/designs, an item of a batch, a line of `customify
 * render-batch`) checked as the API checks it: the design's fields first (the domain's codes,
 * as the route's schema check explains them), then its `watermark` flag, undefined when left
 * out. Throws ValidationError naming the field.
 */
export function parseDesignRequest(input: unknown): { spec: DesignSpec; watermark: boolean | undefined } {
  const { watermark, spec } = splitWatermark(input);
  return { spec: validateDesignSpec(spec), watermark: watermarkFlag(watermark) };
}

/** `watermark` is the design's option, not part of what is rendered: taken off before the design is validated. */
function splitWatermark(input: unknown): { watermark: unknown; spec: unknown } {
  if (typeof input !== 'object' || input === null || Array.isArray(input) || !('watermark' in input)) return { watermark: undefined, spec: input };
  const { watermark, ...spec } = input as Record<string, unknown>;
  return { watermark, spec };
}

/** The request's watermark flag, undefined when left out. */
function watermarkFlag(watermark: unknown): boolean | undefined {
  if (watermark === undefined || typeof watermark === 'boolean') return watermark;
  throw new ValidationError('INVALID_TYPE', 'watermark must be true or false (or left out for the default).', 'watermark');
}

function notFound(id: string): NotFoundError {
  return new NotFoundError('DESIGN_NOT_FOUND', `Design ${JSON.stringify(id.slice(0, 80))} not found.`, { field: 'id' });
}
