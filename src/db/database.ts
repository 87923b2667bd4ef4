import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import pg from 'pg';
import { AppError, describeError } from '../errors.js';
import { CurrentSchemaPostgresDialect } from './current-schema-dialect.js';
import type { DB } from './schema.js';
import { withStatementCache } from './sqlite-statement-cache.js';
import { redactUrl } from '../shared/redact-url.js';
import { SqliteDatabase, type SqliteHandle } from './sqlite-driver.js';

/** The one database handle the service passes around. */
export type Database = Kysely<DB>;

export type DialectName = 'sqlite' | 'postgres';

export interface DatabaseOptions {
  /** PostgreSQL pool size. */
  poolMax?: number;
  /**
   * Called when an idle PostgreSQL connection breaks (server restart, network cut). `pg`
   * has already dropped that connection and the next query opens a new one, so this is
   * for logging; without a listener such an error would crash the process.
   */
  onPoolError?: (error: Error) => void;
}

const SQLITE_MEMORY = ':memory:';
const INT8_OID = 20;

function unsupportedUrl(databaseUrl: string): AppError {
  return new AppError(
    'DATABASE_URL_UNSUPPORTED',
    `Unsupported database URL "${redactUrl(databaseUrl)}": use sqlite:<file> (for example sqlite:./data/customify.db), sqlite::memory:, or postgres://user@host:5432/db.`,
    { field: 'DATABASE_URL' },
  );
}

/** Which dialect a database URL selects. Throws DATABASE_URL_UNSUPPORTED for anything else. */
export function dialectOf(databaseUrl: string): DialectName {
  if (/^sqlite:.+/.test(databaseUrl)) return 'sqlite';
  if (/^postgres(ql)?:\/\/.+/.test(databaseUrl)) return 'postgres';
  throw unsupportedUrl(databaseUrl);
}

/** `sqlite:./data/x.db`, `sqlite:/abs/x.db`, `sqlite:///abs/x.db` or `sqlite::memory:` → the file path. */
export function sqlitePathOf(databaseUrl: string): string {
  let path = databaseUrl.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '') throw unsupportedUrl(databaseUrl);
  return path;
}

/**
 * Builds the Kysely instance for `databaseUrl`. Nothing is opened until the first query:
 * the SQLite file (and its folder) is created then, and PostgreSQL connects on demand.
 */
export function createDatabase(databaseUrl: string, options: DatabaseOptions = {}): Database {
  const dialect = dialectOf(databaseUrl);
  if (dialect === 'sqlite') {
    const path = sqlitePathOf(databaseUrl);
    return new Kysely<DB>({ dialect: new SqliteDialect({ database: () => Promise.resolve(withStatementCache(openSqlite(path))) }) });
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolMax ?? 10,
    // Timestamps are epoch-ms `bigint` columns: read them (and counts) as numbers, as
    // SQLite does. Scoped to this pool, unlike pg.types.setTypeParser.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        // pg types the parser it returns as `any`; every parser takes the column's text.
        oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : (pg.types.getTypeParser(oid, format) as (value: string) => unknown)) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', options.onPoolError ?? (() => {}));
  // The pool listens for errors on idle clients only. A checked-out client whose connection
  // drops (server restart) emits 'error' with no listener, which Node turns into an uncaught
  // exception that kills the process. The query in flight gets the error anyway, and the
  // pool discards the broken client when it is released.
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<DB>({ dialect: new CurrentSchemaPostgresDialect({ pool }) });
}

function openSqlite(path: string): SqliteHandle {
  try {
    if (path !== SQLITE_MEMORY) mkdirSync(dirname(resolve(path)), { recursive: true });
    const database = new SqliteDatabase(path);
    // busy_timeout first, so the other pragmas wait for a concurrent process rather than fail.
    database.pragma('busy_timeout = 5000');
    if (path !== SQLITE_MEMORY) {
      database.pragma('journal_mode = WAL');
      // SQLite's recommended pairing with WAL: commits stay atomic and survive a crash of the
      // process; only a power cut can lose the last few. FULL would fsync every commit.
      database.pragma('synchronous = NORMAL');
    }
    database.pragma('foreign_keys = ON');
    return database;
  } catch (error) {
    throw new AppError(
      'DATABASE_UNAVAILABLE',
      `Cannot open the SQLite database at ${path}: ${describeError(error)}. Check that the folder is writable, or set DATABASE_URL.`,
      { cause: error },
    );
  }
}

/** Closes the pool or file handle; the instance cannot be used afterwards. */
export async function closeDatabase(db: Database): Promise<void> {
  await db.destroy();
}

