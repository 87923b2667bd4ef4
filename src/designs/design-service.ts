import { AppError, describeError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RenderQueue } from '../jobs/render-queue.js';
import { designWarnings, validateDesignSpec, type DesignWarning } from '../rendering/index.js';
import type { StorageRepository } from '../storage/index.js';
import { assertDesignId } from './design-id.js';
import { DesignDeletion } from './design-deletion.js';
import { newDesign, type Design } from './design.js';
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
}

export interface DesignServiceDeps {
  designs: DesignRepository;
  storage: StorageRepository;
  queue: Pick<RenderQueue, 'enqueue'>;
  logger: Logger;
  /** The owner's uploads, for designs with an image (design_data.image.upload_id). */
  uploads?: { findByIdForOwner(id: string, ownerId: string): Promise<DesignImageUpload | null> };
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
    const spec = validateDesignSpec(input);
    const design = newDesign({ ownerId, productType: spec.product_type, designData: spec.design_data, now: new Date() });
    if (design.uploadId === null) {
      await this.deps.designs.create(design);
      await this.enqueue(design.id);
      return this.view(design);
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
    const ready = settled(upload.status) || settled((await this.findImage(design.uploadId, ownerId))?.status);
    if (ready) await this.enqueue(design.id);
    return this.view(design);
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
    await this.enqueue(pending.id);
    return this.view(pending);
  }

  async view(design: Design): Promise<DesignView> {
    const published = design.status === 'PUBLISHED';
    const [previewUrl, thumbnailUrl] = await Promise.all([
      published && design.previewKey ? this.deps.storage.urlFor(design.previewKey) : null,
      published && design.thumbnailKey ? this.deps.storage.urlFor(design.thumbnailKey) : null,
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
    };
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
}

function notFound(id: string): NotFoundError {
  return new NotFoundError('DESIGN_NOT_FOUND', `Design ${JSON.stringify(id.slice(0, 80))} not found.`, { field: 'id' });
}
