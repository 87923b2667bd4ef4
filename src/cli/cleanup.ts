import type { Settings } from '../config.js';
import { closeDatabase, createDatabase } from '../db/database.js';
import { DesignRepository } from '../designs/design-repository.js';
import { AppError, ValidationError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { DURATION_EXAMPLES, DurationError, parseDuration } from '../shared/duration.js';
import { assertValidPrefix, assetVersionOfKey, createStorageLayer, designIdOfKey, isStorageError, STALE_TEMP_FILE_AGE_MS, type ObjectInfo, type ObjectStorage } from '../storage/index.js';
import { createTusStore } from '../composition-root.js';
import type { TusStagingStore } from '../uploads/tus-store.js';
import { formatDuration } from '../shared/duration.js';
import { assertServiceDatabase } from './database-status.js';
import { formatBytes, formatCount, plural } from './format.js';

type Print = (line: string) => void;

/** The most keys one DeleteObjects call takes. */
export const MAX_DELETE_BATCH = 1000;
/** Keys printed one per line; past this, one progress line per batch. */
export const DEFAULT_MAX_LISTED = 50;

export interface CleanupOptions {
  storage: Pick<ObjectStorage, 'list' | 'deleteMany' | 'kind'> & Partial<Pick<ObjectStorage, 'removeStaleTempFiles'>>;
  /** The design rows: updated when their assets go, and needed for `orphans`. */
  designs?: Pick<DesignRepository, 'existingIds' | 'findByIds' | 'clearAssets' | 'countByStatus' | 'supersededVersions'>;
  now: Date;
  /** Objects last modified more than this long before `now` are removed. */
  olderThanMs: number;
  /** Non-empty key prefix, e.g. `designs/`. */
  prefix: string;
  /** Report what would go; delete and update nothing. */
  dryRun: boolean;
  /**
   * Also remove objects under `designs/{id}/` whose design no longer exists, whatever their
   * age, and version folders (`designs/{id}/{version}/`) that neither the design nor a grace
   * period holds, once older than an hour (a younger one may be a render about to publish).
   */
  orphans: boolean;
  print: Print;
  maxListed?: number;
  /** Keys per deleteMany call, 1 to 1,000 (default 1,000). */
  batchSize?: number;
}

export interface CleanupResult {
  /** Objects listed under the prefix. */
  scanned: number;
  /** Objects deleted (in a dry run: that would be). */
  deleted: number;
  /** Of those, how many were selected as orphans rather than by age. */
  orphans: number;
  /** Bytes freed (in a dry run: that would be). */
  bytes: number;
  /** Designs whose asset keys were cleared (in a dry run: that would be). */
  designsUpdated: number;
  /** Temp files of interrupted writes removed (in a dry run: that would be), local storage only. */
  tempFiles: number;
}

interface Selected extends ObjectInfo {
  reason: 'old' | 'orphan' | 'stale-version';
}

/** An unheld version folder younger than this may belong to a render still running: left alone. */
export const STALE_VERSION_AGE_MS = 3_600_000;

const OLDER_THAN_HELP = `a duration with a unit, such as 30m, 12h, 90d or 2w (units: ${DURATION_EXAMPLES})`;

/** `--older-than` → milliseconds. A unit is required: a bare `90` could mean 90 ms and select everything. */
export function parseOlderThan(value: unknown): number {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ValidationError('INVALID_OLDER_THAN', `--older-than is required: ${OLDER_THAN_HELP}, e.g. customify cleanup --older-than 90d.`, 'older-than');
  }
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
    throw new ValidationError('INVALID_OLDER_THAN', `--older-than must be ${OLDER_THAN_HELP}, greater than zero: ${error.message}.`, 'older-than', { cause: error });
  }
  if (ms <= 0) throw new ValidationError('INVALID_OLDER_THAN', `--older-than must be ${OLDER_THAN_HELP}, greater than zero; got ${JSON.stringify(value)}.`, 'older-than');
  return ms;
}

/** `--prefix` → a valid, non-empty key prefix. An empty one would mean the whole bucket. */
export function parsePrefix(value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new ValidationError('INVALID_PREFIX', '--prefix must not be empty (that would mean every object in the bucket): give one such as designs/ or designs/<uuid>/.', 'prefix');
  }
  try {
    return assertValidPrefix(value);
  } catch (error) {
    if (!isStorageError(error, 'STORAGE_INVALID_KEY')) throw error;
    throw new ValidationError(
      'INVALID_PREFIX',
      `--prefix ${JSON.stringify(value.slice(0, 120))} is not a valid key prefix: use a relative path such as designs/, made of letters, digits and ! - _ . * ' ( ), without leading slash, "..", or empty segments.`,
      'prefix',
      { cause: error },
    );
  }
}

/**
 * The seed's bulk cleanup script, done right: every page of the listing (not only the
 * first 1,000 keys), deletion in batches of up to 1,000 keys, and the designs whose files
 * go have their keys cleared first, so the API never hands out a URL to a deleted file.
 * Memory holds one listing page and one batch.
 *
 * Throws ValidationError for bad options, AppError ORPHANS_NEED_DATABASE / DATABASE_EMPTY
 * for an orphan sweep that cannot be trusted, and storage or database errors as they come
 * (what was deleted before stays deleted and was printed).
 */
export async function runCleanup(options: CleanupOptions): Promise<CleanupResult> {
  const { storage, designs, dryRun, print } = options;
  const prefix = parsePrefix(options.prefix);
  if (!Number.isSafeInteger(options.olderThanMs) || options.olderThanMs <= 0) {
    throw new ValidationError('INVALID_OLDER_THAN', `olderThanMs must be a positive whole number of milliseconds, got ${options.olderThanMs}.`, 'older-than');
  }
  const batchSize = options.batchSize ?? MAX_DELETE_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_DELETE_BATCH) {
    throw new ValidationError('INVALID_BATCH_SIZE', `batchSize must be a whole number from 1 to ${MAX_DELETE_BATCH}, got ${batchSize}.`, 'batchSize');
  }
  const maxListed = options.maxListed ?? DEFAULT_MAX_LISTED;
  if (options.orphans) await assertOrphanSweepIsSafe(designs);

  const cutoff = new Date(options.now.getTime() - options.olderThanMs);
  print(
    `${dryRun ? 'Dry run: nothing will be deleted. ' : ''}Cleaning "${prefix}" in ${storage.kind} storage: objects last modified before ${cutoff.toISOString()}` +
      `${options.orphans ? ', and objects of designs that no longer exist' : ''}.`,
  );

  const result: CleanupResult = { scanned: 0, deleted: 0, orphans: 0, bytes: 0, designsUpdated: 0, tempFiles: 0 };
  const verb = dryRun ? 'would delete' : 'deleted';
  let batch: Selected[] = [];
  // A design's files are adjacent in the listing, so one design can straddle two batches:
  // remember the previous batch's designs so a dry run counts it once. (A real run clears
  // the keys in the first batch, and the second no longer finds them.)
  let previousDesigns = new Set<string>();

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const selected = batch;
    batch = [];
    const affected = designs ? await designsReferencing(designs, selected.map((o) => o.key)) : [];
    let removed: Selected[];
    if (dryRun) {
      removed = selected;
      result.designsUpdated += affected.filter((id) => !previousDesigns.has(id)).length;
      previousDesigns = new Set(affected);
    } else {
      // Rows first: if the delete then fails, the files are merely unreferenced (and the
      // next run removes them); the other order would leave URLs to files that are gone.
      if (designs && affected.length > 0) result.designsUpdated += await designs.clearAssets(affected);
      const deleted = new Set(await storage.deleteMany(selected.map((o) => o.key)));
      removed = selected.filter((o) => deleted.has(o.key));
    }
    let unlisted = 0;
    for (const object of removed) {
      result.deleted++;
      result.bytes += object.size;
      if (object.reason !== 'old') result.orphans++;
      if (result.deleted <= maxListed) print(`${verb} ${object.key} (${describeObject(object)})`);
      else unlisted++;
    }
    if (unlisted > 0) print(`${verb} ${plural(unlisted, 'more object')} (${formatCount(result.deleted)} so far)`);
  };

  let cursor: string | undefined;
  do {
    const page = await storage.list(prefix, { cursor, limit: MAX_DELETE_BATCH });
    cursor = page.nextCursor;
    result.scanned += page.objects.length;
    const missing = options.orphans && designs ? await missingDesignIds(designs, page.objects) : new Set<string>();
    const held = options.orphans && designs ? await versionsHeld(designs, page.objects) : new Map<string, Set<string>>();
    const staleBefore = options.now.getTime() - STALE_VERSION_AGE_MS;
    for (const object of page.objects) {
      const designId = designIdOfKey(object.key);
      const version = assetVersionOfKey(object.key);
      const unheld = designId !== undefined && version !== undefined && held.has(designId) && !held.get(designId)!.has(version) && object.lastModified.getTime() < staleBefore;
      const reason = object.lastModified.getTime() < cutoff.getTime() ? 'old' : designId && missing.has(designId) ? 'orphan' : unheld ? 'stale-version' : undefined;
      if (!reason) continue;
      batch.push({ ...object, reason });
      if (batch.length >= batchSize) await flush();
    }
  } while (cursor);
  await flush();

  // Not objects (listings skip them), so not selected by --older-than: any older than the safe
  // age is a crash's leftover; a younger one may be a write in progress.
  if (storage.removeStaleTempFiles) {
    const temp = await storage.removeStaleTempFiles({ olderThanMs: STALE_TEMP_FILE_AGE_MS, prefix, dryRun, now: options.now });
    temp.forEach((file, i) => {
      if (i < maxListed) print(`${verb} temp file ${file.path} (${formatBytes(file.size)}, left by an interrupted write, last modified ${file.lastModified.toISOString()})`);
    });
    if (temp.length > 0) {
      const tempBytes = temp.reduce((sum, f) => sum + f.size, 0);
      print(`${dryRun ? 'Would remove' : 'Removed'} ${plural(temp.length, 'temp file')} older than ${STALE_TEMP_FILE_AGE_MS / 60_000} minutes left by interrupted writes (${formatBytes(tempBytes)}).`);
    }
    result.tempFiles = temp.length;
  }

  const orphanNote = options.orphans ? ` (${formatCount(result.orphans)} orphaned)` : '';
  const freed = `${formatBytes(result.bytes)}${result.bytes >= 1000 ? ` (${formatCount(result.bytes)} bytes)` : ''}`;
  print(
    dryRun
      ? `Dry run: would delete ${plural(result.deleted, 'object')}${orphanNote} of ${formatCount(result.scanned)} scanned, freeing ${freed}; would update ${plural(result.designsUpdated, 'design')}. Nothing was deleted.`
      : `Deleted ${plural(result.deleted, 'object')}${orphanNote} of ${formatCount(result.scanned)} scanned, freeing ${freed}; updated ${plural(result.designsUpdated, 'design')}.`,
  );
  return result;
}

/**
 * Removes unfinished resumable (tus) uploads older than UPLOAD_EXPIRY: their bytes, their tus
 * records and (S3) their multipart uploads, with any other multipart upload under `staging/`
 * started before then. Run by every `customify cleanup`, whatever its --prefix; --dry-run
 * only reports; prints nothing when none expired. Returns how many went (would go).
 */
export async function removeExpiredTusUploads(options: { store: Pick<TusStagingStore, 'removeExpired'>; expiryMs: number; now: Date; dryRun: boolean; print: Print; maxListed?: number }): Promise<number> {
  const expired = await options.store.removeExpired({ now: options.now, dryRun: options.dryRun });
  const verb = options.dryRun ? 'would remove' : 'removed';
  expired.slice(0, options.maxListed ?? DEFAULT_MAX_LISTED).forEach((upload) =>
    options.print(`${verb} unfinished upload ${upload.id} (started ${upload.createdAt.toISOString()})`));
  // Nothing to say when nothing expired: the run's summary stays the object cleanup's.
  if (expired.length > 0) options.print(`${options.dryRun ? 'Would remove' : 'Removed'} ${plural(expired.length, 'unfinished resumable upload')} older than UPLOAD_EXPIRY (${formatDuration(options.expiryMs)}).`);
  return expired.length;
}

/** `customify cleanup`: validates the options, then runs the cleanup on the configured storage and database. */
export async function cleanupCommand(settings: Readonly<Settings>, values: Record<string, string | boolean | undefined>, print: Print): Promise<number> {
  // Every option is checked before anything is opened.
  const olderThanMs = parseOlderThan(values['older-than']);
  const prefix = parsePrefix(values.prefix ?? 'designs/');
  const { storage } = await createStorageLayer(settings, { logger: silentLogger });
  const db = createDatabase(settings.databaseUrl);
  try {
    await assertServiceDatabase(db, settings.databaseUrl);
    await runCleanup({
      storage,
      designs: new DesignRepository(db),
      now: new Date(),
      olderThanMs,
      prefix,
      dryRun: values['dry-run'] === true,
      orphans: values.orphans === true,
      print,
    });
    const tus = await createTusStore(settings);
    try {
      await removeExpiredTusUploads({ store: tus, expiryMs: settings.uploadExpiryMs, now: new Date(), dryRun: values['dry-run'] === true, print });
    } finally {
      tus.close();
    }
    return 0;
  } finally {
    await storage.close();
    await closeDatabase(db);
  }
}

function describeObject(object: Selected): string {
  const why = object.reason === 'old'
    ? `last modified ${object.lastModified.toISOString()}`
    : object.reason === 'orphan' ? 'orphan: its design no longer exists' : 'orphan: a version of the design\'s images that no design and no grace period holds';
  return `${formatBytes(object.size)}, ${why}`;
}

/** The designs whose stored preview, thumbnail or any published rendition key is among `keys`. */
async function designsReferencing(designs: NonNullable<CleanupOptions['designs']>, keys: string[]): Promise<string[]> {
  const ids = [...new Set(keys.map(designIdOfKey).filter((id): id is string => id !== undefined))];
  if (ids.length === 0) return [];
  const gone = new Set(keys);
  return (await designs.findByIds(ids))
    .filter((d) => (d.previewKey !== null && gone.has(d.previewKey)) || (d.thumbnailKey !== null && gone.has(d.thumbnailKey)) || d.assets.some((a) => gone.has(a.key)))
    .map((d) => d.id);
}

/** For each live design named by versioned keys among `objects`: the versions it holds (its current one, and those in their grace period). */
async function versionsHeld(designs: NonNullable<CleanupOptions['designs']>, objects: ObjectInfo[]): Promise<Map<string, Set<string>>> {
  const ids = [...new Set(objects.filter((o) => assetVersionOfKey(o.key) !== undefined).map((o) => designIdOfKey(o.key)!))];
  if (ids.length === 0) return new Map();
  const [found, superseded] = await Promise.all([designs.findByIds(ids), designs.supersededVersions(ids)]);
  return new Map(found.map((d) => [d.id, new Set([...(d.assetVersion ? [d.assetVersion] : []), ...(superseded.get(d.id) ?? [])])]));
}

/** The design ids named by `objects`' keys that have no design row. */
async function missingDesignIds(designs: NonNullable<CleanupOptions['designs']>, objects: ObjectInfo[]): Promise<Set<string>> {
  const ids = [...new Set(objects.map((o) => designIdOfKey(o.key)).filter((id): id is string => id !== undefined))];
  if (ids.length === 0) return new Set();
  const existing = await designs.existingIds(ids);
  return new Set(ids.filter((id) => !existing.has(id)));
}

/**
 * An orphan sweep against the wrong database (a fresh SQLite file, another environment's)
 * would delete every design's files. A database with no designs at all is taken as that.
 */
async function assertOrphanSweepIsSafe(designs: CleanupOptions['designs']): Promise<void> {
  if (!designs) {
    throw new AppError('ORPHANS_NEED_DATABASE', '--orphans needs the designs database to tell which designs still exist.', { field: 'orphans' });
  }
  const counts = await designs.countByStatus();
  if (Object.values(counts).reduce((a, b) => a + b, 0) === 0) {
    throw new AppError(
      'DATABASE_EMPTY',
      'The database has no designs at all, so --orphans would treat every stored design as orphaned. Check that DATABASE_URL is the service\'s database; to remove everything use --older-than alone.',
      { field: 'DATABASE_URL' },
    );
  }
}
