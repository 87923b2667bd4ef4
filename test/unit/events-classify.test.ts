import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newDesign } from '../../src/designs/design.js';
import { DesignRepository } from '../../src/designs/design-repository.js';
import { classifyChange, type EventType } from '../../src/events/index.js';
import { describeChange } from '../../src/events/event-types.js';
import type { StateChange } from '../../src/events/state-change.js';
import { UploadRepository } from '../../src/uploads/upload-repository.js';
import { webhookChange } from '../../src/webhooks/webhook-event.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

/**
 * classifyChange names each committed change from the row after it: driven here through the
 * real repositories (SQLite), every move of the design's and the upload's state machines.
 */
describe('classifyChange: the event type of each state change, as the repositories tell them', () => {
  let database: TestDatabase;
  const told: StateChange[] = [];
  const types = () => told.splice(0).map(classifyChange);
  let designs: DesignRepository;
  let uploads: UploadRepository;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    // A clock that moves on every read: each change lands on its own millisecond, as in real life.
    let t = Date.parse('2026-01-01T00:00:00Z');
    designs = new DesignRepository(database.db, () => new Date(t++));
    designs.onChange = (change) => told.push(change);
    uploads = new UploadRepository(database.db);
    uploads.onChange = (change) => told.push(change);
  });
  afterAll(() => database.destroy());

  it('a design: created, rendering, retrying, rendering, published, print, queued, failed, deleted', async () => {
    const design = newDesign({ ownerId: 'u', productType: 't-shirt', designData: { text: 'Hi', font: 'Bebas-Bold', color: '#FF0000' }, now: new Date(Date.parse('2026-01-01T00:00:00Z') - 1) });
    await designs.create(design);
    await designs.claimForRendering(design.id, 30_000);
    await designs.releaseLease(design.id, 'S3 was down');
    await designs.claimForRendering(design.id, 30_000);
    await designs.markPublished(design.id, { previewKey: `designs/${design.id}/preview.png`, thumbnailKey: `designs/${design.id}/thumbnail.png` });
    await designs.requestPrint(design.id, 'u');
    const printing = await designs.claimForPrinting(design.id, 30_000);
    await designs.markPrintReady(design.id, printing!.print.leaseUntil!, { pdfKey: 'p.pdf', pngKey: 'p.png', warnings: [] });
    await designs.requestRerender(design.id, 'u');
    await designs.claimForRendering(design.id, 30_000);
    await designs.markFailed(design.id, 'UNKNOWN_FONT');
    await designs.tombstone(design.id, 'u');
    const expected: EventType[] = [
      'design.created', 'design.rendering', 'design.retrying', 'design.rendering', 'design.published',
      'design.print', 'design.print', 'design.print', 'design.queued', 'design.rendering', 'design.failed', 'design.deleted',
    ];
    expect(types()).toEqual(expected);
  });

  it('a watermark change on a PENDING design is `queued`', async () => {
    const design = newDesign({ ownerId: 'u', productType: 'mug', designData: { text: 'Mug', font: 'Bebas-Bold', color: '#000000' }, now: new Date(Date.parse('2026-01-01T00:00:00Z') - 1) });
    await designs.create(design);
    await designs.setWatermark(design.id, 'u', true);
    expect(types()).toEqual(['design.created', 'design.queued']);
  });

  it('the event stream and webhooks read a change alike: only the change that published a design is its publish', async () => {
    const design = newDesign({ ownerId: 'u', productType: 'mug', designData: { text: 'Mug', font: 'Bebas-Bold', color: '#000000' }, now: new Date(Date.parse('2026-01-01T00:00:00Z') - 1) });
    await designs.create(design);
    await designs.claimForRendering(design.id, 30_000);
    await designs.markPublished(design.id, { previewKey: `designs/${design.id}/preview.png`, thumbnailKey: `designs/${design.id}/thumbnail.png` });
    // A cleanup clearing a PUBLISHED design's images leaves its print at NONE: still no publish
    // (the cleanup tells no listener; the row is what a reconciliation sweep would read).
    await designs.clearAssets([design.id]);
    const changes = [...told.splice(0), { kind: 'design' as const, design: (await designs.findById(design.id))!, deleted: false }];
    expect(changes.map(classifyChange)).toEqual(['design.created', 'design.rendering', 'design.published', 'design.print']);
    const webhooks = changes.map((change) => webhookChange(change)?.type ?? null);
    expect(webhooks).toEqual([null, null, 'design.published', null]);
    expect(changes.map((change) => describeChange(change)?.version)).toEqual(changes.map((change) => webhookChange(change)?.subjectVersion ?? describeChange(change)?.version));
  });

  it('a cleanup clearing a FAILED design\'s images is no move: `failed` still, no webhook', async () => {
    const design = newDesign({ ownerId: 'u', productType: 'mug', designData: { text: 'Mug', font: 'Bebas-Bold', color: '#000000' }, now: new Date(Date.parse('2026-01-01T00:00:00Z') - 1) });
    await designs.create(design);
    await designs.claimForRendering(design.id, 30_000);
    await designs.markFailed(design.id, 'UNKNOWN_FONT');
    await designs.clearAssets([design.id]);
    const changes = [...told.splice(0).slice(2), { kind: 'design' as const, design: (await designs.findById(design.id))!, deleted: false }];
    expect(changes.map(classifyChange)).toEqual(['design.failed', 'design.failed']);
    expect(changes.map((change) => describeChange(change)?.type ?? null)).toEqual(['design.failed', null]);
    expect(changes.map((change) => webhookChange(change)?.type ?? null)).toEqual(['design.failed', null]);
  });

  it('an upload: received, scanning, clean, published, deleted; and rejected', async () => {
    const id = randomUUID();
    await uploads.create({ id, ownerId: 'u', kind: 'design-image', stagingKey: `staging/${id}`, bytes: 10, filename: null });
    await uploads.claim(id, 30_000);
    await uploads.markClean(id, 'clean');
    await uploads.markPublished(id, { originalKey: `uploads/${id}/original.png`, contentType: 'image/png', bytes: 10, width: 1, height: 1 });
    await uploads.delete(id, 'u');
    const bad = randomUUID();
    await uploads.create({ id: bad, ownerId: 'u', kind: 'design-image', stagingKey: `staging/${bad}`, bytes: 10, filename: null });
    await uploads.claim(bad, 30_000);
    await uploads.markRejected(bad, 'INFECTED', 'Eicar-Test-Signature');
    expect(types()).toEqual(['upload.received', 'upload.scanning', 'upload.clean', 'upload.published', 'upload.deleted', 'upload.received', 'upload.scanning', 'upload.rejected']);
  });
});
