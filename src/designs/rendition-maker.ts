import { describeError } from '../errors.js';
import type { DesignImageSource } from '../jobs/render-design.task.js';
import type { Logger } from '../logger.js';
import { validateDesignSpec, type DesignSpec, type ImageFormat, type RenderedImage, type RenditionFileName } from '../rendering/index.js';
import { assetVersionOfKey, designIdOfKey, type StorageRepository } from '../storage/index.js';
import type { DesignRepository } from './design-repository.js';

export interface RenditionMakerDeps {
  designs: Pick<DesignRepository, 'findById' | 'recordRenditionBytes' | 'supersededRendition'>;
  storage: Pick<StorageRepository, 'uploadRendition'>;
  /** Whether an object is stored under `key` (another request, or another process, made it first). */
  exists: (key: string) => Promise<boolean>;
  /** Renders one file of a design (renderRenditions with `subset`). */
  render: (spec: DesignSpec, image: Uint8Array | undefined, watermarked: boolean, file: RenditionFileName) => Promise<RenderedImage[]>;
  images?: DesignImageSource;
  logger: Logger;
  observer?: { made(event: { seconds: number }): void };
}

/**
 * Makes a rendition on its first request (`GET /static/designs/{id}/{version}/{name}.{format}`):
 * the render stores only the seed's two PNGs, and every other size and format the settings
 * list is made here once, stored under its immutable key and served from storage after that,
 * as imgproxy and Active Storage make variants. A design's current version is made from its
 * manifest (what it has, and whether each file carries the watermark); a version a re-render
 * replaced is made from the manifest recorded with it, until its grace period ends, so a page
 * still showing the old version gets every one of its files (the sweep removes what is made
 * then with the rest). Concurrent first requests in one process share one render; two
 * processes may both render, and write the same bytes.
 */
export class RenditionMaker {
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(private readonly deps: RenditionMakerDeps) {}

  /** True once `key` is stored (made now or before); false when it names no rendition of a current version, nor of a replaced one in its grace period. Throws storage and render errors. */
  ensure(key: string): Promise<boolean> {
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.make(key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async make(key: string): Promise<boolean> {
    const designId = designIdOfKey(key);
    const version = assetVersionOfKey(key);
    if (!designId || !version) return false;
    const design = await this.deps.designs.findById(designId);
    if (!design) return false;
    const current = design.assetVersion === version;
    const entry = current ? design.assets.find((asset) => asset.key === key) : await this.deps.designs.supersededRendition(design.id, version, key);
    if (!entry) return false;
    if (await this.deps.exists(key)) return true;
    const started = performance.now();
    const spec = validateDesignSpec({ product_type: design.productType, design_data: design.designData });
    let image: Uint8Array | undefined;
    if (design.uploadId !== null) {
      const upload = await this.deps.images?.find(design.uploadId);
      if (!upload?.originalKey || upload.status !== 'PUBLISHED') return false;
      image = await this.deps.images!.read(upload.originalKey);
    }
    const file = { name: entry.name, format: entry.format as ImageFormat };
    const [made] = await this.deps.render(spec, image, entry.watermarked ?? design.watermark, file);
    if (!made) return false;
    await this.deps.storage.uploadRendition(design.id, version, made);
    // A replaced version's sizes are no longer shown by the API: only the current manifest's are recorded.
    if (current) {
      await this.deps.designs.recordRenditionBytes(design.id, version, key, made.data.length).catch((error: unknown) =>
        this.deps.logger.warn({ designId, key }, `Made ${key} but could not record its size (${describeError(error)}); the API shows bytes null for it.`));
    }
    this.deps.observer?.made({ seconds: (performance.now() - started) / 1000 });
    this.deps.logger.info({ designId, key, bytes: made.data.length }, `Made ${entry.name}.${entry.format} on its first request`);
    return true;
  }
}
