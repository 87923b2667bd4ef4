import { constants } from 'node:fs';
import { access, mkdir, statfs } from 'node:fs/promises';
import { sql } from 'kysely';
import type { Container } from '../composition-root.js';
import { StorageError } from '../storage/index.js';
import type { HealthCheck } from './health.routes.js';

// Any key will do: a missing object answers null, while a missing bucket, refused
// credentials or an unreachable endpoint throw.
const S3_PROBE_KEY = 'health-check/readyz-probe';
// A design's files take tens of kilobytes; below this, renders are about to fail with a full disk.
const MIN_FREE_BYTES = 1024 * 1024;

/** The real readiness checks of a container: database, queue, storage. */
export function createHealthChecks(container: Pick<Container, 'db' | 'queue' | 'storage' | 'settings'> & Partial<Pick<Container, 'scanner'>>): Record<string, HealthCheck> {
  const { db, queue, settings, scanner } = container;
  const { storage } = container.storage;
  return {
    // clamd, when uploads are scanned: an upload waits SCANNING while it does not answer.
    ...(scanner?.enabled ? { scanner: () => scanner.ping() } : {}),
    database: async () => {
      await sql`select 1`.execute(db);
    },
    queue: () => queue.ping(),
    storage: settings.useLocalStorage
      ? async () => {
          // Renders write here: the folder must exist (the driver creates it too) and be writable.
          await mkdir(settings.localStoragePath, { recursive: true });
          await access(settings.localStoragePath, constants.W_OK);
          const { bavail, bsize } = await statfs(settings.localStoragePath);
          if (bavail * bsize < MIN_FREE_BYTES) {
            throw new StorageError('STORAGE_DISK_FULL', `Less than 1 MiB free under LOCAL_STORAGE_PATH (${bavail * bsize} bytes).`);
          }
        }
      : async () => {
          await storage.head(S3_PROBE_KEY);
        },
  };
}

/** What /readyz says besides its checks: that uploads are not scanned, when they are not. */
export function scannerNotes(container: Pick<Container, 'scanner'>): string[] {
  return container.scanner.enabled ? [] : ['virus scanning disabled: CLAMD_HOST is not set, uploads are published unscanned'];
}
