import type { Kysely } from 'kysely';

/**
 * Immutable asset URLs, watermarks and CDN invalidation (issue #13).
 *
 * - `designs.asset_version`: the version folder of the design's published images
 *   (`designs/{id}/{asset_version}/{rendition}.{format}`); null for a design published before
 *   versions (its images are the seed's `designs/{id}/preview.png` and `thumbnail.png`).
 * - `designs.assets`: JSON text, the published renditions (name, format, key, pixel and byte
 *   size), so the API's `assets` costs no storage call.
 * - `designs.watermark`: 1 when the design's larger renditions carry the watermark.
 * - `superseded_assets`: versions a re-render replaced, kept until `delete_after` (the grace
 *   period) so pages still showing them keep working, then removed by the sweep.
 * - `cdn_invalidations`: paths whose cached copies must go (bytes removed or changed in place),
 *   a durable outbox: a CloudFront outage loses none of them, and a burst is one request.
 *
 * Additive (new columns, the NOT NULL one with a default; new tables), so it runs on a live table.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('designs').addColumn('asset_version', 'text').execute();
  await db.schema.alterTable('designs').addColumn('assets', 'text').execute();
  await db.schema.alterTable('designs').addColumn('watermark', 'integer', (col) => col.notNull().defaultTo(0)).execute();
  await db.schema
    .createTable('superseded_assets')
    .addColumn('design_id', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('keys', 'text', (col) => col.notNull())
    .addColumn('delete_after', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('superseded_assets_pk', ['design_id', 'version'])
    .execute();
  await db.schema.createIndex('superseded_assets_due_idx').on('superseded_assets').column('delete_after').execute();
  await db.schema
    .createTable('cdn_invalidations')
    .addColumn('path', 'text', (col) => col.primaryKey())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (col) => col.notNull())
    .addColumn('last_error', 'text')
    .execute();
  await db.schema.createIndex('cdn_invalidations_due_idx').on('cdn_invalidations').column('next_attempt_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('cdn_invalidations').execute();
  await db.schema.dropTable('superseded_assets').execute();
  for (const column of ['watermark', 'assets', 'asset_version']) {
    await db.schema.alterTable('designs').dropColumn(column).execute();
  }
}
