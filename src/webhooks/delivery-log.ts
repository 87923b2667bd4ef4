import type { Selectable, Updateable } from 'kysely';
import type { Database } from '../db/database.js';
import type { WebhookDeliveriesTable } from '../db/schema.js';
import { ASSETS_REMOVED_ERROR, databaseError } from '../designs/design-repository.js';
import type { WebhookEventType } from './webhook-event.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event's delivery, as the log holds it. */
export interface Delivery {
  eventId: string;
  type: WebhookEventType;
  subjectId: string;
  /** The JSON body exactly as sent. */
  body: string;
  createdAt: Date;
  windowStartedAt: Date;
  status: DeliveryStatus;
  /** Sends tried (each counted once its outcome is recorded). */
  attempts: number;
  nextAttemptAt: Date;
  /** Set while a process is sending it. */
  leaseUntil: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
}

export interface NewEvent {
  eventId: string;
  type: WebhookEventType;
  subjectId: string;
  subjectVersion: number;
  body: string;
  createdAt: Date;
}

/** A change the reconciliation sweep found with no event recorded for it. */
/** A change with no event recorded: its subject, and the event's key and time as the row says them. */
export interface UnrecordedChange {
  kind: 'design' | 'upload';
  id: string;
  type: WebhookEventType;
  /** The `subjectVersion` the change is recorded under (see `describeChange`). */
  version: number;
  occurredAt: Date;
}

const LAST_ERROR_MAX = 1000;

/**
 * The webhook_deliveries table (migration 0008): every event, recorded before it is sent.
 *
 * - `record` inserts once per change (`subject_id`, `type`, `subject_version` is unique):
 *   recording a change already recorded does nothing and says so.
 * - `claim` is one compare-and-set UPDATE: the row must be pending, due, not leased by another
 *   process, and (unless replayed) the oldest pending event of its design or upload. It sets
 *   `lease_until`; every outcome is recorded only while that lease is still the row's, so a
 *   process that lost its lease cannot overwrite what another recorded.
 *
 * Errors: database failures as DATABASE_UNAVAILABLE (retryable) or DATABASE_ERROR.
 */
export class WebhookDeliveryLog {
  constructor(private readonly db: Database) {}

  /** Records the event, due at once; false when this change was recorded already (by another id). */
  async record(event: NewEvent, now: number): Promise<boolean> {
    const result = await this.run('recording a webhook event', () =>
      this.db.insertInto('webhook_deliveries').values({
        event_id: event.eventId, type: event.type, subject_id: event.subjectId, subject_version: event.subjectVersion,
        body: event.body, created_at: event.createdAt.getTime(), window_started_at: event.createdAt.getTime(),
        status: 'pending', attempts: 0, next_attempt_at: now, updated_at: now,
      })
        .onConflict((oc) => oc.columns(['subject_id', 'type', 'subject_version']).doNothing())
        .returning('event_id')
        .executeTakeFirst());
    return result !== undefined;
  }

  /**
   * Takes the event for one send until `leaseUntil`, or null when it is not pending, not due,
   * being sent by another process, or (with `inOrder`) waits behind an older pending event of
   * the same design or upload.
   */
  async claim(eventId: string, now: number, leaseUntil: number, options: { inOrder: boolean }): Promise<Delivery | null> {
    const row = await this.run('claiming a webhook delivery', () => {
      let query = this.db.updateTable('webhook_deliveries')
        .set({ lease_until: leaseUntil, updated_at: now })
        .where('event_id', '=', eventId)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]));
      if (options.inOrder) {
        query = query.where((eb) => eb.not(eb.exists(
          eb.selectFrom('webhook_deliveries as earlier').select('earlier.event_id')
            .whereRef('earlier.subject_id', '=', 'webhook_deliveries.subject_id')
            .whereRef('earlier.event_id', '<', 'webhook_deliveries.event_id')
            .where('earlier.status', '=', 'pending'))));
      }
      return query.returningAll().executeTakeFirst();
    });
    return row ? toDelivery(row) : null;
  }

  /** A 2xx: delivered, never sent again unless replayed. */
  async delivered(claim: Delivery, now: number, statusCode: number): Promise<boolean> {
    return this.finish(claim, { status: 'delivered', attempts: claim.attempts + 1, last_status_code: statusCode, last_error: null, delivered_at: now, updated_at: now });
  }

  /** A failed send that will be tried again at `nextAttemptAt`. */
  async retryLater(claim: Delivery, now: number, nextAttemptAt: number, statusCode: number | null, error: string): Promise<boolean> {
    return this.finish(claim, { attempts: claim.attempts + 1, next_attempt_at: nextAttemptAt, last_status_code: statusCode, last_error: clip(error), updated_at: now });
  }

  /** Given up (410 Gone, or WEBHOOK_MAX_AGE passed): status failed, kept for the log and for replay. */
  async giveUp(claim: Delivery, now: number, statusCode: number | null, error: string, sent: boolean): Promise<boolean> {
    return this.finish(claim, { status: 'failed', attempts: claim.attempts + (sent ? 1 : 0), last_status_code: statusCode, last_error: clip(error), updated_at: now });
  }

  private async finish(claim: Delivery, set: Updateable<WebhookDeliveriesTable>): Promise<boolean> {
    const result = await this.run('recording a webhook delivery', () =>
      this.db.updateTable('webhook_deliveries').set({ ...set, lease_until: null })
        .where('event_id', '=', claim.eventId).where('status', '=', 'pending')
        .where('lease_until', '=', claim.leaseUntil!.getTime())
        .executeTakeFirst());
    return Number(result.numUpdatedRows) > 0;
  }

  /** Pending events that are due, not being sent, and first in line for their subject, oldest first. */
  async due(now: number, limit = 100): Promise<string[]> {
    const rows = await this.run('reading due webhook deliveries', () =>
      this.db.selectFrom('webhook_deliveries as d').select('d.event_id')
        .where('d.status', '=', 'pending').where('d.next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<=', now)]))
        .where((eb) => eb.not(eb.exists(
          eb.selectFrom('webhook_deliveries as earlier').select('earlier.event_id')
            .whereRef('earlier.subject_id', '=', 'd.subject_id')
            .whereRef('earlier.event_id', '<', 'd.event_id')
            .where('earlier.status', '=', 'pending'))))
        .orderBy('d.event_id').limit(limit).execute());
    return rows.map((row) => row.event_id);
  }

  /** The most recent events first. */
  async list(limit = 50): Promise<Delivery[]> {
    const rows = await this.run('listing webhook deliveries', () =>
      this.db.selectFrom('webhook_deliveries').selectAll().orderBy('event_id', 'desc').limit(limit).execute());
    return rows.map(toDelivery);
  }

  async find(eventId: string): Promise<Delivery | null> {
    const row = await this.run('reading a webhook delivery', () =>
      this.db.selectFrom('webhook_deliveries').selectAll().where('event_id', '=', eventId).executeTakeFirst());
    return row ? toDelivery(row) : null;
  }

  /**
   * Back to pending, due now, its retry window starting now (a replay): 'busy' while a process
   * is sending it (a replay never makes two sends at once), 'missing' for an unknown id.
   */
  async replay(eventId: string, now: number): Promise<'ready' | 'busy' | 'missing'> {
    const result = await this.run('replaying a webhook delivery', () =>
      this.db.updateTable('webhook_deliveries')
        .set({ status: 'pending', next_attempt_at: now, window_started_at: now, updated_at: now })
        .where('event_id', '=', eventId)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
        .executeTakeFirst());
    if (Number(result.numUpdatedRows) > 0) return 'ready';
    return (await this.find(eventId)) ? 'busy' : 'missing';
  }

  /**
   * Designs and uploads that ended (PUBLISHED or FAILED; PUBLISHED or REJECTED) at or after
   * `since` with no event recorded for that change: what a crash between the change's commit
   * and its recording left. Each comes with the event it lacks, keyed as describeChange() keys
   * the change that made it (a publish by published_at, a failure by updated_at, an upload's end
   * by 0), so the caller records exactly what matched: a design changed since its publish (a print
   * request moves updated_at on) still gets its design.published, and no row is found again and
   * again without being recorded. `updated_at >= since` on both design branches lets the
   * (status, updated_at) index serve the query (published_at <= updated_at, so it drops nothing).
   */
  async unrecorded(since: number, limit = 200): Promise<UnrecordedChange[]> {
    const designs = await this.run('finding unannounced designs', () =>
      this.db.selectFrom('designs as x').select(['x.id', 'x.status', 'x.published_at', 'x.updated_at']).where('x.deleted_at', 'is', null)
        .where((eb) => eb.or([
          eb.and([eb('x.status', '=', 'PUBLISHED'), eb('x.updated_at', '>=', since), eb('x.published_at', '>=', since), eb('x.published_at', '<=', eb.ref('x.updated_at')),
            eb.not(eb.exists(eb.selectFrom('webhook_deliveries as w').select('w.event_id')
              .whereRef('w.subject_id', '=', 'x.id').where('w.type', '=', 'design.published').whereRef('w.subject_version', '=', 'x.published_at')))]),
          eb.and([eb('x.status', '=', 'FAILED'), eb('x.updated_at', '>=', since),
            eb.or([eb('x.error', 'is', null), eb('x.error', '!=', ASSETS_REMOVED_ERROR)]),
            eb.not(eb.exists(eb.selectFrom('webhook_deliveries as w').select('w.event_id')
              .whereRef('w.subject_id', '=', 'x.id').where('w.type', '=', 'design.failed').whereRef('w.subject_version', '=', 'x.updated_at')))]),
        ]))
        .orderBy('x.updated_at').limit(limit).execute());
    const uploads = await this.run('finding unannounced uploads', () =>
      this.db.selectFrom('uploads as x').select(['x.id', 'x.status', 'x.published_at', 'x.updated_at'])
        .where('x.status', 'in', ['PUBLISHED', 'REJECTED']).where('x.updated_at', '>=', since)
        .where((eb) => eb.not(eb.exists(eb.selectFrom('webhook_deliveries as w').select('w.event_id')
          .whereRef('w.subject_id', '=', 'x.id').where('w.type', 'in', ['upload.published', 'upload.rejected']))))
        .orderBy('x.updated_at').limit(limit).execute());
    return [
      ...designs.map((row): UnrecordedChange => {
        const version = Number(row.status === 'PUBLISHED' ? row.published_at : row.updated_at);
        return { kind: 'design', id: row.id, type: row.status === 'PUBLISHED' ? 'design.published' : 'design.failed', version, occurredAt: new Date(version) };
      }),
      ...uploads.map((row): UnrecordedChange => ({
        kind: 'upload', id: row.id, type: row.status === 'PUBLISHED' ? 'upload.published' : 'upload.rejected', version: 0,
        occurredAt: new Date(Number(row.status === 'PUBLISHED' ? row.published_at ?? row.updated_at : row.updated_at)),
      })),
    ];
  }

  private async run<T>(operation: string, query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw databaseError(operation, error);
    }
  }
}

function clip(error: string): string {
  return error.length > LAST_ERROR_MAX ? `${error.slice(0, LAST_ERROR_MAX - 1)}…` : error;
}

const date = (ms: number | null) => (ms === null ? null : new Date(Number(ms)));

function toDelivery(row: Selectable<WebhookDeliveriesTable>): Delivery {
  return {
    eventId: row.event_id,
    type: row.type as WebhookEventType,
    subjectId: row.subject_id,
    body: row.body,
    createdAt: new Date(Number(row.created_at)),
    windowStartedAt: new Date(Number(row.window_started_at)),
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: new Date(Number(row.next_attempt_at)),
    leaseUntil: date(row.lease_until),
    lastStatusCode: row.last_status_code === null ? null : Number(row.last_status_code),
    lastError: row.last_error,
    deliveredAt: date(row.delivered_at),
  };
}
