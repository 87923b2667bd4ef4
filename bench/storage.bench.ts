/**
 * Storage benchmark (issue: atomic, durable local writes within 3x of a plain write).
 * Every variant writes the same bytes in the same run, interleaved so machine noise hits all
 * of them; figures are medians of RUNS runs after WARMUP. Keys are overwritten in place (a
 * re-render), so folder creation is paid in the warm-up only, by every variant alike.
 *   npx tsx bench/storage.bench.ts [--runs 30] [--warmup 5]
 * S3 runs against the server test/helpers/s3.ts resolves (S3_ENDPOINT, Ceph RGW on :7480, else s3rver).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { open, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { silentLogger } from '../src/logger.js';
import { createStorageLayer, type StorageLayer } from '../src/storage/index.js';
import { createTestBucket, deleteTestBucket, getS3TestServer, s3Settings, testS3Client } from '../test/helpers/s3.js';
import { createTempDir, localSettings, removeTempDir } from '../test/helpers/tmp.js';
import { fixed, median, percentile, table } from './lib/stats.js';

const SIZES = [
  { label: '100 KB', bytes: 100 * 1024, seedLocal: '<1 ms', seedS3: '100-200 ms' },
  { label: '500 KB', bytes: 500 * 1024, seedLocal: '1 ms', seedS3: '300-500 ms' },
  { label: '2 MB', bytes: 2 * 1024 * 1024, seedLocal: '5 ms', seedS3: '1-2 s' },
] as const;

type Variant = { name: string; write: (data: Buffer) => Promise<unknown> };

/** Milliseconds per variant: WARMUP discarded, then RUNS rounds, each round running every variant once in rotated order. */
async function measure(variants: Variant[], data: Buffer, runs: number, warmup: number): Promise<number[][]> {
  const samples = variants.map(() => [] as number[]);
  for (let round = 0; round < warmup + runs; round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = (i + round) % variants.length;
      const started = performance.now();
      await variants[v]!.write(data);
      if (round >= warmup) samples[v]!.push(performance.now() - started);
    }
  }
  return samples;
}

/** write + fsync in place: durability alone, the floor any durable write pays. */
async function durableWrite(file: string, data: Buffer): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** write + fsync + rename + fsync(folder): what an atomic, durable write costs without our layer. */
async function rawAtomicWrite(file: string, data: Buffer): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function localRows(runs: number, warmup: number): Promise<Array<Array<string | number>>> {
  const root = await createTempDir('bench-storage');
  const layer = await createStorageLayer(localSettings(path.join(root, 'storage')), { logger: silentLogger });
  const designId = randomUUID();
  const rows: Array<Array<string | number>> = [];
  try {
    for (const size of SIZES) {
      const data = randomBytes(size.bytes);
      const variants: Variant[] = [
        { name: 'fs.promises.writeFile (baseline: not atomic, not durable)', write: (d) => writeFile(path.join(root, 'plain.png'), d) },
        { name: 'raw write + fsync (durable, not atomic)', write: (d) => durableWrite(path.join(root, 'durable.png'), d) },
        { name: 'raw write + fsync + rename + fsync(dir)', write: (d) => rawAtomicWrite(path.join(root, 'raw.png'), d) },
        { name: 'ObjectStorage.put (atomic + fsync)', write: (d) => layer.storage.put(`designs/${designId}/large.png`, d, { contentType: 'image/png' }) },
        { name: 'DesignAssetStorage.uploadDesignPreview', write: (d) => layer.repository.uploadDesignPreview(designId, d) },
      ];
      const samples = await measure(variants, data, runs, warmup);
      const [plain, raw] = [median(samples[0]!), median(samples[2]!)];
      variants.forEach((v, i) => {
        const m = median(samples[i]!);
        rows.push([size.label, v.name, fixed(m), fixed(percentile(samples[i]!, 90)), `${fixed(m / plain)}x`, i >= 3 ? `${fixed(m / raw)}x` : '', i === 0 ? size.seedLocal : '']);
      });
    }
  } finally {
    await layer.storage.close();
    await removeTempDir(root);
  }
  return rows;
}

async function s3Rows(runs: number, warmup: number): Promise<{ server: string; rows: Array<Array<string | number>> }> {
  const server = await getS3TestServer();
  const bucket = await createTestBucket(server, 'bench');
  const client = testS3Client(server);
  let layer: StorageLayer | undefined;
  const rows: Array<Array<string | number>> = [];
  try {
    layer = await createStorageLayer(s3Settings(server, bucket), { logger: silentLogger });
    const designId = randomUUID();
    for (const size of SIZES) {
      const data = randomBytes(size.bytes);
      const variants: Variant[] = [
        { name: 'raw SDK PutObjectCommand (same client settings)', write: (d) => client.send(new PutObjectCommand({ Bucket: bucket, Key: 'raw.png', Body: d, ContentLength: d.length, ContentType: 'image/png' })) },
        { name: 'ObjectStorage.put', write: (d) => layer!.storage.put(`designs/${designId}/large.png`, d, { contentType: 'image/png' }) },
        { name: 'DesignAssetStorage.uploadDesignPreview', write: (d) => layer!.repository.uploadDesignPreview(designId, d) },
      ];
      const samples = await measure(variants, data, runs, warmup);
      const raw = median(samples[0]!);
      variants.forEach((v, i) => {
        const m = median(samples[i]!);
        rows.push([size.label, v.name, fixed(m), fixed(percentile(samples[i]!, 90)), `${fixed(m / raw)}x`, i === 0 ? size.seedS3 : '']);
      });
    }
  } finally {
    await layer?.storage.close();
    client.destroy();
    await deleteTestBucket(server, bucket);
  }
  return { server: `${server.kind} at ${server.endpoint}`, rows };
}

/** Runs the benchmark and returns its report (Markdown tables). */
export async function run(options: { runs?: number; warmup?: number } = {}): Promise<string> {
  const runs = options.runs ?? 30;
  const warmup = options.warmup ?? 5;
  const local = await localRows(runs, warmup);
  const out = [
    `## Storage: local writes (medians of ${runs} runs after ${warmup} warm-up, same run, interleaved)`,
    '',
    table(['size', 'variant', 'median ms', 'p90 ms', 'vs plain writeFile', 'vs raw atomic', "seed's table (local)"], local),
    '',
    'Target: atomic, durable local writes within 3x of a plain write ("vs plain writeFile" of the two layer rows).',
    'The fsync rows are the floor on this disk: whatever a durable write costs beyond them is our layer ("vs raw atomic").',
  ];
  try {
    const s3 = await s3Rows(runs, warmup);
    out.push('', `## Storage: S3 uploads to ${s3.server} (medians of ${runs} runs after ${warmup} warm-up)`, '',
      table(['size', 'variant', 'median ms', 'p90 ms', 'vs raw SDK', "seed's table (S3 us-east-1, over the internet)"], s3.rows));
  } catch (error) {
    out.push('', `S3 skipped: ${(error as Error).message}`);
  }
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, warmup: { type: 'string' } } });
  console.log(await run({ runs: values.runs ? Number(values.runs) : undefined, warmup: values.warmup ? Number(values.warmup) : undefined }));
}
