import { sql, type Kysely } from 'kysely';

/**
 * `deleted_at`: the tombstone a DELETE writes before it removes anything (see
 * src/designs/design-deletion.ts). A tombstoned design is hidden from the API, can no longer
 * be claimed, published or re-rendered, and its row is removed once its files are. The
 * partial index serves the sweep that finishes deletes a crashed process left half done;
 * it stays empty in normal operation. Additive, so it runs on a live table in both dialects.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('designs').addColumn('deleted_at', 'bigint').execute();
  await db.schema.createIndex('designs_deleted_idx').on('designs').column('deleted_at').where(sql.ref('deleted_at'), 'is not', null).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('designs_deleted_idx').execute();
  await db.schema.alterTable('designs').dropColumn('deleted_at').execute();
}
