import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_PRINT_SPECS, renderPrintFiles, type PrintFileOptions, type PrintFiles } from '../../src/print/index.js';
import { InProcessRenderQueue } from '../../src/jobs/in-process.queue.js';
import { createPrintDesignTask, PrintFailedError, type PrintDesignTask, type PrintTaskDeps } from '../../src/jobs/print-design.task.js';
import type { DesignSpec } from '../../src/rendering/index.js';
import { silentLogger } from '../../src/logger.js';
import { DesignService } from '../../src/designs/design-service.js';
import { DesignRepository } from '../../src/designs/design-repository.js';
import { createRenderStack, type RenderStack } from '../helpers/render-stack.js';
import { DIALECTS, skipDialect } from '../helpers/databases.js';
import { buildContainer } from '../../src/composition-root.js';
import { SAMPLE_DESIGN, testSettings } from '../helpers/app.js';
import { waitFor } from '../helpers/services.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * The print task's rules, on a real database and the real local driver with faults injected
 * on put: upload first, record second; retryable storage errors retry with the render's
 * backoff policy; a re-render or a DELETE while a job runs leaves no stale files and no READY.
 */
describe.each(DIALECTS.filter((d) => !skipDialect(d)))('the print task (%s)', (dialect) => {
  let stack: RenderStack;

  beforeEach(async () => {
    stack = await createRenderStack(dialect);
  });
  afterEach(async () => {
    await stack?.destroy();
  });

  function task(overrides: Partial<PrintTaskDeps> = {}): PrintDesignTask {
    return createPrintDesignTask({
      designs: stack.designs, storage: stack.assets, printSpecs: DEFAULT_PRINT_SPECS, renderPrintFiles,
      logger: silentLogger, leaseMs: 30_000, compressionLevel: 1, ...overrides,
    });
  }

  async function requested(productType?: string): Promise<string> {
    const design = await stack.createDesign();
    await stack.task(design.id, { attempt: 1, maxAttempts: 1 });
    if (productType) await stack.database.db.updateTable('designs').set({ product_type: productType }).where('id', '=', design.id).execute();
    expect(await stack.designs.requestPrint(design.id)).not.toBeNull();
    return design.id;
  }

  const keys = async (id: string) => (await stack.storage.list(`designs/${id}/`)).objects.map((o) => o.key).sort();

  it('stores both files, then records READY with their keys; a duplicate job does nothing', async () => {
    const id = await requested('sticker');
    const outcome = await task()(id, { attempt: 1, maxAttempts: 4 });
    expect(outcome).toEqual({ status: 'READY', pdfKey: `designs/${id}/print.pdf`, pngKey: `designs/${id}/print.png` });
    const version = (await stack.designs.findById(id))!.assetVersion;
    expect(await keys(id)).toEqual([`designs/${id}/${version}/preview.png`, `designs/${id}/${version}/thumbnail.png`, `designs/${id}/print.pdf`, `designs/${id}/print.png`].sort());
    const info = await stack.storage.head(`designs/${id}/print.pdf`);
    expect(info?.contentType).toBe('application/pdf');
    expect(await task()(id, { attempt: 1, maxAttempts: 4 })).toEqual({ status: 'SKIPPED', reason: 'not-requested' });
    expect((await stack.designs.findById(id))!.print.attempts).toBe(1);
  });

  it('retries a storage outage with the render queue\'s backoff, keeping the print PENDING until it is stored', async () => {
    const id = await requested('sticker');
    stack.driver.failNextPuts('STORAGE_UNAVAILABLE', 'STORAGE_UNAVAILABLE');
    const queue = new InProcessRenderQueue({ task: task(), policy: { maxRetries: 3, backoffMs: 5 }, concurrency: 1, logger: silentLogger });
    await queue.start();
    await queue.enqueue(id);
    await queue.drain();
    await queue.close();
    const design = (await stack.designs.findById(id))!;
    expect(design.print).toMatchObject({ status: 'READY', attempts: 2, message: null });
  });

  it('records FAILED with the message once retries are spent, and removes a half-written set', async () => {
    const id = await requested('sticker');
    // One of the two files is refused (not retryable), the other stored: no READY, and no lone file left behind.
    stack.driver.failNextPuts('STORAGE_ACCESS_DENIED');
    await expect(task()(id, { attempt: 1, maxAttempts: 4 })).rejects.toBeInstanceOf(PrintFailedError);
    const design = (await stack.designs.findById(id))!;
    expect(design.print.status).toBe('FAILED');
    expect(design.print.message).toContain('injected STORAGE_ACCESS_DENIED');
    expect((await keys(id)).filter((key) => key.includes('print'))).toEqual([]);
  });

  it('a re-render while the job runs: no READY, and the files it wrote are removed', async () => {
    const id = await requested('sticker');
    const service = new DesignService({ designs: stack.designs, storage: stack.assets, queue: { enqueue: () => Promise.resolve() }, logger: silentLogger });
    const outcome = await task({
      renderPrintFiles: async (spec: DesignSpec, printSpec, options: PrintFileOptions): Promise<PrintFiles> => {
        const files = await renderPrintFiles(spec, printSpec, options);
        await service.rerender('user-1', id);
        return files;
      },
    })(id, { attempt: 1, maxAttempts: 4 });
    expect(outcome).toEqual({ status: 'SKIPPED', reason: 'superseded' });
    expect((await stack.designs.findById(id))!.print.status).toBe('NONE');
    expect((await keys(id)).filter((key) => key.includes('print'))).toEqual([]);
  });

  it('a DELETE while the job runs: the job removes its files and ends its lease', async () => {
    const id = await requested('sticker');
    const outcome = await task({
      renderPrintFiles: async (spec, printSpec, options) => {
        const files = await renderPrintFiles(spec, printSpec, options);
        await stack.designs.tombstone(id, 'user-1');
        return files;
      },
    })(id, { attempt: 1, maxAttempts: 4 });
    expect(outcome).toEqual({ status: 'SKIPPED', reason: 'missing' });
    expect((await keys(id)).filter((key) => key.includes('print'))).toEqual([]);
    expect(await stack.designs.renderLeaseOfDeleted(id)).toBeNull();
  });

  it('hands the renderer a loader for the design image\'s normalised original, and stores its warnings', async () => {
    const id = await requested('sticker');
    const uploadId = '0b7a3c9e-2f4d-4c1b-9a8e-5d6f7a8b9c0d';
    // The claim as it comes back for a design with design_data.image (its upload_id column).
    class DesignsWithImage extends DesignRepository {
      override async claimForPrinting(designId: string, leaseMs: number) {
        const claimed = await super.claimForPrinting(designId, leaseMs);
        return claimed && { ...claimed, uploadId };
      }
    }
    const original = Buffer.from('the original bytes');
    const reads: string[] = [];
    let loaded: Buffer | undefined;
    const outcome = await task({
      designs: new DesignsWithImage(stack.database.db),
      images: {
        find: (upload) => Promise.resolve(upload === uploadId ? { id: upload, ownerId: 'user-1', status: 'PUBLISHED', reason: null, message: null, originalKey: `uploads/${upload}/original.png` } : null),
        read: (key) => {
          reads.push(key);
          return Promise.resolve(new Uint8Array(original));
        },
      },
      renderPrintFiles: async (spec, printSpec, options) => {
        loaded = await options.loadImage!(uploadId);
        return { ...(await renderPrintFiles(spec, printSpec, options)), warnings: [{ code: 'LOW_RESOLUTION', field: 'design_data.image', message: 'prints at 96 DPI', dpi: 96 }] };
      },
    })(id, { attempt: 1, maxAttempts: 1 });
    expect(outcome.status).toBe('READY');
    expect(reads).toEqual([`uploads/${uploadId}/original.png`]);
    expect(loaded).toEqual(original);
    const service = new DesignService({ designs: stack.designs, storage: stack.assets, queue: { enqueue: () => Promise.resolve() }, logger: silentLogger });
    const view = await service.get('user-1', id);
    expect(view.print_warnings).toEqual([{ code: 'LOW_RESOLUTION', field: 'design_data.image', message: 'prints at 96 DPI', dpi: 96 }]);
  });
});

describe('print jobs lost between the database and the queue', () => {
  it('are queued again at start: a PENDING print left by a crash is made by the next serve', async () => {
    const dir = await createTempDir('print-sweep');
    try {
      const settings = testSettings(dir);
      const first = await buildContainer(settings, { logger: silentLogger, role: 'serve' });
      let id: string;
      try {
        await first.startBackground();
        ({ id } = await first.service.create('user-a', { ...SAMPLE_DESIGN, product_type: 'sticker' }));
        await waitFor('the design to be PUBLISHED', async () => (await first.designs.findById(id))?.status === 'PUBLISHED', 30_000);
        // The request reached the database, and the process died before its in-memory queue ran it.
        expect(await first.designs.requestPrint(id)).not.toBeNull();
      } finally {
        await first.close();
      }
      const second = await buildContainer(settings, { logger: silentLogger, role: 'serve' });
      try {
        await second.startBackground();
        const design = await waitFor('the print to be READY', async () => {
          const found = await second.designs.findById(id);
          return found?.print.status === 'READY' ? found : undefined;
        }, 30_000);
        expect(design.print).toMatchObject({ attempts: 1, pdfKey: `designs/${id}/print.pdf`, pngKey: `designs/${id}/print.png` });
      } finally {
        await second.close();
      }
    } finally {
      await removeTempDir(dir);
    }
  });
});
