import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrationProvider } from '../../src/db/migrate.js';
import { Migrator } from 'kysely';
import { DesignRepository } from '../../src/designs/design-repository.js';
import { newDesign, type Design } from '../../src/designs/design.js';
import { createTestDatabase, DIALECTS, skipDialect, type TestDatabase } from '../helpers/databases.js';

/**
 * The print columns (migration 0006) and their compare-and-set transitions, on both dialects:
 * what makes "two requests at once → one job" and "a re-render invalidates the print" hold
 * across processes.
 */
const LEASE_MS = 30_000;

describe.each(DIALECTS.filter((d) => !skipDialect(d)))('print files in the designs table (%s)', (dialect) => {
  let database: TestDatabase;
  let now: Date;
  let designs: DesignRepository;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    now = new Date('2026-01-01T00:00:00Z');
    designs = new DesignRepository(database.db, () => now);
  });
  afterEach(async () => {
    await database?.destroy();
  });

  async function published(ownerId = 'user-1'): Promise<Design> {
    const design = newDesign({ ownerId, productType: 't-shirt', designData: { text: 'Print me', font: 'Bebas-Bold', color: '#FF0000' }, now });
    await designs.create(design);
    await designs.claimForRendering(design.id, LEASE_MS);
    const done = await designs.markPublished(design.id, { previewKey: `designs/${design.id}/preview.png`, thumbnailKey: `designs/${design.id}/thumbnail.png` });
    return done!;
  }

  it('starts every design at print_status NONE, also rows written before the migration', async () => {
    const design = await published();
    expect(design.print).toEqual({ status: 'NONE', message: null, pdfKey: null, pngKey: null, warnings: [], attempts: 0, leaseUntil: null, requestedAt: null });
    // Roll 0006 back and forward on a table with rows: the default fills them in.
    const migrator = new Migrator({ db: database.db, provider: migrationProvider });
    expect((await migrator.migrateDown()).error).toBeUndefined();
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    expect((await designs.findById(design.id))?.print.status).toBe('NONE');
  });

  it('requests print files only for a PUBLISHED design of the owner, and only once at a time', async () => {
    const pendingDesign = newDesign({ ownerId: 'user-1', productType: 't-shirt', designData: { text: 'x', font: 'Bebas-Bold', color: '#000000' }, now });
    await designs.create(pendingDesign);
    expect(await designs.requestPrint(pendingDesign.id)).toBeNull();

    const design = await published();
    expect(await designs.requestPrint(design.id, 'someone-else')).toBeNull();
    // Two requests at once: exactly one moves it to PENDING.
    const results = await Promise.all([designs.requestPrint(design.id, 'user-1'), designs.requestPrint(design.id, 'user-1')]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const pending = results.find(Boolean)!;
    expect(pending.print).toMatchObject({ status: 'PENDING', attempts: 0, requestedAt: now });
    expect(await designs.requestPrint(design.id)).toBeNull();
  });

  it('claims a PENDING print once per lease, records READY only under the claim\'s lease', async () => {
    const design = await published();
    await designs.requestPrint(design.id);
    const claim = (await designs.claimForPrinting(design.id, LEASE_MS))!;
    expect(claim.print).toMatchObject({ status: 'PENDING', attempts: 1, leaseUntil: new Date(now.getTime() + LEASE_MS) });
    expect(await designs.claimForPrinting(design.id, LEASE_MS)).toBeNull();

    // The lease ran out (a crashed worker): another worker takes it over; the first one's record matches nothing.
    now = new Date(now.getTime() + LEASE_MS);
    const takeover = (await designs.claimForPrinting(design.id, LEASE_MS))!;
    expect(takeover.print.attempts).toBe(2);
    const assets = { pdfKey: `designs/${design.id}/print.pdf`, pngKey: `designs/${design.id}/print.png`, warnings: [] };
    expect(await designs.markPrintReady(design.id, claim.print.leaseUntil!, assets)).toBeNull();
    const ready = (await designs.markPrintReady(design.id, takeover.print.leaseUntil!, { ...assets, warnings: [{ code: 'LOW_RESOLUTION', field: 'design_data.image', message: 'low', dpi: 96 }] }))!;
    expect(ready.print).toMatchObject({ status: 'READY', pdfKey: assets.pdfKey, pngKey: assets.pngKey, leaseUntil: null, message: null });
    expect((await designs.findById(design.id))!.print.warnings).toEqual([{ code: 'LOW_RESOLUTION', field: 'design_data.image', message: 'low', dpi: 96 }]);
    // READY is not requested again.
    expect(await designs.requestPrint(design.id)).toBeNull();
  });

  it('releases the lease between retries and records FAILED, which can be requested again', async () => {
    const design = await published();
    await designs.requestPrint(design.id);
    const claim = (await designs.claimForPrinting(design.id, LEASE_MS))!;
    const released = (await designs.releasePrintLease(design.id, claim.print.leaseUntil!, 'storage down'))!;
    expect(released.print).toMatchObject({ status: 'PENDING', message: 'storage down', leaseUntil: now });
    const again = (await designs.claimForPrinting(design.id, LEASE_MS))!;
    const failed = (await designs.markPrintFailed(design.id, again.print.leaseUntil!, 'text too large'))!;
    expect(failed.print).toMatchObject({ status: 'FAILED', message: 'text too large', leaseUntil: null });
    const retried = (await designs.requestPrint(design.id))!;
    expect(retried.print).toMatchObject({ status: 'PENDING', message: null, attempts: 0 });
  });

  it('a re-render invalidates the print: back to NONE, keys forgotten, a running job cannot record READY', async () => {
    const design = await published();
    await designs.requestPrint(design.id);
    const claim = (await designs.claimForPrinting(design.id, LEASE_MS))!;
    const rerendered = (await designs.requestRerender(design.id, 'user-1'))!;
    expect(rerendered.print).toEqual({ status: 'NONE', message: null, pdfKey: null, pngKey: null, warnings: [], attempts: 0, leaseUntil: null, requestedAt: null });
    expect(await designs.markPrintReady(design.id, claim.print.leaseUntil!, { pdfKey: 'k', pngKey: 'k', warnings: [] })).toBeNull();
    // Not PUBLISHED any more: no print until the new render is.
    expect(await designs.requestPrint(design.id)).toBeNull();
  });

  it('finds lost print jobs for the sweep: unclaimed and old, or claimed with an ended lease; never deleted designs', async () => {
    const [old, fresh, claimed, deleted] = [await published(), await published(), await published(), await published()];
    for (const d of [old, claimed, deleted]) await designs.requestPrint(d.id);
    await designs.claimForPrinting(claimed.id, LEASE_MS);
    now = new Date(now.getTime() + 1000);
    await designs.requestPrint(fresh.id);
    await designs.tombstone(deleted.id, 'user-1');
    expect(await designs.findStalePrints(new Date(now.getTime() - 500))).toEqual([old.id]);
    now = new Date(now.getTime() + LEASE_MS);
    expect(new Set(await designs.findStalePrints(new Date(now.getTime() - LEASE_MS)))).toEqual(new Set([old.id, claimed.id]));
  });

  it('a DELETE waits for a print job\'s lease as for a render\'s, and the job can end it', async () => {
    const design = await published();
    await designs.requestPrint(design.id);
    const claim = (await designs.claimForPrinting(design.id, LEASE_MS))!;
    const tombstoned = (await designs.tombstone(design.id, 'user-1'))!;
    expect(tombstoned.print.leaseUntil).toEqual(claim.print.leaseUntil);
    expect(await designs.renderLeaseOfDeleted(design.id)).toEqual(claim.print.leaseUntil);
    // No print transition reaches a deleted design.
    expect(await designs.markPrintReady(design.id, claim.print.leaseUntil!, { pdfKey: 'k', pngKey: 'k', warnings: [] })).toBeNull();
    expect(await designs.endPrintLeaseOfDeleted(design.id, claim.print.leaseUntil!)).toBe(true);
    expect(await designs.renderLeaseOfDeleted(design.id)).toBeNull();
  });
});
