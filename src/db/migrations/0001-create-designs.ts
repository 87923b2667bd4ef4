import { sql, type Kysely } from 'kysely';

/**
 * The designs table, identical in SQLite and PostgreSQL: text ids and JSON, epoch-ms
 * `bigint` timestamps (INTEGER affinity in SQLite). A migration is history: it spells
 * out its values rather than importing today's domain constants.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('designs')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('owner_id', 'text', (col) => col.notNull())
    .addColumn('product_type', 'text', (col) => col.notNull())
    .addColumn('design_data', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull().defaultTo('PENDING'))
    .addColumn('preview_key', 'text')
    .addColumn('thumbnail_key', 'text')
    .addColumn('error', 'text')
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('lease_until', 'bigint')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addColumn('published_at', 'bigint')
    .addCheckConstraint('designs_status_check', sql`status in ('PENDING', 'RENDERING', 'PUBLISHED', 'FAILED')`)
    .addCheckConstraint('designs_attempts_check', sql`attempts >= 0`)
    .execute();

  // listByOwner: WHERE owner_id = ? ORDER BY created_at DESC, id DESC (keyset pagination).
  await db.schema.createIndex('designs_owner_created_idx').on('designs').columns(['owner_id', 'created_at', 'id']).execute();
  // findStale and sweeps: WHERE status = ? AND updated_at < ?.
  await db.schema.createIndex('designs_status_updated_idx').on('designs').columns(['status', 'updated_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('designs').execute();
}
