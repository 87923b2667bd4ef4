import type { Kysely } from 'kysely';

/**
 * `superseded_assets.assets`: the manifest of the version a re-render replaced (JSON text, the
 * design's `assets` as they were: name, format, key, size, watermark), so that a file of that
 * version never requested before it was replaced is still made on request during the grace
 * period, with the watermark it would have had; pages still showing the old version keep
 * working whichever of its URLs they hold. Null for rows written before this column.
 *
 * Additive (a nullable column), so it runs on a live table.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('superseded_assets').addColumn('assets', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('superseded_assets').dropColumn('assets').execute();
}
