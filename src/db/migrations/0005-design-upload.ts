import { sql, type Kysely } from 'kysely';

/**
 * `designs.upload_id`: the upload a design's image comes from (`design_data.image.upload_id`),
 * null for a design without an image. A foreign key to `uploads(id)`, so the database itself
 * refuses to delete an upload a design still uses, and to record a design that uses an upload
 * deleted a moment before: of a DELETE of the upload racing a POST of a design that uses it,
 * one fails, whatever the interleaving (PostgreSQL locks the referenced row; SQLite has one
 * writer; its `foreign_keys` pragma is on for every connection, see database.ts).
 *
 * The index serves the upload's 409 check ("which designs use it?") and waking the designs
 * that wait for it to be published; it also makes the foreign key's own check on DELETE cheap.
 * It holds only designs with an image. Additive (a nullable column), so it runs on a live table.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('designs').addColumn('upload_id', 'text', (col) => col.references('uploads.id')).execute();
  await db.schema.createIndex('designs_upload_idx').on('designs').column('upload_id').where(sql.ref('upload_id'), 'is not', null).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('designs_upload_idx').execute();
  await db.schema.alterTable('designs').dropColumn('upload_id').execute();
}
