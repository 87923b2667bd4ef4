import type { Kysely } from 'kysely';

/**
 * Signed webhooks (issue #14): `webhook_deliveries`, the durable delivery log.
 *
 * One row per event (design.published, design.failed, upload.published, upload.rejected),
 * written before anything is sent and kept after: `customify webhooks list` reads it and
 * `customify webhooks replay` sends a row again.
 *
 * - `event_id`: the event's id (`evt_<time><random>`, sorts in the order events happened).
 * - (`subject_id`, `type`, `subject_version`) is unique: the same change recorded twice (by
 *   the state-change listener and by the reconciliation sweep) is one event.
 * - `status`: pending (to send, or sending), delivered, failed (gave up: 410 Gone, or
 *   WEBHOOK_MAX_AGE passed without a 2xx).
 * - `next_attempt_at`: not sent before this; `lease_until`: while a process is sending it,
 *   no other may (never two sends of one event at once).
 * - `window_started_at`: when retries started counting towards WEBHOOK_MAX_AGE (the event's
 *   time; a replay's time after a replay).
 *
 * Additive (a new table), so it runs on a live database.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('event_id', 'text', (col) => col.primaryKey())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('subject_id', 'text', (col) => col.notNull())
    .addColumn('subject_version', 'bigint', (col) => col.notNull())
    .addColumn('body', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('window_started_at', 'bigint', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (col) => col.notNull())
    .addColumn('lease_until', 'bigint')
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('delivered_at', 'bigint')
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addUniqueConstraint('webhook_deliveries_change_unique', ['subject_id', 'type', 'subject_version'])
    .execute();
  await db.schema.createIndex('webhook_deliveries_due_idx').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('webhook_deliveries_subject_idx').on('webhook_deliveries').columns(['subject_id', 'event_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('webhook_deliveries').execute();
}
