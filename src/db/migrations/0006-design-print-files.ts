import { sql, type Kysely } from 'kysely';

/**
 * Print files of a design (issue #12): its own small state machine beside the render's,
 * `print_status` NONE → PENDING → READY | FAILED, with the same ideas as renders and one
 * implementation of each (src/designs/design-repository.ts): a claim is a compare-and-set
 * that counts an attempt (`print_attempts`) and takes a lease (`print_lease_until`, epoch ms);
 * the tombstone (`deleted_at`) stops every print transition as it stops renders.
 *
 * `print_pdf_key` / `print_png_key` are storage keys (never URLs: print files are private and
 * handed out as fresh signed URLs); `print_warnings` is JSON text (the renderer's
 * PrintWarning list); `print_message` says why a print FAILED (or, between retries, the last
 * error). `print_requested_at` is when the print was last asked for, so the sweep can find a
 * PENDING print whose job was lost.
 *
 * The index serves that sweep and holds only designs with a print in flight. Additive (new
 * columns, the NOT NULL one with a default), so it runs on a live table in both dialects.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('designs').addColumn('print_status', 'text', (col) => col.notNull().defaultTo('NONE')).execute();
  await db.schema.alterTable('designs').addColumn('print_message', 'text').execute();
  await db.schema.alterTable('designs').addColumn('print_pdf_key', 'text').execute();
  await db.schema.alterTable('designs').addColumn('print_png_key', 'text').execute();
  await db.schema.alterTable('designs').addColumn('print_warnings', 'text').execute();
  await db.schema.alterTable('designs').addColumn('print_attempts', 'integer', (col) => col.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('designs').addColumn('print_lease_until', 'bigint').execute();
  await db.schema.alterTable('designs').addColumn('print_requested_at', 'bigint').execute();
  await db.schema.createIndex('designs_print_pending_idx').on('designs').column('print_requested_at').where(sql.ref('print_status'), '=', 'PENDING').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('designs_print_pending_idx').execute();
  for (const column of ['print_requested_at', 'print_lease_until', 'print_attempts', 'print_warnings', 'print_png_key', 'print_pdf_key', 'print_message', 'print_status']) {
    await db.schema.alterTable('designs').dropColumn(column).execute();
  }
}
