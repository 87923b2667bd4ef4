import { SqliteAdapter, sql, type Kysely } from 'kysely';

/**
 * Avatars (issue #11), as uploads of a second kind plus one pointer per user:
 *
 * - `uploads.kind` may be 'avatar' as well as 'design-image'. An avatar attempt is an upload
 *   row like any other, so the pipeline (claim, lease, scan, retry, sweep) is the same one.
 * - `avatars(user_id → upload_id)`: the user's current avatar, a PUBLISHED avatar upload.
 *   Publishing a new one moves the pointer in the same transaction that marks it PUBLISHED,
 *   so "last published wins" is one row's last write, and older attempts are cleaned up
 *   after (src/avatars/avatar-repository.ts).
 *
 * The check constraint cannot be altered in SQLite. There the table is rebuilt with SQLite's
 * documented procedure (https://www.sqlite.org/lang_altertable.html#otheralter: create the
 * new table, copy, drop, rename, recreate the indexes), inside the transaction the migrator
 * holds (src/db/migrate.ts), so a failure leaves the old table as it was. No foreign key
 * references `uploads` at this point, so dropping it breaks nothing. PostgreSQL replaces the
 * constraint in place. A migration is history: the columns are those of 0003, spelled out.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await setKinds(db, ['design-image', 'avatar']);
  await db.schema
    .createTable('avatars')
    .addColumn('user_id', 'text', (col) => col.primaryKey())
    .addColumn('upload_id', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .execute();
  // Finding a user's attempts: WHERE owner_id = ? AND kind = 'avatar' ORDER BY created_at DESC
  // is served by uploads_owner_created_idx (owner_id, created_at, id).
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('avatars').execute();
  await db.deleteFrom('uploads' as never).where(sql.ref('kind'), '=', 'avatar').execute();
  await setKinds(db, ['design-image']);
}

async function setKinds(db: Kysely<unknown>, kinds: string[]): Promise<void> {
  const check = sql`kind in (${sql.join(kinds.map((k) => sql.lit(k)))})`;
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    await db.schema.alterTable('uploads').dropConstraint('uploads_kind_check').execute();
    await db.schema.alterTable('uploads').addCheckConstraint('uploads_kind_check', check).execute();
    return;
  }
  await db.schema
    .createTable('uploads_rebuilt')
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
    .addCheckConstraint('uploads_kind_check', check)
    .addCheckConstraint('uploads_reason_check', sql`reason is null or reason in ('INFECTED', 'UNSUPPORTED_TYPE', 'TOO_LARGE', 'TOO_MANY_PIXELS', 'CORRUPT')`)
    .execute();
  const columns = sql.raw([
    'id', 'owner_id', 'kind', 'status', 'reason', 'message', 'filename', 'staging_key', 'original_key', 'content_type',
    'bytes', 'width', 'height', 'scan', 'attempts', 'lease_until', 'created_at', 'updated_at', 'published_at',
  ].join(', '));
  await sql`insert into uploads_rebuilt (${columns}) select ${columns} from uploads`.execute(db);
  await db.schema.dropTable('uploads').execute();
  await db.schema.alterTable('uploads_rebuilt').renameTo('uploads').execute();
  // The indexes of 0003, dropped with the old table.
  await db.schema.createIndex('uploads_owner_created_idx').on('uploads').columns(['owner_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('uploads_status_updated_idx').on('uploads').columns(['status', 'updated_at']).execute();
}
