import { randomBytes } from 'node:crypto';
import { assertDesignId, isDesignId } from '../designs/design-id.js';
import { StorageError } from './storage-errors.js';

/** The asset kinds a design has. `preview` and `thumbnail` are the seed's; more sizes may follow. */
export const ASSET_KINDS = ['preview', 'thumbnail'] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];

export { assertDesignId, isDesignId };

export const DESIGNS_PREFIX = 'designs/';

/**
 * The prefixes that hold published files: `staging/` (unscanned uploads) and `quarantine/`
 * (infected ones) are not among them. `doctor/` holds doctor's anonymous-read probe.
 * Under `designs/` only the rendered images are public (PUBLIC_READ_PATTERNS): the print
 * files beside them are private.
 */
export const PUBLIC_PREFIXES = [DESIGNS_PREFIX, 'uploads/', 'avatars/', 'doctor/'] as const;

/**
 * The keys anyone may read without credentials, as bucket-policy resource patterns (`*`
 * matches any characters, `/` included): the public-read bucket policy (S3_PUBLIC_BUCKET=true,
 * `customify s3 setup-policy`) allows anonymous s3:GetObject on these and nothing else.
 * Under `designs/` it names the rendered images one by one rather than the whole prefix, so
 * the print files (`designs/{id}/print.pdf`, `print.png`: production files, never public,
 * issue #12) stay private whatever S3_PUBLIC_BUCKET says.
 */
export const PUBLIC_READ_PATTERNS = [
  ...ASSET_KINDS.map((kind) => `${DESIGNS_PREFIX}*/${kind}.png`),
  // Versioned renditions, `designs/{id}/{version}/{name}.{format}`: two levels below the
  // design, where no print file ever is (they sit directly in `designs/{id}/`).
  `${DESIGNS_PREFIX}*/*/*`,
  ...PUBLIC_PREFIXES.filter((prefix) => prefix !== DESIGNS_PREFIX).map((prefix) => `${prefix}*`),
] as const;

/** The print files a design can have (issue #12), by file extension. */
export const PRINT_FILE_EXTENSIONS = ['pdf', 'png'] as const;
export type PrintFileExtension = (typeof PRINT_FILE_EXTENSIONS)[number];

/** `designs/{design_id}/print.pdf` and `designs/{design_id}/print.png`: always private. */
export function printFileKey(designId: string, extension: PrintFileExtension): string {
  return `${designPrefix(designId)}print.${extension}`;
}

/** Whether `key` is a print file (private: never served by /static, never anonymously readable). */
export function isPrintFileKey(key: string): boolean {
  return /^designs\/[^/]+\/print\.(pdf|png)$/i.test(key);
}

/** The seed's layout: `designs/{design_id}/`. */
export function designPrefix(designId: string): string {
  return `${DESIGNS_PREFIX}${assertDesignId(designId)}/`;
}

/** The seed's layout: `designs/{design_id}/preview.png` and `designs/{design_id}/thumbnail.png`. */
export function designAssetKey(designId: string, kind: AssetKind): string {
  return `${designPrefix(designId)}${kind}.png`;
}

/**
 * A new version folder for a design's images (issue #13): the time in base 36 (so versions
 * sort by age) and 6 random hex digits (so two renders in the same millisecond differ).
 * Nothing is ever written twice under one version, which is what makes its URLs immutable.
 */
export function newAssetVersion(now: number = Date.now()): string {
  return `${now.toString(36)}${randomBytes(3).toString('hex')}`;
}

const VERSION = /^[0-9a-z]{6,12}[0-9a-f]{6}$/;

export function isAssetVersion(value: string): boolean {
  return VERSION.test(value);
}

/** `designs/{design_id}/{version}/`: one render's images. */
export function assetVersionPrefix(designId: string, version: string): string {
  if (!isAssetVersion(version)) throw new StorageError('STORAGE_INVALID_KEY', `${JSON.stringify(version.slice(0, 40))} is not an asset version.`, { field: 'version' });
  return `${designPrefix(designId)}${version}/`;
}

/** `designs/{design_id}/{version}/{rendition}.{format}`: the seed's `designs/{id}/preview.png` becomes `designs/{id}/{version}/preview.png`. */
export function renditionKey(designId: string, version: string, name: string, format: string): string {
  return `${assetVersionPrefix(designId, version)}${name}.${format}`;
}

const RENDITION_KEY = /^designs\/([0-9a-f-]{36})\/([0-9a-z]+)\/([a-z][a-z0-9-]*)\.(png|webp|avif)$/;

/** The version folder of a rendition key, or undefined for the seed's unversioned keys and anything else. */
export function assetVersionOfKey(key: string): string | undefined {
  const match = RENDITION_KEY.exec(key);
  return match && isDesignId(match[1]!) && isAssetVersion(match[2]!) ? match[2] : undefined;
}

/**
 * Whether the bytes under `key` can never change, so caches may keep them forever: a
 * design's versioned renditions, an avatar (`avatars/{user}/{upload}/...`) and an upload's
 * normalised original (`uploads/{id}/...`), each written once under an id of its own.
 */
export function isImmutableKey(key: string): boolean {
  return assetVersionOfKey(key) !== undefined || /^avatars\/[^/]+\/[^/]+\/[^/]+$/.test(key) || /^uploads\/[^/]+\/[^/]+$/.test(key);
}

/** The design id a key belongs to, or undefined for keys outside `designs/{uuid}/`. */
export function designIdOfKey(key: string): string | undefined {
  const match = /^designs\/([0-9a-f-]{36})\//i.exec(key);
  return match && isDesignId(match[1]) ? match[1].toLowerCase() : undefined;
}

/**
 * The metadata the uploader attaches to a design asset (`{design_id, type}`, as the seed's
 * `upload_file` example), which its key `designs/{id}/{kind}.png` already spells out; `{}` for
 * any other key. Lets the local driver skip writing what it can read back from the key.
 */
export function metadataImpliedByKey(key: string): Record<string, string> {
  const rendition = RENDITION_KEY.exec(key);
  if (rendition && assetVersionOfKey(key)) return { design_id: rendition[1]!.toLowerCase(), type: rendition[3]! };
  const match = /^designs\/([^/]+)\/([a-z]+)\.png$/.exec(key);
  const designId = match ? designIdOfKey(key) : undefined;
  return designId && (ASSET_KINDS as readonly string[]).includes(match![2]!) ? { design_id: designId, type: match![2]! } : {};
}

// S3's "safe characters" (letters, digits, ! - _ . * ' ( )), segments joined by single slashes.
const SAFE_SEGMENT = /^[A-Za-z0-9!_.*'()-]+$/;
const MAX_KEY_BYTES = 1024;

/**
 * Every key passes here before it reaches a driver. The allow-list is deliberately narrow:
 * keys this service writes are `designs/{uuid}/{name}.png`, and rejecting `..`, absolute
 * paths, backslashes, NUL, percent-encoding and dot-files here means no driver ever has to
 * guess how a filesystem or a URL decoder would read a hostile key.
 */
export function assertValidKey(key: unknown): string {
  const refuse = (why: string): never => {
    const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 120)) : typeof key;
    throw new StorageError('STORAGE_INVALID_KEY', `Invalid storage key ${shown}: ${why}. Keys are relative paths like designs/<uuid>/preview.png made of letters, digits and ! - _ . * ' ( ).`, { field: 'key' });
  };
  if (typeof key !== 'string' || key.length === 0) return refuse('it is empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return refuse(`it is longer than ${MAX_KEY_BYTES} bytes`);
  if (key.startsWith('/')) return refuse('it is absolute');
  for (const segment of key.split('/')) {
    if (segment === '') return refuse('it has an empty segment (// or a trailing slash)');
    if (segment.startsWith('.')) return refuse('a segment is ".", ".." or starts with a dot');
    if (!SAFE_SEGMENT.test(segment)) return refuse('it contains a character outside the allowed set');
  }
  return key;
}

/** Prefixes follow the key rules, except that they may be empty or end with a slash. */
export function assertValidPrefix(prefix: unknown): string {
  if (prefix === '') return '';
  if (typeof prefix !== 'string') return assertValidKey(prefix);
  const body = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  assertValidKey(body);
  return prefix;
}

/** Encodes each segment for use in a URL path. */
export function keyToUrlPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
