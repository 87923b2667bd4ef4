import { describe, expect, it } from 'vitest';
import { invalidationPath, invalidationPaths, isWildcardPath, MAX_PATHS_PER_REQUEST, MAX_WILDCARDS_PER_REQUEST } from '../../src/cdn/invalidation-paths.js';

const ID = '0b5c8a4e-7f3d-4c1a-9e2b-6d8f0a1b2c3d';

describe('CloudFront invalidation paths', () => {
  it('a storage key is its path under /, unchanged', () => {
    expect(invalidationPath(`designs/${ID}/v3/preview.png`)).toBe(`/designs/${ID}/v3/preview.png`);
    // S3's safe characters need no encoding, and are not encoded (an encoded path is another path for CloudFront).
    expect(invalidationPath("designs/a!b_c.d'e(f)-g.png")).toBe("/designs/a!b_c.d'e(f)-g.png");
  });

  it('a prefix (ending in /) is a wildcard path', () => {
    expect(invalidationPath(`designs/${ID}/`)).toBe(`/designs/${ID}/*`);
    expect(isWildcardPath(`/designs/${ID}/*`)).toBe(true);
    expect(isWildcardPath(`/designs/${ID}/preview.png`)).toBe(false);
  });

  it.each([
    ['the empty key', ''],
    ['the root prefix (the whole distribution)', '/'],
    ['an absolute key', `/designs/${ID}/preview.png`],
    ['a key with ..', 'designs/../secrets.txt'],
    ['a dot-file', 'designs/.env'],
    ['an empty segment', 'designs//preview.png'],
    ['a prefix with an empty segment', 'designs//'],
    ['a space', 'designs/my preview.png'],
    ['percent-encoding', 'designs/a%20b.png'],
    ['a non-ASCII character', 'designs/é.png'],
    ['a backslash', 'designs\\preview.png'],
    ['a key longer than 1024 bytes', `designs/${'a'.repeat(1100)}.png`],
  ])('refuses %s with STORAGE_INVALID_KEY', (_what, key) => {
    expect(() => invalidationPath(key)).toThrow(expect.objectContaining({ code: 'STORAGE_INVALID_KEY' }));
  });

  it('lists each path once, in the order first given', () => {
    expect(invalidationPaths(['designs/b.png', `designs/${ID}/`, 'designs/b.png', 'designs/a.png'])).toEqual(['/designs/b.png', `/designs/${ID}/*`, '/designs/a.png']);
    expect(invalidationPaths([])).toEqual([]);
  });

  it("states CloudFront's limits: 3000 paths a request, 15 wildcards in progress", () => {
    expect(MAX_PATHS_PER_REQUEST).toBe(3000);
    expect(MAX_WILDCARDS_PER_REQUEST).toBe(15);
  });
});
