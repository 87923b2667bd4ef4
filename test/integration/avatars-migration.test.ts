import { Migrator, sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest, migrationProvider } from '../../src/db/migrate.js';
import { DIALECTS, createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';

/**
 * Migration 0004 on a table that already holds uploads: SQLite cannot alter a check
 * constraint, so the table is rebuilt; the rows, the other constraints and the indexes must
 * come through, and going down must work too.
 */

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.destroy();
  db = undefined;
});

async function migrator(handle: Kysely<unknown>, dialect: string): Promise<Migrator> {
  if (dialect === 'sqlite') return new Migrator({ db: handle, provider: migrationProvider });
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(handle);
  return new Migrator({ db: handle, provider: migrationProvider, migrationTableSchema: rows[0]!.schema });
}

function insert(handle: Kysely<unknown>, id: string, values: { kind?: string; status?: string } = {}) {
  return sql`insert into uploads (id, owner_id, kind, status, staging_key, bytes, attempts, created_at, updated_at)
    values (${id}, 'owner-1', ${values.kind ?? 'design-image'}, ${values.status ?? 'RECEIVED'}, ${`staging/${id}`}, 42, 3, 1000, 2000)`.execute(handle);
}

async function indexes(handle: Kysely<unknown>, dialect: string): Promise<string[]> {
  const query = dialect === 'sqlite'
    ? sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'uploads' and name not like 'sqlite_%'`
    : sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'uploads' and schemaname = current_schema() and indexname <> 'uploads_pkey'`;
  return (await query.execute(handle)).rows.map((r) => r.name).sort();
}

describe.each(DIALECTS)('migration 0004-avatars (%s)', (dialect) => {
  it.skipIf(skipDialect(dialect))('keeps existing uploads, their constraints and indexes; accepts kind avatar; goes down again', async () => {
    db = await createTestDatabase(dialect, { migrate: false });
    const handle = db.db as unknown as Kysely<unknown>;
    const steps = await migrator(handle, dialect);
    expect((await steps.migrateTo('0003-create-uploads')).error).toBeUndefined();
    await insert(handle, 'before-0004');
    await expect(insert(handle, 'avatar-at-0003', { kind: 'avatar' })).rejects.toThrow(/check/i);

    expect(await migrateToLatest(handle)).toMatchObject({ applied: expect.arrayContaining(['0004-avatars']) as unknown });
    const { rows } = await sql<Record<string, unknown>>`select id, owner_id, kind, status, staging_key, bytes, attempts, created_at, updated_at from uploads`.execute(handle);
    expect(rows.map((r) => ({ ...r, bytes: Number(r.bytes), created_at: Number(r.created_at), updated_at: Number(r.updated_at) }))).toEqual([
      { id: 'before-0004', owner_id: 'owner-1', kind: 'design-image', status: 'RECEIVED', staging_key: 'staging/before-0004', bytes: 42, attempts: 3, created_at: 1000, updated_at: 2000 },
    ]);
    await insert(handle, 'avatar-1', { kind: 'avatar' });
    await expect(insert(handle, 'other-kind', { kind: 'other' })).rejects.toThrow(/check/i);
    await expect(insert(handle, 'bad-status', { status: 'BOGUS' })).rejects.toThrow(/check/i);
    await expect(insert(handle, 'before-0004')).rejects.toThrow(/unique|primary/i);
    expect(await indexes(handle, dialect)).toEqual(['uploads_owner_created_idx', 'uploads_status_updated_idx']);
    await sql`insert into avatars (user_id, upload_id, updated_at) values ('owner-1', 'avatar-1', 1)`.execute(handle);

    expect((await steps.migrateTo('0003-create-uploads')).error).toBeUndefined();
    const left = await sql<{ id: string }>`select id from uploads order by id`.execute(handle);
    expect(left.rows.map((r) => r.id)).toEqual(['before-0004']);
    await expect(insert(handle, 'avatar-2', { kind: 'avatar' })).rejects.toThrow(/check/i);
    expect(await indexes(handle, dialect)).toEqual(['uploads_owner_created_idx', 'uploads_status_updated_idx']);
  });
});
