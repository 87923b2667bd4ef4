import { sql, type Kysely } from 'kysely';

/**
 * The uploads table (issue #11): one row per file a user sent, from RECEIVED to PUBLISHED or
 * REJECTED. Same conventions as designs: text UUID ids, epoch-ms `bigint` timestamps, a
 * lease for the worker that runs the pipeline. A migration is history: values spelled out.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('uploads')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('owner_id', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull().defaultTo('RECEIVED'))
    .addColumn('reason', 'text')
    .addColumn('message', 'text')
    .addColumn('filename', 'text')
    .addColumn('staging_key', 'text')
    .addColumn('original_key', 'text')
    .addColumn('content_type', 'text')
    .addColumn('bytes', 'bigint')
    .addColumn('width', 'integer')
    .addColumn('height', 'integer')
    .addColumn('scan', 'text')
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('lease_until', 'bigint')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addColumn('published_at', 'bigint')
    .addCheckConstraint('uploads_status_check', sql`status in ('RECEIVED', 'SCANNING', 'CLEAN', 'PUBLISHED', 'REJECTED')`)
    .addCheckConstraint('uploads_kind_check', sql`kind in ('design-image')`)
    .addCheckConstraint('uploads_reason_check', sql`reason is null or reason in ('INFECTED', 'UNSUPPORTED_TYPE', 'TOO_LARGE', 'TOO_MANY_PIXELS', 'CORRUPT')`)
    .execute();
  // Listing mine: WHERE owner_id = ? ORDER BY created_at DESC, id DESC (keyset pagination).
  await db.schema.createIndex('uploads_owner_created_idx').on('uploads').columns(['owner_id', 'created_at', 'id']).execute();
  // The sweep: WHERE status IN (RECEIVED, SCANNING, CLEAN) AND updated_at < ?.
  await db.schema.createIndex('uploads_status_updated_idx').on('uploads').columns(['status', 'updated_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('uploads').execute();
}
