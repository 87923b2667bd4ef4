import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { AppError } from '../errors.js';

/**
 * better-sqlite3 for the running Node. Version 13 is built on Node-API, so its binaries, shipped
 * inside the npm package, load on Node 22 and 24 alike with nothing to compile; it crashes on
 * Node 20. Version 12 (installed as `better-sqlite3-node20`, compiled at install) works on
 * Node 20, but on Node 24 the process aborts when one of its statements is garbage-collected
 * (`Assertion failed: (env) != nullptr` in Statement::~Statement). So each Node loads the one
 * that works, from the same node_modules.
 */
const require = createRequire(import.meta.url);
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const PACKAGE = NODE_MAJOR >= 22 ? 'better-sqlite3' : 'better-sqlite3-node20';

function load(): typeof BetterSqlite3 {
  try {
    return require(PACKAGE) as typeof BetterSqlite3;
  } catch (error) {
    throw new AppError(
      'SQLITE_DRIVER_MISSING',
      `SQLite needs the ${PACKAGE} package on Node ${process.versions.node}, and it did not load (${(error as Error).message}). Run npm install (Node 20 compiles it, which needs python3, make and a C++ compiler), or use Node 22 or 24.`,
      { cause: error },
    );
  }
}

export const SqliteDatabase = load();
export type SqliteHandle = BetterSqlite3.Database;
