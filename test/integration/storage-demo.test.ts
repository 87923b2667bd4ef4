import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { createStorageLayer } from '../../src/storage/index.js';
import { runStorageDemo } from '../../src/storage/storage-demo.js';
import { createTestBucket, deleteTestBucket, getS3TestServer, putPublicReadPolicy, s3Settings } from '../helpers/s3.js';
import { createTempDir, localSettings, removeTempDir } from '../helpers/tmp.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

async function demo(settings: Parameters<typeof runStorageDemo>[0]): Promise<{ lines: string[]; designId: string; value: (label: string) => string }> {
  const lines: string[] = [];
  await runStorageDemo(settings, (line) => lines.push(line));
  const value = (label: string) => lines.find((l) => l.startsWith(`${label}: `))!.slice(label.length + 2);
  return { lines, designId: value('Design'), value };
}

async function pngSize(bytes: Buffer | string): Promise<string> {
  const { format, width, height } = await sharp(bytes).metadata();
  return `${format} ${width}x${height}`;
}

describe("storage demo (the seed's Test Direct S3 Upload)", () => {
  let root: string;
  beforeAll(async () => {
    root = await createTempDir('demo');
  });
  afterAll(async () => {
    await removeTempDir(root);
  });

  it('local mode: stores a 600x600 preview and 200x200 thumbnail, prints static URLs and the seed\'s three lines', async () => {
    const storagePath = path.join(root, 'storage');
    const { lines, designId } = await demo(localSettings(storagePath));
    const base = `http://localhost:8000/static/designs/${designId}`;
    expect(lines).toEqual([
      `Storage: local folder ${storagePath}, served at http://localhost:8000/static/`,
      expect.stringMatching(new RegExp(`^Design: ${UUID}$`)),
      `Preview: ${base}/preview.png`,
      `Thumbnail: ${base}/thumbnail.png`,
      'Uploaded: http://localhost:8000/static/test/upload.png',
      'Exists: true',
      'Deleted: true',
    ]);
    const folder = path.join(storagePath, 'designs', designId);
    // The seed's `ls ./storage/designs/{design_id}/` (metadata sits beside each file as a dot-file).
    expect((await readdir(folder)).filter((n) => !n.startsWith('.')).sort()).toEqual(['preview.png', 'thumbnail.png']);
    expect(await pngSize(path.join(folder, 'preview.png'))).toBe('png 600x600');
    expect(await pngSize(path.join(folder, 'thumbnail.png'))).toBe('png 200x200');
    expect((await readdir(storagePath)).filter((n) => !n.startsWith('.'))).toEqual(['designs']);
  });

  describe('S3 mode', () => {
    let bucket: string;
    const server = getS3TestServer();
    beforeAll(async () => {
      bucket = await createTestBucket(await server, 'demo');
    });
    afterAll(async () => {
      if (bucket) await deleteTestBucket(await server, bucket);
    });

    it('uploads to the bucket and prints URLs that serve the PNGs', async () => {
      const s3 = await server;
      if (s3.enforcesBucketPolicies) await putPublicReadPolicy(s3, bucket);
      const { lines, value } = await demo(s3Settings(s3, bucket));
      expect(lines.slice(-3)).toEqual([`Uploaded: ${s3.endpoint}/${bucket}/test/upload.png`, 'Exists: true', 'Deleted: true']);
      expect(lines[0]).toBe(`Storage: S3 bucket ${bucket} in ${s3.region} at ${s3.endpoint}`);
      for (const [label, size] of [['Preview', 'png 600x600'], ['Thumbnail', 'png 200x200']] as const) {
        const response = await fetch(value(label));
        expect(response.status).toBe(200);
        expect(await pngSize(Buffer.from(await response.arrayBuffer()))).toBe(size);
      }
      const check = await createStorageLayer(s3Settings(s3, bucket), { logger: silentLogger });
      expect(await check.storage.exists('test/upload.png')).toBe(false);
      expect((await check.storage.list('designs/')).objects).toHaveLength(2);
      await check.storage.close();
    });
  });
});
