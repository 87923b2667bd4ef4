import type { CompiledQuery, UpdateQueryBuilder, UpdateResult } from 'kysely';
import { AppError, NotFoundError, ValidationError, describeError } from '../errors.js';
import type { Database } from '../db/database.js';
import type { DB, DesignRow, NewDesignRow } from '../db/schema.js';
import { checkLimit, decodeCursor, encodeCursor, MAX_LIST_LIMIT } from '../db/keyset-page.js';
import { tell, type StateChangeListener } from '../events/state-change.js';
import { isDesignId } from './design-id.js';
import { DESIGN_STATUSES, assertTransition, isDesignStatus, isPrintStatus, type Design, type DesignData, type DesignStatus, type PublishedRendition, type StoredPrintWarning } from './design.js';

type DesignUpdate = UpdateQueryBuilder<DB, 'designs', 'designs', UpdateResult>;

/** Error recorded on designs whose stored objects a cleanup deleted. */
export const ASSETS_REMOVED_ERROR = 'Assets removed by cleanup';

export interface ListOptions {
  /** 1 to MAX_LIST_LIMIT; DEFAULT_LIST_LIMIT when omitted. */
  limit?: number;
  /** `nextCursor` of the previous page, unchanged; omit for the newest designs. */
  cursor?: string | null;
}

export interface DesignPage {
  items: Design[];
  /** Opaque; null on the last page. */
  nextCursor: string | null;
}

export interface FindStaleOptions {
  /** PENDING designs not touched since this instant are stale (their queue job was probably lost). */
  pendingBefore: Date;
  /** RENDERING designs whose lease ended at or before this instant are stale (crashed worker). Default: now. */
  leaseExpiredBefore?: Date;
  limit?: number;
}

export interface PrintAssets {
  /** Null for a file the product's print spec does not make. */
  pdfKey: string | null;
  pngKey: string | null;
  warnings: readonly StoredPrintWarning[];
}

/** The print columns as a re-render or a cleanup leaves them: no print files. */
const PRINT_RESET = {
  print_status: 'NONE', print_message: null, print_pdf_key: null, print_png_key: null, print_warnings: null,
  print_attempts: 0, print_lease_until: null, print_requested_at: null,
} as const;

export interface PublishedAssets {
  previewKey: string;
  thumbnailKey: string;
  /** The render's version folder and everything it stored there (issue #13). */
  assetVersion?: string;
  assets?: readonly PublishedRendition[];
  /**
   * The images this publish replaces (the claimed design's), kept until `deleteAfter` (the
   * grace period) and then removed by the sweep; recorded in the same transaction.
   */
  superseded?: { version: string; keys: readonly string[]; deleteAfter: Date; assets?: readonly PublishedRendition[] };
}

/** A version of a design's images waiting out its grace period (see markPublished). */
export interface SupersededVersion {
  designId: string;
  /** The version folder, or `legacy` for the seed's unversioned keys. */
  version: string;
  keys: string[];
  deleteAfter: Date;
}

/** `superseded_assets.version` of the seed's unversioned images. */
export const LEGACY_VERSION = 'legacy';

// Lists of ids are sent in chunks well under SQLite's and PostgreSQL's bound-parameter limits.
const ID_CHUNK = 500;

/**
 * Designs in the database. Every status change is one compare-and-set UPDATE (`WHERE id = ?
 * AND status ...`, RETURNING the row), so of two workers or two processes racing on the same
 * design exactly one wins and the other gets null. "Now" comes from the injected clock, never
 * from the database server, so tests can move time.
 *
 * A lease is expired when `lease_until <= now`: releaseLease() sets it to now so that an
 * immediate retry can reclaim the design.
 *
 * Deleted designs: DELETE first writes a tombstone (`deleted_at`, see tombstone()). From then
 * on the design does not exist for any method here except the deletion protocol's
 * (tombstone, renderLeaseOfDeleted, endRenderLeaseOfDeleted, removeTombstoned,
 * findTombstoned): lookups, lists and counts skip it, and every status change is refused,
 * so no render can claim, publish, fail or release it and nothing writes it back.
 *
 * Errors: ValidationError INVALID_CURSOR / INVALID_LIMIT for bad list options; AppError
 * INVALID_STATUS_TRANSITION from requestRerender(); DESIGN_ALREADY_EXISTS from create();
 * any database failure as AppError DATABASE_UNAVAILABLE (retryable: connection lost, busy,
 * deadlock) or DATABASE_ERROR (not retryable), with the driver's error as `cause`.
 * Lookups by an id that is not a UUID find nothing rather than throw.
 */
export class DesignRepository {
  private findForOwnerQuery: CompiledQuery<DesignRow> | undefined;

  /**
   * Hears every committed change of a design's state (created, claimed, retried, published,
   * failed, queued again, tombstoned), after its commit: the event stream and webhooks.
   */
  onChange: StateChangeListener | undefined;

  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(design: Design): Promise<Design> {
    try {
      const row = await this.db.insertInto('designs').values(toRow(design)).returningAll().executeTakeFirstOrThrow();
      return this.changed(toDesign(row));
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError('DESIGN_ALREADY_EXISTS', `A design with id ${design.id} already exists; create it with a new id.`, { cause: error, details: { designId: design.id } });
      }
      // The upload was deleted between the caller's check and this insert (see migration 0005).
      if (isForeignKeyViolation(error)) throw uploadNotFound(error);
      throw databaseError('creating a design', error);
    }
  }

  async findById(id: string): Promise<Design | null> {
    if (!isDesignId(id)) return null;
    const row = await this.run('reading a design', () =>
      this.db.selectFrom('designs').selectAll().where('id', '=', id.toLowerCase()).where('deleted_at', 'is', null).executeTakeFirst());
    return row ? toDesign(row) : null;
  }

  /**
   * Null both when the design does not exist and when someone else owns it: callers answer
   * 404 for both. Every GET /designs/:id runs this, so its query is built and compiled once
   * (Kysely's builder and compiler cost more than SQLite's primary-key lookup) and then run
   * with the new values: `[id, owner_id]`, in the order of the `where` calls. (Runs share
   * the compiled query's queryId, which only matters to Kysely plugins; the database has none.)
   */
  async findByIdForOwner(id: string, ownerId: string): Promise<Design | null> {
    if (!isDesignId(id)) return null;
    this.findForOwnerQuery ??= this.db.selectFrom('designs').selectAll().where('id', '=', '').where('owner_id', '=', '').where('deleted_at', 'is', null).compile();
    const query: CompiledQuery<DesignRow> = { ...this.findForOwnerQuery, parameters: [id.toLowerCase(), ownerId] };
    const { rows } = await this.run('reading a design', () => this.db.executeQuery(query));
    return rows[0] ? toDesign(rows[0]) : null;
  }

  /** The owner's designs, newest first (ties on created_at broken by id), one keyset page at a time. */
  async listByOwner(ownerId: string, options: ListOptions = {}): Promise<DesignPage> {
    const limit = checkLimit(options.limit);
    const after = options.cursor == null || options.cursor === '' ? null : decodeCursor(options.cursor, 'designs');
    const rows = await this.run('listing designs', () => {
      let query = this.db.selectFrom('designs').selectAll().where('owner_id', '=', ownerId).where('deleted_at', 'is', null);
      if (after) {
        query = query.where((eb) =>
          eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]));
      }
      return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    });
    const items = rows.slice(0, limit).map(toDesign);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /**
   * PENDING → RENDERING, or RENDERING → RENDERING when the previous lease has expired.
   * Counts the attempt and leases the design until now + leaseMs; the last error is kept.
   * Null when the design is missing, PUBLISHED, FAILED, or leased by another worker.
   */
  async claimForRendering(id: string, leaseMs: number): Promise<Design | null> {
    if (!isDesignId(id)) return null;
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw new ValidationError('INVALID_LEASE', `leaseMs must be a positive number of milliseconds, got ${leaseMs}`, 'leaseMs');
    }
    return this.updateLive(id, 'claiming a design for rendering', (query, now) =>
      query
        .set((eb) => ({ status: 'RENDERING', attempts: eb('attempts', '+', 1), lease_until: now + Math.ceil(leaseMs), updated_at: now }))
        .where((eb) =>
          eb.or([
            eb('status', '=', 'PENDING'),
            eb.and([eb('status', '=', 'RENDERING'), eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)])]),
          ])));
  }

  /**
   * Between retries: stays RENDERING, records the error and ends the lease now, so the retry
   * (or, if this worker dies, the sweep) can claim it at once. Null unless RENDERING.
   */
  async releaseLease(id: string, error: string): Promise<Design | null> {
    return this.updateLive(id, 'releasing a render lease', (query, now) =>
      query.set({ lease_until: now, error, updated_at: now }).where('status', '=', 'RENDERING'));
  }

  /**
   * RENDERING → PUBLISHED with the stored keys; clears error and lease. Null if not RENDERING
   * (the CAS lost). With `assets.superseded`, the replaced images are recorded for removal in
   * the same transaction: a publish never forgets what it replaced.
   */
  async markPublished(id: string, assets: PublishedAssets): Promise<Design | null> {
    const publish = (query: DesignUpdate, now: number) =>
      query
        .set({
          status: 'PUBLISHED',
          preview_key: assets.previewKey,
          thumbnail_key: assets.thumbnailKey,
          ...(assets.assetVersion === undefined ? {} : { asset_version: assets.assetVersion, assets: JSON.stringify(assets.assets ?? []) }),
          published_at: now,
          error: null,
          lease_until: null,
          updated_at: now,
        })
        .where('status', '=', 'RENDERING');
    const superseded = assets.superseded;
    if (!superseded || superseded.keys.length === 0 || !isDesignId(id)) return this.updateLive(id, 'publishing a design', publish);
    const now = this.clock().getTime();
    const row = await this.run('publishing a design', () =>
      this.db.transaction().execute(async (trx) => {
        const live = trx.updateTable('designs').where('id', '=', id.toLowerCase()).where('deleted_at', 'is', null);
        const published = await publish(live, now).returningAll().executeTakeFirst();
        if (published) {
          await trx
            .insertInto('superseded_assets')
            .values({
              design_id: published.id, version: superseded.version, keys: JSON.stringify(superseded.keys), delete_after: superseded.deleteAfter.getTime(),
              assets: superseded.assets ? JSON.stringify(superseded.assets) : null,
            })
            .onConflict((oc) => oc.columns(['design_id', 'version']).doNothing())
            .execute();
        }
        return published;
      }));
    return row ? this.changed(toDesign(row)) : null;
  }

  /**
   * Records the byte size of a rendition made on its first request, if `version` is still
   * the design's current one (a compare-and-set on the manifest, retried against a concurrent
   * record). False when the design or version is gone.
   */
  async recordRenditionBytes(id: string, version: string, key: string, bytes: number): Promise<boolean> {
    if (!isDesignId(id)) return false;
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await this.run('reading a design', () =>
        this.db.selectFrom('designs').select(['assets']).where('id', '=', id.toLowerCase()).where('asset_version', '=', version).where('deleted_at', 'is', null).executeTakeFirst());
      if (!row || row.assets === null) return false;
      const assets = JSON.parse(row.assets) as PublishedRendition[];
      const entry = assets.find((asset) => asset.key === key);
      if (!entry) return false;
      if (entry.bytes === bytes) return true;
      const updated = JSON.stringify(assets.map((asset) => (asset.key === key ? { ...asset, bytes } : asset)));
      const result = await this.run('recording a rendition', () =>
        this.db.updateTable('designs').set({ assets: updated }).where('id', '=', id.toLowerCase()).where('asset_version', '=', version).where('assets', '=', row.assets).executeTakeFirst());
      if (Number(result.numUpdatedRows) === 1) return true;
    }
    return false;
  }

  /** Superseded versions whose grace period ended by `now`, oldest first. */
  async dueSuperseded(now: Date, limit = 100): Promise<SupersededVersion[]> {
    const rows = await this.run('reading superseded images', () =>
      this.db.selectFrom('superseded_assets').selectAll().where('delete_after', '<=', now.getTime()).orderBy('delete_after').limit(limit).execute());
    return rows.map((row) => ({ designId: row.design_id, version: row.version, keys: JSON.parse(row.keys) as string[], deleteAfter: new Date(Number(row.delete_after)) }));
  }

  /**
   * The rendition `key` names in a version a re-render replaced, while its grace period lasts
   * (its delete_after is after `now`), from that version's manifest; null otherwise.
   */
  async supersededRendition(designId: string, version: string, key: string, now: Date = this.clock()): Promise<PublishedRendition | null> {
    if (!isDesignId(designId)) return null;
    const row = await this.run('reading superseded images', () =>
      this.db.selectFrom('superseded_assets').select(['assets']).where('design_id', '=', designId.toLowerCase()).where('version', '=', version)
        .where('delete_after', '>', now.getTime()).executeTakeFirst());
    if (!row?.assets) return null;
    return (JSON.parse(row.assets) as PublishedRendition[]).find((asset) => asset.key === key) ?? null;
  }

  /** Forgets a superseded version once its objects are removed. */
  async forgetSuperseded(designId: string, version: string): Promise<void> {
    await this.run('forgetting superseded images', () =>
      this.db.deleteFrom('superseded_assets').where('design_id', '=', designId).where('version', '=', version).execute());
  }

  /** Versions of a design still waiting out their grace period (cleanup keeps them). */
  async supersededVersions(designIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const found = new Map<string, Set<string>>();
    for (const chunk of chunks(validIds(designIds))) {
      const rows = await this.run('reading superseded images', () =>
        this.db.selectFrom('superseded_assets').select(['design_id', 'version']).where('design_id', 'in', chunk).execute());
      for (const row of rows) {
        if (!found.has(row.design_id)) found.set(row.design_id, new Set());
        found.get(row.design_id)!.add(row.version);
      }
    }
    return found;
  }

  /**
   * Sets the owner's design's watermark flag. Unchanged: the design as it is. Changed: the
   * design is queued for a re-render as requestRerender does (PUBLISHED or FAILED → PENDING,
   * print files invalidated); a PENDING design keeps waiting (its render reads the flag when
   * it starts). Null when the owner has no such design; throws AppError DESIGN_BUSY while it
   * is RENDERING (its render already read the old flag): try again once it is done.
   */
  async setWatermark(id: string, ownerId: string, watermark: boolean): Promise<{ design: Design; changed: boolean } | null> {
    if (!isDesignId(id)) return null;
    const flag = watermark ? 1 : 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.findByIdForOwner(id, ownerId);
      if (!current) return null;
      if (current.watermark === watermark) return { design: current, changed: false };
      if (current.status === 'RENDERING') {
        throw new AppError('DESIGN_BUSY', `Design ${current.id} is being rendered right now; send the change again in a few seconds, once it is PUBLISHED or FAILED.`, { field: 'watermark', retryable: true, details: { designId: current.id } });
      }
      const updated = await this.updateLive(id, 'changing the watermark', (query, now) =>
        query
          .set(current.status === 'PENDING'
            ? { watermark: flag, updated_at: now }
            : { watermark: flag, status: 'PENDING', attempts: 0, error: null, lease_until: null, updated_at: now, ...PRINT_RESET })
          .where('owner_id', '=', ownerId)
          .where('status', '=', current.status)
          .where('watermark', '=', current.watermark ? 1 : 0));
      if (updated) return { design: updated, changed: true };
    }
    throw new AppError('DESIGN_CONTENDED', `Design ${id} changed repeatedly while its watermark was changed; try again.`, { retryable: true, details: { designId: id } });
  }

  /** RENDERING → FAILED with the error a user can act on; clears the lease. Null if not RENDERING. */
  async markFailed(id: string, error: string): Promise<Design | null> {
    return this.updateLive(id, 'marking a design failed', (query, now) =>
      query.set({ status: 'FAILED', error, lease_until: null, updated_at: now }).where('status', '=', 'RENDERING'));
  }

  /**
   * PUBLISHED or FAILED → PENDING, attempts back to 0, error cleared (the old keys and
   * published_at stay until the new render replaces them). The print files are invalidated:
   * print_status back to NONE, their keys forgotten (the caller removes the files); a print
   * job still running loses its lease, so it cannot record READY. Null when the design does not
   * exist or is not the owner's; throws INVALID_STATUS_TRANSITION when it is PENDING or
   * RENDERING.
   */
  async requestRerender(id: string, ownerId: string): Promise<Design | null> {
    if (!isDesignId(id)) return null;
    // The CAS can lose to a concurrent change between the UPDATE and the read that explains
    // the refusal; re-read and retry a few times rather than report a stale reason.
    for (let attempt = 0; attempt < 3; attempt++) {
      const updated = await this.updateLive(id, 'requesting a re-render', (query, now) =>
        query
          // A re-render invalidates the print files: they would no longer match the preview.
          .set({ status: 'PENDING', attempts: 0, error: null, lease_until: null, updated_at: now, ...PRINT_RESET })
          .where('owner_id', '=', ownerId)
          .where('status', 'in', ['PUBLISHED', 'FAILED']));
      if (updated) return updated;
      const current = await this.findByIdForOwner(id, ownerId);
      if (!current) return null;
      assertTransition(current, 'PENDING', this.clock());
    }
    throw new AppError('DESIGN_CONTENDED', `Design ${id} changed status repeatedly while a re-render was requested; try again.`, { retryable: true, details: { designId: id } });
  }

  /**
   * The first step of a DELETE: marks the owner's design deleted (`deleted_at`, kept if
   * already set, so a repeated DELETE finishes the same deletion) and returns the row as it
   * now is: its status and lease say whether a render may still be writing its files. Null
   * when the owner has no such design. Every other method here treats the design as gone
   * from this moment on; the row itself goes with removeTombstoned().
   */
  async tombstone(id: string, ownerId: string): Promise<Design | null> {
    if (!isDesignId(id)) return null;
    const now = this.clock().getTime();
    const row = await this.run('deleting a design', () =>
      this.db
        .updateTable('designs')
        .set((eb) => ({ deleted_at: eb.fn.coalesce('deleted_at', eb.val(now)) }))
        .where('id', '=', id.toLowerCase())
        .where('owner_id', '=', ownerId)
        .returningAll()
        .executeTakeFirst());
    return row ? this.changed(toDesign(row), true) : null;
  }

  /**
   * While a DELETE waits for a render: when the render lease on the tombstoned design ends,
   * or null when no render holds one (not RENDERING, lease ended or released, row gone).
   * A print job writes files under the same prefix, so its lease counts too: the later of the two.
   */
  async renderLeaseOfDeleted(id: string): Promise<Date | null> {
    if (!isDesignId(id)) return null;
    const row = await this.run('reading a deleted design', () =>
      this.db
        .selectFrom('designs')
        .select(['status', 'lease_until', 'print_status', 'print_lease_until'])
        .where('id', '=', id.toLowerCase())
        .where('deleted_at', 'is not', null)
        .executeTakeFirst());
    if (!row) return null;
    return laterLease(row.status === 'RENDERING' ? toDate(row.lease_until) : null, row.print_status === 'PENDING' ? toDate(row.print_lease_until) : null);
  }

  /**
   * A render that found its design deleted, and removed what it wrote, gives up its lease so
   * the waiting DELETE goes on at once. `leaseUntil` is the lease its claim returned: an older
   * render whose lease was taken over cannot end the newer render's. True when it was ended.
   */
  async endRenderLeaseOfDeleted(id: string, leaseUntil: Date): Promise<boolean> {
    if (!isDesignId(id)) return false;
    const result = await this.run('ending the render lease of a deleted design', () =>
      this.db
        .updateTable('designs')
        .set({ lease_until: null })
        .where('id', '=', id.toLowerCase())
        .where('deleted_at', 'is not', null)
        .where('lease_until', '=', leaseUntil.getTime())
        .executeTakeFirst());
    return result.numUpdatedRows > 0n;
  }

  /** The last step of a DELETE, once the files are gone: removes the tombstoned row. True when a row was removed. */
  async removeTombstoned(id: string): Promise<boolean> {
    if (!isDesignId(id)) return false;
    const result = await this.run('deleting a design', () =>
      this.db.deleteFrom('designs').where('id', '=', id.toLowerCase()).where('deleted_at', 'is not', null).executeTakeFirst());
    return result.numDeletedRows > 0n;
  }

  /**
   * Designs tombstoned before `before` whose DELETE did not finish (its process died, or
   * storage failed), oldest first, with status and lease as tombstone() returns them.
   */
  async findTombstoned(before: Date, limit = MAX_LIST_LIMIT): Promise<Design[]> {
    const rows = await this.run('finding unfinished deletions', () =>
      this.db
        .selectFrom('designs')
        .selectAll()
        .where('deleted_at', 'is not', null)
        .where('deleted_at', '<', before.getTime())
        .orderBy('deleted_at', 'asc')
        .limit(limit)
        .execute());
    return rows.map(toDesign);
  }

  /**
   * Designs whose render job was probably lost, oldest update first: PENDING and untouched
   * since `pendingBefore` (unless waiting for their image upload, which queues them itself), or RENDERING with an expired lease (the worker crashed). Used by
   * the sweep that re-enqueues them and by crash recovery at start.
   */
  async findStale(options: FindStaleOptions): Promise<Design[]> {
    const limit = options.limit ?? MAX_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new ValidationError('INVALID_LIMIT', `limit must be a positive whole number, got ${limit}`, 'limit');
    }
    const pendingBefore = options.pendingBefore.getTime();
    const leaseExpiredBefore = (options.leaseExpiredBefore ?? this.clock()).getTime();
    const rows = await this.run('finding stale designs', () =>
      this.db
        .selectFrom('designs')
        .selectAll()
        .where('deleted_at', 'is', null)
        .where((eb) =>
          eb.or([
            eb.and([
              eb('status', '=', 'PENDING'),
              eb('updated_at', '<', pendingBefore),
              // Not a design waiting for its image upload to be checked: the upload's publish
              // queues it, and sweeping it would only claim it and give it back, again and again.
              eb.not(eb.exists(eb.selectFrom('uploads').select('uploads.id')
                .whereRef('uploads.id', '=', 'designs.upload_id')
                .where('uploads.status', 'in', ['RECEIVED', 'SCANNING', 'CLEAN']))),
            ]),
            eb.and([eb('status', '=', 'RENDERING'), eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', leaseExpiredBefore)])]),
          ]))
        .orderBy('updated_at', 'asc')
        .orderBy('id', 'asc')
        .limit(limit)
        .execute());
    return rows.map(toDesign);
  }

  /**
   * Live designs whose image is `uploadId`, oldest first, at most `limit`: what an upload's
   * DELETE names when it refuses (409). Tombstoned designs are left out (their deletion
   * finishes on its own); they still hold the foreign key until their row is removed.
   */
  async idsUsingUpload(uploadId: string, limit = 20): Promise<string[]> {
    const rows = await this.run('finding designs that use an upload', () =>
      this.db.selectFrom('designs').select('id').where('upload_id', '=', uploadId.toLowerCase()).where('deleted_at', 'is', null)
        .orderBy('created_at', 'asc').orderBy('id', 'asc').limit(limit).execute());
    return rows.map((row) => row.id);
  }

  /**
   * PENDING designs whose image is `uploadId`: the ones to queue once the upload is
   * published or rejected (they waited for it; see returnToWaiting and findStale).
   */
  async idsWaitingForUpload(uploadId: string): Promise<string[]> {
    const rows = await this.run('finding designs waiting for an upload', () =>
      this.db.selectFrom('designs').select('id').where('upload_id', '=', uploadId.toLowerCase()).where('status', '=', 'PENDING').where('deleted_at', 'is', null).execute());
    return rows.map((row) => row.id);
  }

  /**
   * A render that claimed a design whose image upload is still being checked gives it back:
   * RENDERING → PENDING with the claim's attempt uncounted, no lease, no error. `leaseUntil` is
   * the lease its claim returned, so a render whose lease was taken over changes nothing.
   * The sweep leaves such a design alone until its upload is done (see findStale); the
   * upload's publish (or rejection) queues it. Null when the CAS lost.
   */
  async returnToWaiting(id: string, leaseUntil: Date): Promise<Design | null> {
    return this.updateLive(id, 'returning a design to wait for its image', (query, now) =>
      query
        .set((eb) => ({ status: 'PENDING', attempts: eb('attempts', '-', 1), lease_until: null, error: null, updated_at: now }))
        .where('status', '=', 'RENDERING')
        .where('lease_until', '=', leaseUntil.getTime())
        .where('attempts', '>', 0));
  }

  // -------------------------------------------------------------------------------------
  // Print files (issue #12): the render's ideas again, on the print columns. A request is a
  // compare-and-set (two at once: one wins, the other sees PENDING); a claim counts an
  // attempt and takes a lease; a result is recorded only by the claim that holds the lease
  // (`print_lease_until` equal to what the claim returned), so a re-render (which resets the
  // print) or a takeover after an expired lease makes a late job's record match nothing.

  /**
   * PUBLISHED design, print NONE or FAILED → print PENDING (attempts 0, message cleared,
   * requested now). Null when nothing changed: the design is missing, not the owner's (when
   * `ownerId` is given), not PUBLISHED, or its print is already PENDING or READY; the caller
   * reads the design to tell which.
   */
  async requestPrint(id: string, ownerId?: string): Promise<Design | null> {
    return this.updateLive(id, 'requesting print files', (query, now) => {
      let update = query
        .set({ print_status: 'PENDING', print_message: null, print_attempts: 0, print_lease_until: null, print_requested_at: now, updated_at: now })
        .where('status', '=', 'PUBLISHED')
        .where('print_status', 'in', ['NONE', 'FAILED']);
      if (ownerId !== undefined) update = update.where('owner_id', '=', ownerId);
      return update;
    });
  }

  /**
   * Print PENDING with no live lease, on a PUBLISHED design → claimed: counts the attempt and
   * leases the print job until now + leaseMs. Null when there is nothing to print or another
   * worker holds the lease.
   */
  async claimForPrinting(id: string, leaseMs: number): Promise<Design | null> {
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw new ValidationError('INVALID_LEASE', `leaseMs must be a positive number of milliseconds, got ${leaseMs}`, 'leaseMs');
    }
    return this.updateLive(id, 'claiming a design for printing', (query, now) =>
      query
        .set((eb) => ({ print_attempts: eb('print_attempts', '+', 1), print_lease_until: now + Math.ceil(leaseMs), updated_at: now }))
        .where('status', '=', 'PUBLISHED')
        .where('print_status', '=', 'PENDING')
        .where((eb) => eb.or([eb('print_lease_until', 'is', null), eb('print_lease_until', '<=', now)])));
  }

  /** Between retries: stays PENDING, records the error, ends the lease now. Null when the claim was lost. */
  async releasePrintLease(id: string, leaseUntil: Date, message: string): Promise<Design | null> {
    return this.updateLive(id, 'releasing a print lease', (query, now) =>
      query.set({ print_lease_until: now, print_message: message, updated_at: now })
        .where('print_status', '=', 'PENDING').where('print_lease_until', '=', leaseUntil.getTime()));
  }

  /** PENDING → READY with the stored files' keys and the warnings. Null when the claim was lost (re-render, takeover, deletion). */
  async markPrintReady(id: string, leaseUntil: Date, assets: PrintAssets): Promise<Design | null> {
    return this.updateLive(id, 'recording print files', (query, now) =>
      query
        .set({
          print_status: 'READY', print_pdf_key: assets.pdfKey, print_png_key: assets.pngKey, print_warnings: JSON.stringify(assets.warnings),
          print_message: null, print_lease_until: null, updated_at: now,
        })
        .where('print_status', '=', 'PENDING').where('print_lease_until', '=', leaseUntil.getTime()));
  }

  /** PENDING → FAILED with a message a user can act on. Null when the claim was lost. */
  async markPrintFailed(id: string, leaseUntil: Date, message: string): Promise<Design | null> {
    return this.updateLive(id, 'marking print files failed', (query, now) =>
      query.set({ print_status: 'FAILED', print_message: message, print_lease_until: null, updated_at: now })
        .where('print_status', '=', 'PENDING').where('print_lease_until', '=', leaseUntil.getTime()));
  }

  /**
   * A print job that found its design deleted gives up its lease so the waiting DELETE goes
   * on at once (as endRenderLeaseOfDeleted). True when it was ended.
   */
  async endPrintLeaseOfDeleted(id: string, leaseUntil: Date): Promise<boolean> {
    if (!isDesignId(id)) return false;
    const result = await this.run('ending the print lease of a deleted design', () =>
      this.db.updateTable('designs').set({ print_lease_until: null })
        .where('id', '=', id.toLowerCase()).where('deleted_at', 'is not', null)
        .where('print_lease_until', '=', leaseUntil.getTime()).executeTakeFirst());
    return result.numUpdatedRows > 0n;
  }

  /**
   * Ids of designs whose print job was probably lost, oldest request first: print PENDING,
   * unclaimed and requested before `requestedBefore`, or claimed with a lease that ended
   * (a crashed worker). For the sweep and crash recovery at start.
   */
  async findStalePrints(requestedBefore: Date, limit = MAX_LIST_LIMIT): Promise<string[]> {
    const now = this.clock().getTime();
    const rows = await this.run('finding stale print jobs', () =>
      this.db.selectFrom('designs').select('id')
        .where('print_status', '=', 'PENDING').where('deleted_at', 'is', null).where('status', '=', 'PUBLISHED')
        .where((eb) => eb.or([
          eb.and([eb('print_lease_until', 'is', null), eb('print_requested_at', '<', requestedBefore.getTime())]),
          eb('print_lease_until', '<=', now),
        ]))
        .orderBy('print_requested_at', 'asc').orderBy('id', 'asc').limit(limit).execute());
    return rows.map((row) => row.id);
  }

  /** The designs among `ids` that exist, in no particular order. Ids that are not UUIDs are ignored. */
  async findByIds(ids: readonly string[]): Promise<Design[]> {
    const designs: Design[] = [];
    for (const chunk of chunks(validIds(ids))) {
      const rows = await this.run('reading designs', () => this.db.selectFrom('designs').selectAll().where('id', 'in', chunk).where('deleted_at', 'is', null).execute());
      designs.push(...rows.map(toDesign));
    }
    return designs;
  }

  /**
   * After a cleanup deleted their stored objects: forgets the keys and records why. The
   * status is left alone. Returns how many designs were updated.
   */
  async clearAssets(ids: readonly string[]): Promise<number> {
    const now = this.clock().getTime();
    let updated = 0;
    for (const chunk of chunks(validIds(ids))) {
      const result = await this.run('clearing design assets', () =>
        this.db
          .updateTable('designs')
          .set({ preview_key: null, thumbnail_key: null, asset_version: null, assets: null, error: ASSETS_REMOVED_ERROR, updated_at: now, ...PRINT_RESET })
          .where('id', 'in', chunk)
          .where('deleted_at', 'is', null)
          .executeTakeFirst());
      updated += Number(result.numUpdatedRows);
    }
    return updated;
  }

  /** Which of `ids` have a live design (lowercased), for finding orphaned stored objects: a tombstoned design's files are orphans. */
  async existingIds(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const chunk of chunks(validIds(ids))) {
      const rows = await this.run('checking design ids', () => this.db.selectFrom('designs').select('id').where('id', 'in', chunk).where('deleted_at', 'is', null).execute());
      for (const row of rows) found.add(row.id);
    }
    return found;
  }

  /** Number of designs in each status, every status present (0 when none), for metrics. */
  async countByStatus(): Promise<Record<DesignStatus, number>> {
    const rows = await this.run('counting designs', () =>
      this.db.selectFrom('designs').select((eb) => ['status', eb.fn.countAll<number | string | bigint>().as('count')]).where('deleted_at', 'is', null).groupBy('status').execute());
    const counts = Object.fromEntries(DESIGN_STATUSES.map((status) => [status, 0])) as Record<DesignStatus, number>;
    for (const row of rows) {
      if (isDesignStatus(row.status)) counts[row.status] = Number(row.count);
    }
    return counts;
  }

  /**
   * One compare-and-set on a live (not tombstoned) design: `update` adds what to set and the
   * conditions that must hold, given the time now. Every status change goes through here, so
   * none can write to a deleted design. Null when no row matched.
   */
  private async updateLive(
    id: string,
    operation: string,
    update: (query: DesignUpdate, now: number) => DesignUpdate,
  ): Promise<Design | null> {
    if (!isDesignId(id)) return null;
    const now = this.clock().getTime();
    const live = this.db.updateTable('designs').where('id', '=', id.toLowerCase()).where('deleted_at', 'is', null);
    const row = await this.run(operation, () => update(live, now).returningAll().executeTakeFirst());
    return row ? this.changed(toDesign(row)) : null;
  }

  /** Tells onChange of a committed change and returns the design; a listener that throws cannot fail it. */
  private changed(design: Design, deleted = false): Design {
    tell(this.onChange, { kind: 'design', design, deleted });
    return design;
  }

  private async run<T>(operation: string, query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw databaseError(operation, error);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Rows ↔ entity: the one place that knows the column names and encodings.

function toRow(design: Design): NewDesignRow {
  return {
    id: design.id,
    owner_id: design.ownerId,
    product_type: design.productType,
    design_data: JSON.stringify(design.designData),
    status: design.status,
    preview_key: design.previewKey,
    thumbnail_key: design.thumbnailKey,
    error: design.error,
    attempts: design.attempts,
    lease_until: design.leaseUntil?.getTime() ?? null,
    created_at: design.createdAt.getTime(),
    updated_at: design.updatedAt.getTime(),
    published_at: design.publishedAt?.getTime() ?? null,
    upload_id: design.uploadId,
    print_status: design.print.status,
    print_message: design.print.message,
    print_pdf_key: design.print.pdfKey,
    print_png_key: design.print.pngKey,
    print_warnings: design.print.status === 'READY' ? JSON.stringify(design.print.warnings) : null,
    print_attempts: design.print.attempts,
    print_lease_until: design.print.leaseUntil?.getTime() ?? null,
    print_requested_at: design.print.requestedAt?.getTime() ?? null,
    asset_version: design.assetVersion,
    assets: design.assets.length > 0 ? JSON.stringify(design.assets) : null,
    watermark: design.watermark ? 1 : 0,
  };
}

function toDesign(row: DesignRow): Design {
  if (!isDesignStatus(row.status)) {
    throw new AppError('DATABASE_ERROR', `Design ${row.id} has an unknown status ${JSON.stringify(row.status)} in the database.`, { details: { designId: row.id } });
  }
  return {
    id: row.id,
    ownerId: row.owner_id,
    productType: row.product_type,
    designData: JSON.parse(row.design_data) as DesignData,
    status: row.status,
    previewKey: row.preview_key,
    thumbnailKey: row.thumbnail_key,
    error: row.error,
    attempts: Number(row.attempts),
    leaseUntil: toDate(row.lease_until),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    publishedAt: toDate(row.published_at),
    uploadId: row.upload_id,
    print: {
      status: isPrintStatus(row.print_status) ? row.print_status : 'NONE',
      message: row.print_message,
      pdfKey: row.print_pdf_key,
      pngKey: row.print_png_key,
      warnings: row.print_warnings === null ? [] : (JSON.parse(row.print_warnings) as StoredPrintWarning[]),
      attempts: Number(row.print_attempts),
      leaseUntil: toDate(row.print_lease_until),
      requestedAt: toDate(row.print_requested_at),
    },
    assetVersion: row.asset_version,
    assets: row.assets === null ? [] : (JSON.parse(row.assets) as PublishedRendition[]),
    watermark: Number(row.watermark) === 1,
  };
}

function laterLease(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return a.getTime() >= b.getTime() ? a : b;
}

function toDate(epochMs: number | null): Date | null {
  return epochMs === null ? null : new Date(Number(epochMs));
}

function validIds(ids: readonly string[]): string[] {
  return [...new Set(ids.filter((id) => isDesignId(id)).map((id) => id.toLowerCase()))];
}

function* chunks(ids: string[]): Generator<string[]> {
  for (let i = 0; i < ids.length; i += ID_CHUNK) yield ids.slice(i, i + ID_CHUNK);
}

// ---------------------------------------------------------------------------------------
// Driver errors → coded errors.

const TRANSIENT_CODES = new Set([
  'SQLITE_BUSY', 'SQLITE_LOCKED', // another process holds the write lock past busy_timeout
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN',
  '40001', '40P01', // serialization failure, deadlock
  '53300', '57P01', '57P02', '57P03', // too many connections, server shutting down / starting
  '08000', '08001', '08003', '08006', // connection exceptions
]);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isForeignKeyViolation(error: unknown): boolean {
  const code = errorCode(error);
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** The answer for an image upload that is not (or no longer) there: 404-style, naming the field. */
export function uploadNotFound(cause?: unknown): NotFoundError {
  return new NotFoundError('UPLOAD_NOT_FOUND', 'design_data.image.upload_id names no upload of yours: upload the image first (POST /api/v1/uploads) and use the id it returns.', {
    field: 'design_data.image.upload_id',
    ...(cause === undefined ? {} : { cause }),
  });
}

export function isUniqueViolation(error: unknown): boolean {
  const code = errorCode(error);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function isTransient(error: unknown): boolean {
  const code = errorCode(error);
  if (code !== undefined && TRANSIENT_CODES.has(code)) return true;
  return error instanceof Error && /Connection terminated|timeout exceeded when trying to connect/i.test(error.message);
}

/** A driver error as DATABASE_UNAVAILABLE (retryable) or DATABASE_ERROR; shared with the uploads repository. */
export function databaseError(operation: string, error: unknown): AppError {
  if (error instanceof AppError) return error;
  return isTransient(error)
    ? new AppError('DATABASE_UNAVAILABLE', `The database is unavailable while ${operation}: ${describeError(error)}. Retry shortly; check DATABASE_URL and that the server is up.`, { cause: error, retryable: true })
    : new AppError('DATABASE_ERROR', `Database error while ${operation}: ${describeError(error)}`, { cause: error });
}
