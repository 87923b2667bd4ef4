import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { printCommand } from '../../src/cli/print.js';
import { buildContainer, type Container } from '../../src/composition-root.js';
import type { Settings } from '../../src/config.js';
import { newDesign } from '../../src/designs/design.js';
import { silentLogger } from '../../src/logger.js';
import { SAMPLE_DESIGN, testSettings } from '../helpers/app.js';
import { createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { appErrorOf } from '../helpers/errors.js';

/**
 * `customify print DESIGN_ID` against the configured database and storage: embedded (it makes
 * the files itself) and with Redis (it queues for `customify worker`, and waits with --wait).
 */

async function publishedDesign(container: Container, productType = 't-shirt'): Promise<string> {
  const view = await container.service.create('user-a', { ...SAMPLE_DESIGN, product_type: productType });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const design = await container.designs.findById(view.id);
    if (design?.status === 'PUBLISHED') return view.id;
    if (design?.status === 'FAILED' || Date.now() > deadline) throw new Error(`design ${view.id} is ${design?.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('customify print (embedded: SQLite, local storage, no Redis)', () => {
  let dir: string;
  let settings: Readonly<Settings>;
  let server: Container;

  beforeEach(async () => {
    dir = await createTempDir('print-cli');
    settings = testSettings(dir);
    // Stands for `customify serve`, which published the design; the command runs beside it.
    server = await buildContainer(settings, { logger: silentLogger, role: 'serve' });
    await server.startBackground();
  });
  afterEach(async () => {
    await server?.close();
    await removeTempDir(dir);
  });

  it('makes the files itself and prints where they are', async () => {
    const id = await publishedDesign(server, 'mug');
    const lines: string[] = [];
    expect(await printCommand(settings, id, { wait: false }, (line) => lines.push(line))).toBe(0);
    expect(lines).toEqual([
      `Design ${id}: print_status READY`,
      `print.pdf: ${settings.publicBaseUrl}/api/v1/designs/${id}/print-files/print.pdf`,
      `print.png: ${settings.publicBaseUrl}/api/v1/designs/${id}/print-files/print.png`,
    ]);
    const root = settings.localStoragePath;
    expect((await readFile(path.join(root, 'designs', id, 'print.pdf'))).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(await sharp(path.join(root, 'designs', id, 'print.png')).metadata()).toMatchObject({ width: 2775, height: 1125 });
    // Asked again: READY as it is, nothing made twice.
    expect(await printCommand(settings, id, { wait: false }, () => {})).toBe(0);
    expect((await server.designs.findById(id))!.print).toMatchObject({ status: 'READY', attempts: 1 });
  });

  it('refuses an unknown design, a malformed id and a design that is not PUBLISHED, naming why', async () => {
    expect(await appErrorOf(printCommand(settings, randomUUID(), { wait: false }, () => {}))).toMatchObject({ code: 'DESIGN_NOT_FOUND', field: 'id' });
    expect(await appErrorOf(printCommand(settings, 'nope', { wait: false }, () => {}))).toMatchObject({ code: 'INVALID_DESIGN_ID', field: 'id' });
    const failed = newDesign({ ownerId: 'user-a', productType: 't-shirt', designData: { text: 'x', font: 'Bebas-Bold', color: '#000000' }, now: new Date() });
    await server.designs.create(failed);
    await server.designs.claimForRendering(failed.id, 30_000);
    await server.designs.markFailed(failed.id, 'broken');
    const refused = await appErrorOf(printCommand(settings, failed.id, { wait: false }, () => {}));
    expect(refused).toMatchObject({ code: 'PRINT_NOT_AVAILABLE', field: 'status' });
    expect(refused.message).toContain('is FAILED');
  });
});

describe.skipIf(skipDialect('postgres') || skipRedis)('customify print (PostgreSQL, Redis: customify worker makes the files)', () => {
  let dir: string;
  let database: TestDatabase;
  let settings: Readonly<Settings>;
  let worker: Container;

  beforeEach(async () => {
    dir = await createTempDir('print-cli-redis');
    database = await createTestDatabase('postgres', { migrate: false });
    settings = testSettings(dir, { DATABASE_URL: database.url, REDIS_URL, RENDER_QUEUE_NAME: `print-cli-${randomUUID().slice(0, 8)}` });
    worker = await buildContainer(settings, { logger: silentLogger, role: 'worker' });
    await worker.startBackground();
  });
  afterEach(async () => {
    await worker?.close();
    await database?.destroy();
    await removeTempDir(dir);
  });

  it('queues the job for the workers; with --wait prints the outcome once READY', async () => {
    const api = await buildContainer(settings, { logger: silentLogger, role: 'cli' });
    let id: string;
    try {
      id = await publishedDesign(api);
    } finally {
      await api.close();
    }
    const lines: string[] = [];
    expect(await printCommand(settings, id, { wait: true, pollMs: 20 }, (line) => lines.push(line))).toBe(0);
    expect(lines[0]).toBe(`Design ${id}: print_status READY`);
    expect(lines[1]).toBe(`print.pdf: ${settings.publicBaseUrl}/api/v1/designs/${id}/print-files/print.pdf`);
    expect((await worker.designs.findById(id))!.print.attempts).toBe(1);

    // Without --wait: queued, said so, and the worker finishes it.
    const second = await publishedDesignVia(settings);
    const queued: string[] = [];
    expect(await printCommand(settings, second, { wait: false }, (line) => queued.push(line))).toBe(0);
    expect(queued).toEqual([expect.stringMatching(new RegExp(`^Design ${second}: print files queued \\(print_status PENDING\\); customify worker makes them\\.`))]);
    const deadline = Date.now() + 30_000;
    while ((await worker.designs.findById(second))!.print.status !== 'READY') {
      if (Date.now() > deadline) throw new Error('print files not made by the worker');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});

async function publishedDesignVia(settings: Readonly<Settings>): Promise<string> {
  const api = await buildContainer(settings, { logger: silentLogger, role: 'cli' });
  try {
    return await publishedDesign(api);
  } finally {
    await api.close();
  }
}
