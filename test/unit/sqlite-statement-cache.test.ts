import { SqliteDatabase, type SqliteHandle } from '../../src/db/sqlite-driver.js';
import { describe, expect, it } from 'vitest';
import { withStatementCache } from '../../src/db/sqlite-statement-cache.js';

function memoryDatabase(): SqliteHandle {
  const database = new SqliteDatabase(':memory:');
  database.exec('create table t (id integer primary key, name text)');
  database.exec("insert into t (name) values ('a'), ('b'), ('c')");
  return database;
}

describe('withStatementCache', () => {
  it('hands back the same prepared statement for the same SQL, with fresh values each run', () => {
    const cached = withStatementCache(memoryDatabase());
    const sql = 'select name from t where id = ?';
    const first = cached.prepare(sql);
    expect(cached.prepare(sql)).toBe(first);
    expect(cached.prepare(sql).all([1])).toEqual([{ name: 'a' }]);
    expect(cached.prepare(sql).all([2])).toEqual([{ name: 'b' }]);
    expect(cached.prepare('select count(*) as n from t').all([])).toEqual([{ n: 3 }]);
  });

  it('sees schema changes made after a statement was cached', () => {
    const cached = withStatementCache(memoryDatabase());
    expect(cached.prepare('select * from t where id = ?').all([1])).toEqual([{ id: 1, name: 'a' }]);
    cached.prepare('alter table t add column colour text').run([]);
    expect(cached.prepare('select * from t where id = ?').all([1])).toEqual([{ id: 1, name: 'a', colour: null }]);
  });

  it('never hands out a statement that is still being iterated', () => {
    const cached = withStatementCache(memoryDatabase());
    const sql = 'select name from t order by id';
    const streaming = cached.prepare(sql).iterate([]);
    expect(streaming.next().value).toEqual({ name: 'a' });
    expect(cached.prepare(sql).all([])).toEqual([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect([...streaming]).toEqual([{ name: 'b' }, { name: 'c' }]);
  });

  it('keeps at most `size` statements, dropping the least recently used', () => {
    const cached = withStatementCache(memoryDatabase(), 2);
    const one = cached.prepare('select 1');
    const two = cached.prepare('select 2');
    expect(cached.prepare('select 1')).toBe(one); // now "select 2" is the least recently used
    cached.prepare('select 3');
    expect(cached.prepare('select 1')).toBe(one);
    expect(cached.prepare('select 2')).not.toBe(two);
  });

  it('close() closes the database', () => {
    const database = memoryDatabase();
    const cached = withStatementCache(database);
    cached.prepare('select 1').all([]);
    cached.close();
    expect(database.open).toBe(false);
  });
});
