import { assertValidKey, assertValidPrefix } from '../storage/keys.js';
import { StorageError } from '../storage/storage-errors.js';

/**
 * CloudFront's limits on one CreateInvalidation: at most 3000 paths, and at most 15 paths
 * with a `*` in progress at once. A batch with more wildcards than that could never be
 * accepted, so it would fail on every retry: batches carry at most 15.
 */
export const MAX_PATHS_PER_REQUEST = 3000;
export const MAX_WILDCARDS_PER_REQUEST = 15;

/**
 * A storage key (`designs/<id>/<v>/preview.png`) → `/designs/<id>/<v>/preview.png`; a prefix,
 * ending in `/` (`designs/<id>/`) → `/designs/<id>/*`. Keys pass the storage key rules, whose
 * characters (letters, digits, ! - _ . * ' ( ) and /) CloudFront takes as they are: they need
 * no URL-encoding, and encoding one that does not need it would invalidate a different path.
 *
 * Throws STORAGE_INVALID_KEY for anything else, the empty prefix included: `/*` would
 * invalidate the whole distribution, never what a caller means.
 */
export function invalidationPath(keyOrPrefix: string): string {
  if (!keyOrPrefix.endsWith('/')) return `/${assertValidKey(keyOrPrefix)}`;
  if (keyOrPrefix === '/') {
    throw new StorageError('STORAGE_INVALID_KEY', 'Invalid storage prefix "/": it would invalidate the whole CloudFront distribution. Pass a design\'s prefix such as designs/<uuid>/.', { field: 'key' });
  }
  return `/${assertValidPrefix(keyOrPrefix)}*`;
}

/** The distinct paths of `keysOrPrefixes`, in their first order. */
export function invalidationPaths(keysOrPrefixes: readonly string[]): string[] {
  return [...new Set(keysOrPrefixes.map(invalidationPath))];
}

/** Whether CloudFront reads `path` as a wildcard (the limit of 15 in progress applies). */
export function isWildcardPath(path: string): boolean {
  return path.endsWith('*');
}
