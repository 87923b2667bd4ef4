import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase, SqliteStatement } from 'kysely';

/** Distinct SQL texts kept prepared; id lists of varying length are the only unbounded source. */
export const STATEMENT_CACHE_SIZE = 200;

/**
 * The better-sqlite3 handle as Kysely's SqliteDialect sees it, with prepared statements
 * reused by SQL text. Kysely prepares every query afresh, and on a single-row read
 * `prepare()` costs as much as running the statement. Reuse is safe: Kysely runs one query
 * at a time on the connection, better-sqlite3 resets a statement after each run, and SQLite
 * re-prepares a statement by itself when the schema changes (a migration). A statement still
 * busy (a stream being iterated) is never handed out twice: the caller gets a fresh one.
 * Least recently used texts are dropped first.
 */
export function withStatementCache(database: SqliteDatabase.Database, size = STATEMENT_CACHE_SIZE): KyselySqliteDatabase {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(sql: string): SqliteStatement {
      const cached = statements.get(sql);
      if (cached) {
        if (cached.busy) return database.prepare(sql);
        // Re-insert: Map keeps insertion order, so the first key is the least recently used.
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      const statement = database.prepare(sql);
      if (statements.size >= size) statements.delete(statements.keys().next().value!);
      statements.set(sql, statement);
      return statement;
    },
    close(): void {
      statements.clear();
      database.close();
    },
  };
}
