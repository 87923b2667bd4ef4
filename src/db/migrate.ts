import { Migrator, PostgresAdapter, SqliteAdapter, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import { AppError, describeError } from '../errors.js';
import * as createDesigns from './migrations/0001-create-designs.js';
import * as designTombstone from './migrations/0002-design-tombstone.js';
import * as createUploads from './migrations/0003-create-uploads.js';
import * as avatars from './migrations/0004-avatars.js';
import * as designUpload from './migrations/0005-design-upload.js';
import * as designPrintFiles from './migrations/0006-design-print-files.js';
import * as assetVersions from './migrations/0007-asset-versions.js';
import * as webhooks from './migrations/0008-webhooks.js';
import * as supersededManifest from './migrations/0009-superseded-manifest.js';

/**
 * Every migration, by name. Kysely runs them in name order. Listed statically, not found
 * by scanning a folder, so the compiled `dist/` and the TypeScript sources behave alike.
 * Add new ones at the end with the next number.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-create-designs': createDesigns,
  '0002-design-tombstone': designTombstone,
  '0003-create-uploads': createUploads,
  '0004-avatars': avatars,
  '0005-design-upload': designUpload,
  '0006-design-print-files': designPrintFiles,
  '0007-asset-versions': assetVersions,
  '0008-webhooks': webhooks,
  '0009-superseded-manifest': supersededManifest,
});

export const migrationProvider: MigrationProvider = {
  // Kysely's MigrationProvider interface asks for a promise; the migrations are known statically.
  getMigrations: () => Promise.resolve({ ...MIGRATIONS }),
};

export interface MigrateResult {
  /** Names of the migrations this call ran, in order; empty when already up to date. */
  applied: string[];
}

/**
 * Brings the schema to the latest migration. Safe to run from several processes at once:
 * - PostgreSQL: Kysely's migrator holds a session advisory lock while it runs migrations
 *   and runs them all in one transaction, so the second process waits and then finds
 *   nothing to do.
 *   Kysely's bookkeeping tables are kept in the connection's current schema: by default
 *   the migrator looks for them in *any* schema, so a `kysely_migration` table in `public`
 *   would hide a missing one in the schema the tables actually go to.
 * - SQLite: Kysely takes no lock, so the whole run is wrapped in `BEGIN IMMEDIATE`: a second
 *   process waits on busy_timeout for the write lock, and a failed migration rolls back.
 * Throws AppError MIGRATION_FAILED naming the migration and the cause.
 */
export async function migrateToLatest<T>(db: Kysely<T>): Promise<MigrateResult> {
  const adapter = db.getExecutor().adapter;
  let resultSet: MigrationResultSet;
  try {
    if (adapter instanceof SqliteAdapter) {
      resultSet = await migrateSqlite(db);
    } else if (adapter instanceof PostgresAdapter) {
      const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
      const schema = rows[0]?.schema;
      if (!schema) {
        throw new Error('the PostgreSQL search_path names no existing schema to create tables in');
      }
      resultSet = await migratePostgres(db, schema);
    } else {
      resultSet = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    }
  } catch (error) {
    throw migrationFailed(undefined, error);
  }
  const results = resultSet.results ?? [];
  if (resultSet.error !== undefined) {
    throw migrationFailed(results.find((r) => r.status === 'Error')?.migrationName, resultSet.error);
  }
  return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

async function migratePostgres<T>(db: Kysely<T>, schema: string): Promise<MigrationResultSet> {
  // The migrator checks for its tables through db.introspection, which createDatabase scopes
  // to this schema (current-schema-dialect.ts): other sessions' schemas cannot fail the run.
  return new Migrator({ db, provider: migrationProvider, migrationTableSchema: schema }).migrateToLatest();
}

async function migrateSqlite<T>(db: Kysely<T>): Promise<MigrationResultSet> {
  // One connection for the whole run: SQLite DDL is transactional, so the migrator's own
  // bookkeeping and the migrations commit or roll back together.
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    let resultSet: MigrationResultSet;
    try {
      resultSet = await new Migrator({ db: connection, provider: migrationProvider }).migrateToLatest();
    } catch (error) {
      await sql`rollback`.execute(connection);
      throw error;
    }
    await sql.raw(resultSet.error === undefined ? 'commit' : 'rollback').execute(connection);
    return resultSet;
  });
}

function migrationFailed(migrationName: string | undefined, cause: unknown): AppError {
  const which = migrationName ? `migration ${migrationName}` : 'migration';
  return new AppError(
    'MIGRATION_FAILED',
    `Database ${which} failed: ${describeError(cause)}. The whole run was rolled back; fix the cause and run \`customify migrate\` again.`,
    { cause, retryable: isBusy(cause) },
  );
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === '55P03' /* lock_not_available */;
}
