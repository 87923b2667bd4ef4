import { existsSync } from 'node:fs';
import { Migrator, PostgresAdapter, sql } from 'kysely';
import { dialectOf, sqlitePathOf, type Database } from '../db/database.js';
import { redactUrl } from '../shared/redact-url.js';
import { migrationProvider } from '../db/migrate.js';
import { AppError, describeError } from '../errors.js';

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

/**
 * Which migrations the database has and lacks, without running any (Kysely's
 * getMigrations only reads). The bookkeeping table is looked up in the connection's
 * current schema, as migrateToLatest() creates it there.
 */
export async function migrationStatus(db: Database): Promise<MigrationStatus> {
  let migrationTableSchema: string | undefined;
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    migrationTableSchema = rows[0]?.schema ?? undefined;
  }
  const migrations = await new Migrator({ db, provider: migrationProvider, migrationTableSchema }).getMigrations();
  return {
    applied: migrations.filter((m) => m.executedAt !== undefined).map((m) => m.name),
    pending: migrations.filter((m) => m.executedAt === undefined).map((m) => m.name),
  };
}

/** The SQLite file a `sqlite:` URL names, when it does not exist yet (opening it would create an empty one). */
export function missingSqliteFile(databaseUrl: string): string | undefined {
  if (dialectOf(databaseUrl) !== 'sqlite') return undefined;
  const file = sqlitePathOf(databaseUrl);
  return file !== ':memory:' && !existsSync(file) ? file : undefined;
}

/**
 * For tools that must work on the service's existing data (cleanup): refuses a database
 * that does not exist or is not migrated, because an empty one would make every stored
 * object look orphaned. Throws AppError DATABASE_NOT_READY saying what to check.
 */
export async function assertServiceDatabase(db: Database, databaseUrl: string): Promise<void> {
  const shown = redactUrl(databaseUrl);
  const missing = missingSqliteFile(databaseUrl);
  if (missing) {
    throw new AppError('DATABASE_NOT_READY', `There is no SQLite database at ${missing} (DATABASE_URL=${shown}): point DATABASE_URL at the service's database.`, { field: 'DATABASE_URL' });
  }
  let pending: string[];
  try {
    ({ pending } = await migrationStatus(db));
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('DATABASE_UNAVAILABLE', `Cannot read the database at ${shown}: ${describeError(error)}. Check DATABASE_URL and that the database server is up.`, { cause: error, retryable: true, field: 'DATABASE_URL' });
  }
  if (pending.length > 0) {
    throw new AppError(
      'DATABASE_NOT_READY',
      `The database at ${shown} lacks migration(s) ${pending.join(', ')}: check that DATABASE_URL is the service's database, then run customify migrate.`,
      { field: 'DATABASE_URL' },
    );
  }
}
