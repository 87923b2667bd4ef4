import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { DesignRepository } from '../../src/designs/design-repository.js';
import { newDesign, type Design } from '../../src/designs/design.js';
import { createRenderDesignTask, type RenderDesignTask } from '../../src/jobs/render-design.task.js';
import { silentLogger } from '../../src/logger.js';
import { renderRenditions } from '../../src/rendering/index.js';
import { LocalDriver } from '../../src/storage/local.driver.js';
import { DesignAssetStorage, ObjectStorage, StorageError, type ObjectStoreDriver, type StorageErrorCode } from '../../src/storage/index.js';
import { createTestDatabase, type Dialect, type TestDatabase } from './databases.js';

/**
 * A real local driver with faults injected on `put`: the storage layer's own error type, as
 * an unreachable S3 or a refused PutObject would raise it. Everything else is the real disk.
 */
export class FaultyDriver extends LocalDriver {
  readonly putTimes: number[] = [];
  private readonly faults: StorageErrorCode[] = [];

  failNextPuts(...codes: StorageErrorCode[]): void {
    this.faults.push(...codes);
  }

  override async put(...args: Parameters<ObjectStoreDriver['put']>): Promise<void> {
    this.putTimes.push(performance.now());
    const code = this.faults.shift();
    if (code) {
      const [, body] = args;
      if (typeof (body as Readable).resume === 'function') (body as Readable).resume();
      throw new StorageError(code, `injected ${code}`);
    }
    return super.put(...args);
  }
}

export interface RenderStack {
  database: TestDatabase;
  designs: DesignRepository;
  driver: FaultyDriver;
  storage: ObjectStorage;
  assets: DesignAssetStorage;
  task: RenderDesignTask;
  root: string;
  createDesign(overrides?: Partial<Pick<Design, 'designData' | 'ownerId'>>): Promise<Design>;
  destroy(): Promise<void>;
}

export async function createRenderStack(dialect: Dialect = 'sqlite', options: { leaseMs?: number } = {}): Promise<RenderStack> {
  const database = await createTestDatabase(dialect);
  const root = mkdtempSync(path.join(tmpdir(), 'customify-render-'));
  const driver = new FaultyDriver({ root: path.join(root, 'storage'), publicBaseUrl: 'http://localhost:8000', durable: false });
  const storage = new ObjectStorage(driver, silentLogger);
  const assets = new DesignAssetStorage(storage, { publicBucket: true, signedUrlExpiresSeconds: 3600 }, silentLogger);
  const designs = new DesignRepository(database.db);
  const task = createRenderDesignTask({
    designs,
    storage: assets,
    renderAssets: (spec) => renderRenditions(spec),
    logger: silentLogger,
    leaseMs: options.leaseMs ?? 30_000,
  });
  return {
    database, designs, driver, storage, assets, task, root,
    async createDesign(overrides = {}) {
      const design = newDesign({
        ownerId: overrides.ownerId ?? 'user-1',
        productType: 't-shirt',
        designData: overrides.designData ?? { text: 'Test Design', font: 'Bebas-Bold', color: '#FF0000' },
        now: new Date(),
      });
      await designs.create(design);
      return design;
    },
    async destroy() {
      await database.destroy();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
