import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { closeDatabase, createDatabase, type Database } from '../../src/db/database.js';
import { redactUrl as redact } from '../../src/shared/redact-url.js';
import { migrateToLatest } from '../../src/db/migrate.js';

/**
 * Real databases for integration tests, one fresh and isolated database per call:
 * SQLite in a temporary file, PostgreSQL in a new schema (`test_<random>`) reached through
 * `search_path`, dropped afterwards. Suites loop `for (const dialect of DIALECTS)` and wrap
 * each dialect in `describe.skipIf(skipDialect(dialect))`.
 *
 * PostgreSQL: TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test, else the
 * same as `root`. If none answers, its suites are skipped with a message, except when CI is
 * set: then they run and fail loudly, because a CI run that silently skipped them proves nothing.
 */

export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];

const POSTGRES_CANDIDATES = process.env.TEST_DATABASE_URL
  ? [process.env.TEST_DATABASE_URL]
  : ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test'];

interface PostgresProbe {
  /** The first candidate URL that answered, or null. */
  url: string | null;
  /** Why each candidate failed, for the skip/failure message. */
  problem: string;
}

async function probePostgres(): Promise<PostgresProbe> {
  const problems: string[] = [];
  for (const url of POSTGRES_CANDIDATES) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return { url, problem: '' };
    } catch (error) {
      problems.push(`${redact(url)}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await client.end().catch(() => {});
    }
  }
  return { url: null, problem: problems.join('; ') };
}

export const postgres: PostgresProbe = await probePostgres();

if (!postgres.url && !process.env.CI) {
  console.warn(
    `PostgreSQL not reachable at ${POSTGRES_CANDIDATES.map(redact).join(' or ')}: skipping PostgreSQL tests (${postgres.problem}). ` +
      'Start PostgreSQL or set TEST_DATABASE_URL; with CI set these tests fail instead of being skipped.',
  );
}

/** Whether a suite for `dialect` should be skipped: only PostgreSQL, only when unreachable, never in CI. */
export function skipDialect(dialect: Dialect): boolean {
  return dialect === 'postgres' && !postgres.url && !process.env.CI;
}

export interface TestDatabase {
  dialect: Dialect;
  /** A URL createDatabase() accepts that reaches this isolated database. */
  url: string;
  db: Database;
  /** Another Kysely instance with its own connection(s) to the same database: a second process, as far as locking goes. */
  connect(): Database;
  /** Closes every instance and deletes the file or drops the schema. */
  destroy(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Run migrations before returning (default true). */
  migrate?: boolean;
}

export async function createTestDatabase(dialect: Dialect, options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const isolated = dialect === 'sqlite' ? createSqlite() : await createPostgresSchema();
  const instances: Database[] = [];
  const connect = (): Database => {
    const db = createDatabase(isolated.url);
    instances.push(db);
    return db;
  };
  const db = connect();
  const destroy = async (): Promise<void> => {
    await Promise.all(instances.map((instance) => closeDatabase(instance)));
    await isolated.remove();
  };
  try {
    if (options.migrate ?? true) await migrateToLatest(db);
  } catch (error) {
    await destroy();
    throw error;
  }
  return { dialect, url: isolated.url, db, connect, destroy };
}

interface Isolated {
  url: string;
  remove(): Promise<void>;
}

function createSqlite(): Isolated {
  const dir = mkdtempSync(join(tmpdir(), 'customify-db-'));
  return {
    url: `sqlite:${join(dir, 'test.db')}`,
    remove: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  };
}

async function createPostgresSchema(): Promise<Isolated> {
  const base = postgres.url;
  if (!base) {
    throw new Error(
      `PostgreSQL not reachable at ${POSTGRES_CANDIDATES.map(redact).join(' or ')} (${postgres.problem}). ` +
        'CI is set, so the PostgreSQL tests fail instead of being skipped: start PostgreSQL or set TEST_DATABASE_URL.',
    );
  }
  const schema = `test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  await withAdmin(base, (client) => client.query(`create schema ${schema}`));
  const separator = base.includes('?') ? '&' : '?';
  return {
    url: `${base}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    remove: () => withAdmin(base, (client) => client.query(`drop schema if exists ${schema} cascade`)).then(() => {}),
  };
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
