import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { Migrator, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeDatabase, createDatabase, dialectOf, sqlitePathOf } from '../../src/db/database.js';
import { migrateToLatest, migrationProvider, MIGRATIONS } from '../../src/db/migrate.js';
import { newDesign, type Design, type DesignStatus } from '../../src/designs/design.js';
import { ASSETS_REMOVED_ERROR, DesignRepository } from '../../src/designs/design-repository.js';
import { createTestDatabase, DIALECTS, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { appErrorOf } from '../helpers/errors.js';

const START = new Date('2024-05-01T12:34:56.789Z');
const LEASE_MS = 30_000;
const ALL_MIGRATIONS = Object.keys(MIGRATIONS);
const execFileAsync = promisify(execFile);

/** Records the kind of every statement Kysely sends, to assert that a state change is one statement. */
class StatementRecorder implements KyselyPlugin {
  readonly kinds: string[] = [];
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node as RootOperationNode & { returning?: unknown };
    this.kinds.push(node.kind + (node.returning ? '+returning' : ''));
    return args.node;
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs migrateToLatest in a separate Node process, as `customify migrate` would: separate
 * processes are the real concurrency case (better-sqlite3 is synchronous, so two handles in
 * one process cannot wait for each other).
 */
async function migrateInChildProcess(url: string): Promise<{ applied: string[] }> {
  const code = `
    const { createDatabase, closeDatabase } = await import(${JSON.stringify(pathToFileURL(`${ROOT}src/db/database.ts`).href)});
    const { migrateToLatest } = await import(${JSON.stringify(pathToFileURL(`${ROOT}src/db/migrate.ts`).href)});
    const db = createDatabase(process.argv[1]);
    try { process.stdout.write(JSON.stringify(await migrateToLatest(db))); } finally { await closeDatabase(db); }
  `;
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', code, url], { cwd: ROOT, timeout: 30_000 });
  return JSON.parse(stdout) as { applied: string[] };
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipDialect(dialect))(`DesignRepository on ${dialect}`, () => {
    let t: TestDatabase;
    let now: Date;
    let repo: DesignRepository;
    const clock = () => new Date(now.getTime());
    const advance = (ms: number) => {
      now = new Date(now.getTime() + ms);
    };

    beforeEach(async () => {
      t = await createTestDatabase(dialect);
      now = new Date(START.getTime());
      repo = new DesignRepository(t.db, clock);
    });

    afterEach(async () => {
      await t?.destroy();
    });

    function make(ownerId = 'owner-a', overrides: Partial<Design> = {}): Design {
      return { ...newDesign({ ownerId, productType: 'tshirt', designData: { text: 'Hello', font: 'Roboto', color: '#112233' }, now: clock() }), ...overrides };
    }

    async function stored(status: DesignStatus, ownerId = 'owner-a'): Promise<Design> {
      const design = await repo.create(make(ownerId));
      if (status === 'PENDING') return design;
      await repo.claimForRendering(design.id, LEASE_MS);
      if (status === 'PUBLISHED') await repo.markPublished(design.id, { previewKey: `designs/${design.id}/preview.png`, thumbnailKey: `designs/${design.id}/thumbnail.png` });
      if (status === 'FAILED') await repo.markFailed(design.id, 'Unknown font');
      return (await repo.findById(design.id))!;
    }

    describe('create and find', () => {
      it('stores a design and reads it back field for field', async () => {
        const design = make('owner-a', { designData: { text: 'Ünïcode ✓', font: 'Lobster', color: '#000000', text_color: '#ffffff' } });
        expect(await repo.create(design)).toEqual(design);
        expect(await repo.findById(design.id)).toEqual(design);
        expect(await repo.findByIdForOwner(design.id, 'owner-a')).toEqual(design);
      });

      it('hides a design from another owner exactly as if it did not exist', async () => {
        const design = await repo.create(make('owner-a'));
        expect(await repo.findByIdForOwner(design.id, 'owner-b')).toBeNull();
        expect(await repo.findByIdForOwner(randomUUID(), 'owner-a')).toBeNull();
      });

      it('finds by id and owner with the values of each call (the query is compiled once and reused)', async () => {
        const a = await repo.create(make('owner-a'));
        const b = await repo.create(make('owner-b'));
        const [foundA, foundB, crossed] = await Promise.all([
          repo.findByIdForOwner(a.id.toUpperCase(), 'owner-a'),
          repo.findByIdForOwner(b.id, 'owner-b'),
          repo.findByIdForOwner(b.id, 'owner-a'),
        ]);
        expect(foundA).toEqual(a);
        expect(foundB).toEqual(b);
        expect(crossed).toBeNull();
        expect(await repo.findByIdForOwner(a.id, 'owner-b')).toBeNull();
        expect(await new DesignRepository(t.db, clock).findByIdForOwner(b.id, 'owner-b')).toEqual(b);
      });

      it('finds nothing for unknown or malformed ids, without throwing', async () => {
        expect(await repo.findById(randomUUID())).toBeNull();
        expect(await repo.findById('not-a-uuid')).toBeNull();
        expect(await repo.findById("' or 1=1 --")).toBeNull();
      });

      it('finds a design by its id in upper case', async () => {
        const design = await repo.create(make());
        expect((await repo.findById(design.id.toUpperCase()))?.id).toBe(design.id);
      });

      it('refuses a second design with the same id', async () => {
        const design = await repo.create(make());
        const error = await appErrorOf(repo.create(design));
        expect(error.code).toBe('DESIGN_ALREADY_EXISTS');
        expect(error.cause).toBeDefined();
      });

      it('round-trips every timestamp with millisecond precision and compares them in SQL', async () => {
        now = new Date('2031-12-31T23:59:59.999Z');
        const design = await repo.create(make());
        const claimed = await repo.claimForRendering(design.id, 1);
        expect(claimed?.createdAt.toISOString()).toBe('2031-12-31T23:59:59.999Z');
        expect(claimed?.updatedAt.toISOString()).toBe('2031-12-31T23:59:59.999Z');
        expect(claimed?.leaseUntil?.toISOString()).toBe('2032-01-01T00:00:00.000Z');
        advance(1);
        const published = await repo.markPublished(design.id, { previewKey: 'p', thumbnailKey: 't' });
        expect(published?.publishedAt?.toISOString()).toBe('2032-01-01T00:00:00.000Z');
        // One millisecond apart is enough for SQL to tell them apart.
        const rows = await t.db.selectFrom('designs').select('id').where('published_at', '>', START.getTime()).where('created_at', '<', published!.publishedAt!.getTime()).execute();
        expect(rows.map((r) => r.id)).toEqual([design.id]);
      });
    });

    describe('listByOwner', () => {
      it('pages newest first across identical timestamps, ties broken by id, with stable cursors', async () => {
        const created: Design[] = [];
        // 10 designs created in the same millisecond, 15 more spread around them.
        for (let i = 0; i < 25; i++) {
          const createdAt = new Date(START.getTime() + (i < 10 ? 0 : (i - 17) * 1000));
          created.push(await repo.create(make('owner-a', { createdAt, updatedAt: createdAt })));
        }
        await repo.create(make('owner-b'));
        const expected = [...created]
          .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
          .map((d) => d.id);

        const pages: string[][] = [];
        let cursor: string | null = null;
        do {
          const page: Awaited<ReturnType<DesignRepository['listByOwner']>> = await repo.listByOwner('owner-a', { limit: 10, cursor });
          pages.push(page.items.map((d) => d.id));
          cursor = page.nextCursor;
          if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
        } while (cursor);

        expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
        expect(pages.flat()).toEqual(expected);
        expect((await repo.listByOwner('owner-a', { limit: 100 })).items.map((d) => d.id)).toEqual(expected);
      });

      it('returns no cursor when the page is the last one, even when exactly full', async () => {
        for (let i = 0; i < 3; i++) await repo.create(make());
        expect((await repo.listByOwner('owner-a', { limit: 3 })).nextCursor).toBeNull();
        expect(await repo.listByOwner('nobody')).toEqual({ items: [], nextCursor: null });
      });

      it('does not skip a design created at the same instant as the cursor position', async () => {
        const designs = [await repo.create(make()), await repo.create(make()), await repo.create(make())];
        const first = await repo.listByOwner('owner-a', { limit: 1 });
        const rest = await repo.listByOwner('owner-a', { limit: 10, cursor: first.nextCursor });
        expect([...first.items, ...rest.items].map((d) => d.id).sort()).toEqual(designs.map((d) => d.id).sort());
      });

      it.each([
        ['not base64url', 'bad cursor!'],
        ['no separator', Buffer.from('12345').toString('base64url')],
        ['a non-UUID id', Buffer.from('1714566896789:abc').toString('base64url')],
        ['a non-numeric time', Buffer.from(`soon:${randomUUID()}`).toString('base64url')],
      ])('refuses a cursor with %s as INVALID_CURSOR', async (_why, cursor) => {
        const error = await appErrorOf(repo.listByOwner('owner-a', { cursor }));
        expect(error.code).toBe('INVALID_CURSOR');
        expect(error.field).toBe('cursor');
      });

      it.each([0, -1, 101, 1.5])('refuses limit %s as INVALID_LIMIT', async (limit) => {
        expect((await appErrorOf(repo.listByOwner('owner-a', { limit }))).code).toBe('INVALID_LIMIT');
      });
    });

    describe('claimForRendering', () => {
      it('moves PENDING to RENDERING in one UPDATE … RETURNING, counting the attempt and setting the lease', async () => {
        const design = await repo.create(make());
        const recorder = new StatementRecorder();
        const recorded = new DesignRepository(t.db.withPlugin(recorder), clock);
        advance(5);
        const claimed = await recorded.claimForRendering(design.id, LEASE_MS);
        expect(recorder.kinds).toEqual(['UpdateQueryNode+returning']);
        expect(claimed).toMatchObject({ id: design.id, status: 'RENDERING', attempts: 1, error: null });
        expect(claimed?.leaseUntil?.getTime()).toBe(START.getTime() + 5 + LEASE_MS);
        expect(claimed?.updatedAt.getTime()).toBe(START.getTime() + 5);
      });

      it('lets exactly one of many concurrent claims win', async () => {
        const design = await repo.create(make());
        const results = await Promise.all(Array.from({ length: 8 }, () => repo.claimForRendering(design.id, LEASE_MS)));
        expect(results.filter((r) => r !== null)).toHaveLength(1);
        expect((await repo.findById(design.id))?.attempts).toBe(1);
      });

      it('lets exactly one of two processes (separate pools) win', async () => {
        const other = new DesignRepository(t.connect(), clock);
        for (let round = 0; round < 5; round++) {
          const design = await repo.create(make());
          const results = await Promise.all([
            repo.claimForRendering(design.id, LEASE_MS),
            other.claimForRendering(design.id, LEASE_MS),
            other.claimForRendering(design.id, LEASE_MS),
            repo.claimForRendering(design.id, LEASE_MS),
          ]);
          expect(results.filter((r) => r !== null)).toHaveLength(1);
          expect((await other.findById(design.id))?.attempts).toBe(1);
        }
      });

      it('refuses a design leased by another worker until the lease expires, then reclaims it', async () => {
        const design = await repo.create(make());
        await repo.claimForRendering(design.id, LEASE_MS);
        advance(LEASE_MS - 1);
        expect(await repo.claimForRendering(design.id, LEASE_MS)).toBeNull();
        advance(1);
        const reclaimed = await repo.claimForRendering(design.id, LEASE_MS);
        expect(reclaimed).toMatchObject({ status: 'RENDERING', attempts: 2 });
        expect(reclaimed?.leaseUntil?.getTime()).toBe(now.getTime() + LEASE_MS);
      });

      it('returns null for missing, malformed, PUBLISHED and FAILED designs', async () => {
        expect(await repo.claimForRendering(randomUUID(), LEASE_MS)).toBeNull();
        expect(await repo.claimForRendering('nope', LEASE_MS)).toBeNull();
        expect(await repo.claimForRendering((await stored('PUBLISHED')).id, LEASE_MS)).toBeNull();
        expect(await repo.claimForRendering((await stored('FAILED')).id, LEASE_MS)).toBeNull();
      });

      it('refuses a lease that is not a positive duration', async () => {
        const design = await repo.create(make());
        expect((await appErrorOf(repo.claimForRendering(design.id, 0))).code).toBe('INVALID_LEASE');
      });
    });

    describe('releaseLease', () => {
      it('keeps RENDERING, records the error and lets the retry reclaim at once, error kept', async () => {
        const design = await repo.create(make());
        await repo.claimForRendering(design.id, LEASE_MS);
        advance(10);
        const released = await repo.releaseLease(design.id, 'S3 timed out');
        expect(released).toMatchObject({ status: 'RENDERING', error: 'S3 timed out', attempts: 1 });
        expect(released?.leaseUntil?.getTime()).toBe(now.getTime());
        const retried = await repo.claimForRendering(design.id, LEASE_MS);
        expect(retried).toMatchObject({ status: 'RENDERING', attempts: 2, error: 'S3 timed out' });
      });

      it('returns null unless the design is RENDERING', async () => {
        expect(await repo.releaseLease((await stored('PENDING')).id, 'x')).toBeNull();
        expect(await repo.releaseLease((await stored('PUBLISHED')).id, 'x')).toBeNull();
      });
    });

    describe('markPublished and markFailed', () => {
      it('publishes only from RENDERING, setting keys and published_at, clearing error and lease', async () => {
        const design = await repo.create(make());
        const keys = { previewKey: `designs/${design.id}/preview.png`, thumbnailKey: `designs/${design.id}/thumbnail.png` };
        expect(await repo.markPublished(design.id, keys)).toBeNull();
        await repo.claimForRendering(design.id, LEASE_MS);
        await repo.releaseLease(design.id, 'first try failed');
        await repo.claimForRendering(design.id, LEASE_MS);
        advance(250);
        const published = await repo.markPublished(design.id, keys);
        expect(published).toMatchObject({ status: 'PUBLISHED', ...keys, error: null, leaseUntil: null, attempts: 2 });
        expect(published?.publishedAt?.getTime()).toBe(now.getTime());
        expect(published?.updatedAt.getTime()).toBe(now.getTime());
        expect(await repo.markPublished(design.id, keys)).toBeNull();
        expect(await repo.markFailed(design.id, 'late failure')).toBeNull();
      });

      it('lets only one of two racing workers publish or fail', async () => {
        const design = await repo.create(make());
        await repo.claimForRendering(design.id, LEASE_MS);
        const other = new DesignRepository(t.connect(), clock);
        const [published, failed] = await Promise.all([
          repo.markPublished(design.id, { previewKey: 'p', thumbnailKey: 't' }),
          other.markFailed(design.id, 'boom'),
        ]);
        expect([published, failed].filter((r) => r !== null)).toHaveLength(1);
      });

      it('fails only from RENDERING, recording the error and clearing the lease', async () => {
        const design = await repo.create(make());
        expect(await repo.markFailed(design.id, 'Unknown font')).toBeNull();
        await repo.claimForRendering(design.id, LEASE_MS);
        const failed = await repo.markFailed(design.id, 'Unknown font "Comic"');
        expect(failed).toMatchObject({ status: 'FAILED', error: 'Unknown font "Comic"', leaseUntil: null, publishedAt: null });
      });
    });

    describe('requestRerender', () => {
      it.each(['PUBLISHED', 'FAILED'] as const)('moves %s back to PENDING with attempts reset and error cleared', async (status) => {
        const design = await stored(status);
        advance(1000);
        const pending = await repo.requestRerender(design.id, 'owner-a');
        expect(pending).toMatchObject({ status: 'PENDING', attempts: 0, error: null, leaseUntil: null });
        expect(pending?.updatedAt.getTime()).toBe(now.getTime());
        expect(await repo.claimForRendering(design.id, LEASE_MS)).toMatchObject({ status: 'RENDERING', attempts: 1 });
      });

      it('refuses a RENDERING design: wait for the current render to finish', async () => {
        const design = await stored('RENDERING');
        const error = await appErrorOf(repo.requestRerender(design.id, 'owner-a'));
        expect(error.code).toBe('INVALID_STATUS_TRANSITION');
        expect(error.message).toBe(`Cannot move design ${design.id} from RENDERING to PENDING: wait for the current render to finish, then request a re-render.`);
      });

      it('refuses a PENDING design: a render is already queued', async () => {
        const design = await stored('PENDING');
        const error = await appErrorOf(repo.requestRerender(design.id, 'owner-a'));
        expect(error.code).toBe('INVALID_STATUS_TRANSITION');
        expect(error.message).toMatch(/already queued/);
      });

      it('returns null for another owner or a missing design, and changes nothing', async () => {
        const design = await stored('PUBLISHED');
        expect(await repo.requestRerender(design.id, 'owner-b')).toBeNull();
        expect(await repo.requestRerender(randomUUID(), 'owner-a')).toBeNull();
        expect((await repo.findById(design.id))?.status).toBe('PUBLISHED');
      });

      it('accepts only one of two concurrent re-render requests', async () => {
        const design = await stored('PUBLISHED');
        const other = new DesignRepository(t.connect(), clock);
        const results = await Promise.allSettled([repo.requestRerender(design.id, 'owner-a'), other.requestRerender(design.id, 'owner-a')]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(rejected.reason).toMatchObject({ code: 'INVALID_STATUS_TRANSITION' });
      });
    });

    describe('findStale', () => {
      it('finds old PENDING designs and RENDERING ones whose lease expired, oldest first', async () => {
        const oldPending = await stored('PENDING');
        advance(1);
        const crashed = await stored('RENDERING');
        await stored('PUBLISHED');
        await stored('FAILED');
        advance(LEASE_MS + 1);
        const freshPending = await stored('PENDING');
        const leased = await stored('RENDERING');
        const stale = await repo.findStale({ pendingBefore: new Date(now.getTime() - 1000) });
        expect(stale.map((d) => d.id)).toEqual([oldPending.id, crashed.id]);
        const ids = stale.map((d) => d.id);
        expect(ids).not.toContain(freshPending.id);
        expect(ids).not.toContain(leased.id);
      });

      it('respects the limit', async () => {
        for (let i = 0; i < 5; i++) await stored('PENDING');
        advance(1);
        expect(await repo.findStale({ pendingBefore: now, limit: 2 })).toHaveLength(2);
      });
    });

    describe('deletion: tombstone, lease, removal', () => {
      it('a tombstone hides the design from every lookup, list, count, sweep and status change', async () => {
        const design = await repo.create(make('owner-a'));
        const claimed = (await repo.claimForRendering(design.id, LEASE_MS))!;
        expect(await repo.tombstone(design.id, 'owner-b')).toBeNull();
        const tombstoned = await repo.tombstone(design.id, 'owner-a');
        // What the DELETE needs to know: a render holds a lease that has not ended.
        expect(tombstoned).toMatchObject({ id: design.id, status: 'RENDERING', leaseUntil: claimed.leaseUntil });
        expect(await repo.findById(design.id)).toBeNull();
        expect(await repo.findByIdForOwner(design.id, 'owner-a')).toBeNull();
        expect((await repo.listByOwner('owner-a')).items).toEqual([]);
        expect(await repo.findByIds([design.id])).toEqual([]);
        expect(await repo.existingIds([design.id])).toEqual(new Set());
        expect(await repo.countByStatus()).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: 0, FAILED: 0 });
        expect(await repo.clearAssets([design.id])).toBe(0);
        // No render can publish, fail, release or reclaim it, and nothing writes it back.
        const assets = { previewKey: `designs/${design.id}/preview.png`, thumbnailKey: `designs/${design.id}/thumbnail.png` };
        expect(await repo.markPublished(design.id, assets)).toBeNull();
        expect(await repo.markFailed(design.id, 'x')).toBeNull();
        expect(await repo.releaseLease(design.id, 'x')).toBeNull();
        advance(LEASE_MS + 1);
        expect(await repo.claimForRendering(design.id, LEASE_MS)).toBeNull();
        expect(await repo.findStale({ pendingBefore: now })).toEqual([]);
        expect(await repo.requestRerender(design.id, 'owner-a')).toBeNull();
        const raw = await t.db.selectFrom('designs').select(['status', 'deleted_at']).where('id', '=', design.id).executeTakeFirstOrThrow();
        expect(raw).toEqual({ status: 'RENDERING', deleted_at: START.getTime() });
      });

      it('a second tombstone keeps the first time; removeTombstoned removes only tombstoned rows', async () => {
        const design = await repo.create(make('owner-a'));
        const live = await repo.create(make('owner-a'));
        expect(await repo.removeTombstoned(design.id)).toBe(false);
        await repo.tombstone(design.id, 'owner-a');
        advance(5000);
        await repo.tombstone(design.id, 'owner-a');
        expect(await repo.findTombstoned(now)).toMatchObject([{ id: design.id }]);
        expect(await repo.findTombstoned(START)).toEqual([]);
        expect(await repo.removeTombstoned(live.id)).toBe(false);
        expect(await repo.removeTombstoned(design.id)).toBe(true);
        expect(await repo.removeTombstoned(design.id)).toBe(false);
        expect(await t.db.selectFrom('designs').select('id').execute()).toEqual([{ id: live.id }]);
        expect(await repo.tombstone('nope', 'owner-a')).toBeNull();
      });

      it('the render lease of a deleted design: read while it runs, ended only by the render that holds it', async () => {
        const design = await repo.create(make());
        const first = (await repo.claimForRendering(design.id, LEASE_MS))!;
        advance(LEASE_MS); // the first render's lease runs out; a second one takes over
        const second = (await repo.claimForRendering(design.id, LEASE_MS))!;
        expect(await repo.renderLeaseOfDeleted(design.id)).toBeNull(); // not deleted
        await repo.tombstone(design.id, design.ownerId);
        expect(await repo.renderLeaseOfDeleted(design.id)).toEqual(second.leaseUntil);
        expect(await repo.endRenderLeaseOfDeleted(design.id, first.leaseUntil!)).toBe(false);
        expect(await repo.renderLeaseOfDeleted(design.id)).toEqual(second.leaseUntil);
        expect(await repo.endRenderLeaseOfDeleted(design.id, second.leaseUntil!)).toBe(true);
        expect(await repo.renderLeaseOfDeleted(design.id)).toBeNull();
      });
    });

    describe('bulk lookups for cleanup and metrics', () => {
      it('findByIds and existingIds ignore unknown and malformed ids', async () => {
        const a = await repo.create(make());
        const b = await repo.create(make('owner-b'));
        const ids = [a.id, b.id.toUpperCase(), randomUUID(), 'junk', a.id];
        expect((await repo.findByIds(ids)).map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
        expect(await repo.existingIds(ids)).toEqual(new Set([a.id, b.id]));
        expect(await repo.findByIds([])).toEqual([]);
        expect(await repo.existingIds([])).toEqual(new Set());
      });

      it('existingIds handles more ids than one statement may bind', async () => {
        const a = await repo.create(make());
        const ids = [...Array.from({ length: 1200 }, () => randomUUID()), a.id];
        expect(await repo.existingIds(ids)).toEqual(new Set([a.id]));
      });

      it('clearAssets forgets the keys, records why and keeps the status', async () => {
        const published = await stored('PUBLISHED');
        const untouched = await stored('PUBLISHED');
        advance(1);
        expect(await repo.clearAssets([published.id, randomUUID()])).toBe(1);
        expect(await repo.findById(published.id)).toMatchObject({ status: 'PUBLISHED', previewKey: null, thumbnailKey: null, error: ASSETS_REMOVED_ERROR });
        expect((await repo.findById(untouched.id))?.previewKey).toBe(`designs/${untouched.id}/preview.png`);
      });

      it('countByStatus reports every status, zero included', async () => {
        expect(await repo.countByStatus()).toEqual({ PENDING: 0, RENDERING: 0, PUBLISHED: 0, FAILED: 0 });
        await stored('PENDING');
        await stored('PENDING');
        await stored('RENDERING');
        await stored('PUBLISHED');
        expect(await repo.countByStatus()).toEqual({ PENDING: 2, RENDERING: 1, PUBLISHED: 1, FAILED: 0 });
      });
    });

    describe('the schema', () => {
      it('refuses a status outside the machine', async () => {
        const design = await repo.create(make());
        await expect(sql`update designs set status = 'LOST' where id = ${design.id}`.execute(t.db)).rejects.toThrow();
      });
    });
  });

  describe.skipIf(skipDialect(dialect))(`migrations on ${dialect}`, () => {
    let t: TestDatabase | undefined;

    afterEach(async () => {
      await t?.destroy();
      t = undefined;
    });

    it('applies every migration once; running again applies nothing', async () => {
      t = await createTestDatabase(dialect, { migrate: false });
      expect(await migrateToLatest(t.db)).toEqual({ applied: ALL_MIGRATIONS });
      expect(await migrateToLatest(t.db)).toEqual({ applied: [] });
      expect(await migrateToLatest(t.connect())).toEqual({ applied: [] });
      const tables = (await t.db.introspection.getTables()).map((table) => table.name);
      expect(tables).toContain('designs');
    });

    it('0002-design-tombstone adds deleted_at to a table that has designs: they stay live, and it rolls back', async () => {
      t = await createTestDatabase(dialect, { migrate: false });
      const schema = dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(t.db)).rows[0]!.schema : undefined;
      const migrator = new Migrator({ db: t.db, provider: migrationProvider, migrationTableSchema: schema });
      expect((await migrator.migrateTo('0001-create-designs')).error).toBeUndefined();
      const before = newDesign({ ownerId: 'o', productType: 'mug', designData: { text: 'x', font: 'Roboto', color: '#000' }, now: new Date() });
      await t.db.insertInto('designs').values({
        id: before.id, owner_id: 'o', product_type: 'mug', design_data: JSON.stringify(before.designData), status: 'PUBLISHED',
        attempts: 1, created_at: before.createdAt.getTime(), updated_at: before.updatedAt.getTime(),
      }).execute();
      expect(await migrateToLatest(t.db)).toEqual({ applied: ALL_MIGRATIONS.slice(1) });
      const repo = new DesignRepository(t.db);
      expect((await repo.findById(before.id))?.status).toBe('PUBLISHED');
      expect((await repo.listByOwner('o')).items.map((d) => d.id)).toEqual([before.id]);
      expect((await migrator.migrateTo('0001-create-designs')).error).toBeUndefined();
      const columns = (await t.db.introspection.getTables()).find((table) => table.name === 'designs')!.columns.map((c) => c.name);
      expect(columns).not.toContain('deleted_at');
    });

    it('serialises concurrent runs on one instance', async () => {
      t = await createTestDatabase(dialect, { migrate: false });
      const results = await Promise.all([migrateToLatest(t.db), migrateToLatest(t.db)]);
      expect(results.flatMap((r) => r.applied)).toEqual(ALL_MIGRATIONS);
    });

    it.runIf(dialect === 'postgres')('migrates while another session creates and drops schemas in the same database (the migrator checks for its tables in the current schema only)', async () => {
      t = await createTestDatabase(dialect, { migrate: false });
      const other = t.connect();
      let stop = false;
      let churned = 0;
      const churn = (async () => {
        while (!stop) {
          const name = `churn_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
          await sql.raw(`create schema ${name}`).execute(other);
          await sql.raw(`create table ${name}.t (id serial primary key, a text, b integer, c text, d text)`).execute(other);
          await sql.raw(`drop schema ${name} cascade`).execute(other);
          churned++;
        }
      })();
      try {
        for (let i = 0; i < 20; i++) {
          const fresh = await createTestDatabase('postgres', { migrate: false });
          try {
            expect((await migrateToLatest(fresh.db)).applied).toEqual(ALL_MIGRATIONS);
          } finally {
            await fresh.destroy();
          }
        }
      } finally {
        stop = true;
        await churn;
      }
      expect(churned).toBeGreaterThan(0);
    });

    it.runIf(dialect === 'postgres')('introspection lists the current schema\'s tables only, with their columns', async () => {
      t = await createTestDatabase(dialect);
      const other = `other_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      await sql.raw(`create schema ${other}`).execute(t.db);
      try {
        await sql.raw(`create table ${other}.designs_elsewhere (id serial primary key)`).execute(t.db);
        await sql.raw(`create table counters (id serial primary key, label text, n integer not null default 0)`).execute(t.db);
        const tables = await t.db.introspection.getTables();
        const names = tables.map((table) => table.name);
        expect(names).toContain('designs');
        expect(names).not.toContain('designs_elsewhere');
        expect(names).not.toContain('kysely_migration');
        const schema = (await sql<{ schema: string }>`select current_schema() as schema`.execute(t.db)).rows[0]!.schema;
        expect(new Set(tables.map((table) => table.schema))).toEqual(new Set([schema]));
        const counters = tables.find((table) => table.name === 'counters')!;
        expect(counters.columns.map(({ name, dataType, isNullable, hasDefaultValue, isAutoIncrementing }) => ({ name, dataType, isNullable, hasDefaultValue, isAutoIncrementing }))).toEqual([
          { name: 'id', dataType: 'int4', isNullable: false, hasDefaultValue: true, isAutoIncrementing: true },
          { name: 'label', dataType: 'text', isNullable: true, hasDefaultValue: false, isAutoIncrementing: false },
          { name: 'n', dataType: 'int4', isNullable: false, hasDefaultValue: true, isAutoIncrementing: false },
        ]);
        const withInternal = (await t.db.introspection.getTables({ withInternalKyselyTables: true })).map((table) => table.name);
        expect(withInternal).toEqual(expect.arrayContaining(['kysely_migration', 'kysely_migration_lock']));
      } finally {
        await sql.raw(`drop schema ${other} cascade`).execute(t.db);
      }
    });

    it('survives three processes migrating the same empty database at once', async () => {
      t = await createTestDatabase(dialect, { migrate: false });
      const url = t.url;
      const results = await Promise.all([1, 2, 3].map(() => migrateInChildProcess(url)));
      expect(results.flatMap((r) => r.applied)).toEqual(ALL_MIGRATIONS);
      const repo = new DesignRepository(t.connect());
      const design = await repo.create(newDesign({ ownerId: 'o', productType: 'mug', designData: { text: 'x', font: 'Roboto', color: '#000' }, now: new Date() }));
      expect(await repo.findById(design.id)).toEqual(design);
    });
  });
}

describe('createDatabase', () => {
  it.each([
    ['sqlite:./data/customify.db', 'sqlite'],
    ['sqlite::memory:', 'sqlite'],
    ['postgres://u@h:5432/db', 'postgres'],
    ['postgresql://u:secret@h/db', 'postgres'],
  ] as const)('reads %s as %s', (url, dialect) => {
    expect(dialectOf(url)).toBe(dialect);
  });

  it.each(['mysql://h/db', 'sqlite:', 'http://h', ''])('refuses %j with DATABASE_URL_UNSUPPORTED', (url) => {
    expect(() => createDatabase(url)).toThrow(expect.objectContaining({ code: 'DATABASE_URL_UNSUPPORTED', field: 'DATABASE_URL' }));
  });

  it('never shows a password in its error', () => {
    expect(() => dialectOf('mysql://u:hunter2@h/db')).toThrow(/^Unsupported database URL "mysql:\/\/u:\*\*\*@h\/db"/);
  });

  it('maps sqlite URLs to paths', () => {
    expect(sqlitePathOf('sqlite:./data/x.db')).toBe('./data/x.db');
    expect(sqlitePathOf('sqlite:///var/lib/x.db')).toBe('/var/lib/x.db');
    expect(sqlitePathOf('sqlite::memory:')).toBe(':memory:');
  });

  it('opens SQLite lazily, creating the folder, in WAL mode with busy_timeout and foreign keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'customify-db-'));
    const file = join(dir, 'nested', 'deeper', 'app.db');
    const db = createDatabase(`sqlite:${file}`);
    try {
      expect(existsSync(join(dir, 'nested'))).toBe(false);
      const pragma = async (name: string): Promise<unknown> => Object.values((await sql.raw(`pragma ${name}`).execute(db)).rows[0] as object)[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('busy_timeout')).toBe(5000);
      expect(await pragma('foreign_keys')).toBe(1);
      expect(existsSync(file)).toBe(true);
    } finally {
      await closeDatabase(db);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('works in memory for tests', async () => {
    const db = createDatabase('sqlite::memory:');
    try {
      expect(await migrateToLatest(db)).toEqual({ applied: ALL_MIGRATIONS });
      const repo = new DesignRepository(db);
      const design = await repo.create(newDesign({ ownerId: 'o', productType: 'mug', designData: { text: 'x', font: 'Roboto', color: '#000' }, now: new Date() }));
      expect(await repo.findById(design.id)).toEqual(design);
    } finally {
      await closeDatabase(db);
    }
  });
});
