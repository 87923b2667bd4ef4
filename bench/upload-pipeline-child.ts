/**
 * Child process of bench/upload.bench.ts: our upload pipeline, in-process, on one file. Each
 * repeat stages the file under a new upload id (local storage), records it RECEIVED (SQLite),
 * and runs the pipeline task once: claim → copy to a working file → clamd INSTREAM scan
 * (with the markup check over the stream) → sniff → CLEAN → sharp re-encode (auto-orient,
 * strip, sRGB, JPEG q90 4:4:4 libjpeg-turbo with standard Huffman tables) → store `uploads/{id}/original.jpg` → PUBLISHED.
 * Timed: the task only (staging is the HTTP request's work). Prints one JSON line: seconds per
 * repeat, RSS before the first task and the process's peak RSS (getrusage maxrss).
 *   node --import tsx bench/upload-pipeline-child.ts --file photo.jpg --repeats 4 --dir /tmp/x
 *   (CLAMD_HOST, CLAMD_PORT in the environment)
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configFrom } from '../src/config.js';
import { closeDatabase, createDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { silentLogger } from '../src/logger.js';
import { ClamdScanner } from '../src/scanning/index.js';
import { createStorageLayer } from '../src/storage/index.js';
import { createProcessUploadTask } from '../src/uploads/process-upload.task.js';
import { UploadRepository } from '../src/uploads/upload-repository.js';
import { UploadStorage } from '../src/uploads/upload-storage.js';
import { uploadKeys } from '../src/uploads/upload.js';

const { values } = parseArgs({ options: { file: { type: 'string' }, repeats: { type: 'string' }, dir: { type: 'string' } } });
const file = values.file;
const dir = values.dir;
const repeats = Number(values.repeats ?? '4');
if (!file || !dir || !(repeats > 0)) throw new Error('usage: --file F --dir D [--repeats N]');

const settings = configFrom({ USE_LOCAL_STORAGE: 'true', LOCAL_STORAGE_PATH: path.join(dir, 'storage') });
const db = createDatabase(`sqlite:${path.join(dir, 'bench.db')}`);
await migrateToLatest(db);
const layer = await createStorageLayer(settings, { logger: silentLogger });
const uploads = new UploadRepository(db);
const storage = new UploadStorage(layer.storage, { publicBucket: true, signedUrlExpiresSeconds: 3600 });
const scanner = new ClamdScanner({ host: process.env.CLAMD_HOST ?? '127.0.0.1', port: Number(process.env.CLAMD_PORT ?? 3310) });
const task = createProcessUploadTask({
  uploads, storage, scanner, logger: silentLogger, leaseMs: 60_000,
  maxBytes: settings.uploadMaxBytes, maxInputPixels: settings.uploadMaxPixels, tempDir: dir,
});

const rssBefore = process.memoryUsage.rss();
const seconds: number[] = [];
let published = '';
for (let i = 0; i < repeats; i++) {
  const id = randomUUID();
  const bytes = await storage.stage(id, createReadStream(file));
  await uploads.create({ id, ownerId: 'bench', kind: 'design-image', stagingKey: uploadKeys.staging(id), bytes, filename: null });
  const started = performance.now();
  const outcome = await task(id, { attempt: 1, maxAttempts: 1 });
  seconds.push((performance.now() - started) / 1000);
  if (outcome.status !== 'PUBLISHED') throw new Error(`upload ${id} ended ${JSON.stringify(outcome)}`);
  published = outcome.key;
}
const info = await layer.storage.head(published);
await layer.storage.close();
await closeDatabase(db);
console.log(JSON.stringify({ seconds, rss_before: rssBefore, peak_rss: process.resourceUsage().maxRSS * 1024, output_bytes: info?.size ?? null }));
