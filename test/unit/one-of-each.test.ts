import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDesignId } from '../../src/designs/design-id.js';
import { contentTypeOf } from '../../src/shared/content-type.js';
import { redactUrl } from '../../src/shared/redact-url.js';
import { isUuid, UUID_PATTERN } from '../../src/shared/uuid.js';
import { withTimeout } from '../../src/shared/timeout.js';

const SRC = path.join(import.meta.dirname, '../../src');

async function sourceFiles(dir = SRC): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))));
  return nested.flat();
}

/** The src/ files (relative) whose text matches `pattern`. */
async function filesMatching(pattern: RegExp): Promise<string[]> {
  const files = await sourceFiles();
  const hits = await Promise.all(files.map(async (f) => (pattern.test(await readFile(f, 'utf8')) ? path.relative(SRC, f) : undefined)));
  return hits.filter((f): f is string => f !== undefined).sort();
}

describe('one definition of each helper in src/', () => {
  it.each([
    ['the UUID pattern', /\[0-9a-f(A-F)?\]\{8\}/i, 'shared/uuid.ts'],
    ['the content-type table', /['"]\.png['"]\s*:\s*['"]image\/png['"]/, 'shared/content-type.ts'],
    ['URL password redaction', /\*\*\*@/, 'shared/redact-url.ts'],
    ['a timer that rejects a race', /setTimeout\(\s*\(\)\s*=>\s*reject\(/, 'shared/timeout.ts'],
    ['the hex colour syntax', /#\(\?:\[0-9a-f(A-F)?\]\{3\}/i, 'rendering/colors.ts'],
  ])('%s is written once', async (_name, pattern, home) => {
    expect(await filesMatching(pattern)).toEqual([home]);
  });
});

describe('isUuid', () => {
  it('accepts canonical UUIDs in either case, nothing else', () => {
    expect(isUuid('3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b')).toBe(true);
    expect(isUuid('3F2B6C1E-8A4D-4E2F-9B1A-0C5D7E9F1A2B')).toBe(true);
    for (const bad of ['3f2b6c1e8a4d4e2f9b1a0c5d7e9f1a2b', '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2', ' 3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b', '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2g', 42, undefined]) {
      expect(isUuid(bad), String(bad)).toBe(false);
    }
  });

  it('the domain check and the route pattern agree', () => {
    const pattern = new RegExp(UUID_PATTERN);
    for (const value of ['3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b', '3F2B6C1E-8A4D-4E2F-9B1A-0C5D7E9F1A2B', 'not-a-uuid', '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b\n']) {
      expect(isDesignId(value), JSON.stringify(value)).toBe(pattern.test(value));
    }
  });
});

describe('contentTypeOf', () => {
  it.each([
    ['designs/x/preview.png', 'image/png'], ['a/B.JPG', 'image/jpeg'], ['a.jpeg', 'image/jpeg'], ['a.webp', 'image/webp'],
    ['print.pdf', 'application/pdf'], ['x.json', 'application/json'], ['notes.txt', 'text/plain'], ['archive.tar.gz', 'application/octet-stream'], ['noext', 'application/octet-stream'],
  ])('%s → %s', (key, type) => {
    expect(contentTypeOf(key)).toBe(type);
  });
});

describe('redactUrl', () => {
  it.each([
    ['postgres://app:s3cret@db:5432/customify', 'postgres://app:***@db:5432/customify'],
    ['postgresql://app:p%40ss@db/x', 'postgresql://app:***@db/x'],
    ['redis://:s3cret@cache:6379/0', 'redis://:***@cache:6379/0'],
    ['rediss://default:s3cret@cache:6380', 'rediss://default:***@cache:6380'],
    ['postgres://postgres@127.0.0.1:5432/test', 'postgres://postgres@127.0.0.1:5432/test'],
    ['sqlite:./data/customify.db', 'sqlite:./data/customify.db'],
  ])('%s → %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});

describe('withTimeout', () => {
  it('passes the value or the rejection through', async () => {
    await expect(withTimeout(Promise.resolve(7), 1000, () => new Error('late'))).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Error('own')), 1000, () => new Error('late'))).rejects.toThrow('own');
  });

  it('rejects with the caller\'s error when the promise does not settle', async () => {
    class Late extends Error {}
    await expect(withTimeout(new Promise(() => {}), 5, () => new Late('no answer'))).rejects.toBeInstanceOf(Late);
  });

  it('leaves no timer behind once the promise settles', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await withTimeout(Promise.resolve(1), 60_000, () => new Error('late'));
    expect(timers()).toBe(before);
  });
});
