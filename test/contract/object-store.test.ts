import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom, type Environment } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { createDriver, createStorageLayer, type StorageLayer } from '../../src/storage/index.js';
import { createTestBucket, deleteTestBucket, getS3TestServer, putPublicReadPolicy, s3Settings } from '../helpers/s3.js';
import { createTempDir, localSettings, removeTempDir } from '../helpers/tmp.js';
import { fingerprint, objectStoreContract } from './object-store.contract.js';

const server = await getS3TestServer();

objectStoreContract('local', async () => {
  const root = await createTempDir('contract-local');
  const layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
  return { layer, cleanup: () => removeTempDir(root) };
});

objectStoreContract(`s3 (${server.kind} at ${server.endpoint})`, async () => {
  const bucket = await createTestBucket(server, 'contract');
  const layer = await createStorageLayer(s3Settings(server, bucket), { logger: silentLogger });
  return {
    layer,
    cleanup: async () => {
      await layer.storage.close();
      await deleteTestBucket(server, bucket);
    },
  };
}, { paginatesListings: server.paginatesListings });

describe('local driver: metadata files', () => {
  let root: string;
  let layer: StorageLayer;
  beforeAll(async () => {
    root = await createTempDir('local-meta');
    layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
  });
  afterAll(() => removeTempDir(root));
  const files = async (designId: string) => (await readdir(path.join(root, 'designs', designId))).sort();

  it('design assets need none: their key says image/png, design_id and type', async () => {
    const designId = randomUUID();
    await Promise.all([layer.repository.uploadDesignPreview(designId, randomBytes(100)), layer.repository.uploadDesignThumbnail(designId, randomBytes(50))]);
    expect(await files(designId)).toEqual(['preview.png', 'thumbnail.png']);
    expect(await layer.storage.head(`designs/${designId}/thumbnail.png`)).toMatchObject({ contentType: 'image/png', metadata: { design_id: designId, type: 'thumbnail' } });
  });

  it('anything the key does not imply gets a dot-file beside the data, removed again when a later put no longer needs it', async () => {
    const designId = randomUUID();
    const key = `designs/${designId}/preview.png`;
    await layer.storage.put(key, Buffer.from('a'), { contentType: 'image/png', metadata: { design_id: designId, type: 'preview', extra: 'yes' } });
    expect(await files(designId)).toEqual(['.preview.png.meta.json', 'preview.png']);
    expect((await layer.storage.list(`designs/${designId}/`)).objects.map((o) => o.key)).toEqual([key]);
    await layer.repository.uploadDesignPreview(designId, Buffer.from('b'));
    expect(await files(designId)).toEqual(['preview.png']);
    expect((await layer.storage.head(key))?.metadata).toEqual({ design_id: designId, type: 'preview' });
  });

  it('a file copied in by hand takes its content type from the extension', async () => {
    const designId = randomUUID();
    await mkdir(path.join(root, 'designs', designId), { recursive: true });
    await writeFile(path.join(root, 'designs', designId, 'notes.txt'), 'hi');
    expect(await layer.storage.head(`designs/${designId}/notes.txt`)).toMatchObject({ size: 2, contentType: 'text/plain', metadata: {} });
  });
});

describe('URL shapes (configuration and driver only, no I/O)', () => {
  const id = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';
  const urlOf = async (env: Environment, key = `designs/${id}/preview.png`) => {
    const driver = await createDriver(configFrom(env));
    try {
      return driver.publicUrl(key);
    } finally {
      await driver.close();
    }
  };

  it('local: PUBLIC_BASE_URL + /static/ + key (the seed\'s http://localhost:8000/static/designs/{id}/preview.png)', async () => {
    expect(await urlOf({})).toBe(`http://localhost:8000/static/designs/${id}/preview.png`);
    expect(await urlOf({ PUBLIC_BASE_URL: 'https://cdn.example.com/' })).toBe(`https://cdn.example.com/static/designs/${id}/preview.png`);
  });

  it('S3 default: https://{bucket}.s3.{region}.amazonaws.com/{key}', async () => {
    expect(await urlOf({ USE_LOCAL_STORAGE: 'false', S3_BUCKET_NAME: 'customify-dev' }))
      .toBe(`https://customify-dev.s3.us-east-1.amazonaws.com/designs/${id}/preview.png`);
    expect(await urlOf({ USE_LOCAL_STORAGE: 'false', AWS_REGION: 'eu-west-3' }))
      .toBe(`https://customify-production.s3.eu-west-3.amazonaws.com/designs/${id}/preview.png`);
  });

  it('CloudFront: https://{CLOUDFRONT_DOMAIN}/{key}, whatever the endpoint', async () => {
    expect(await urlOf({ USE_LOCAL_STORAGE: 'false', CLOUDFRONT_DOMAIN: 'd123abc.cloudfront.net' }))
      .toBe(`https://d123abc.cloudfront.net/designs/${id}/preview.png`);
    expect(await urlOf({ USE_LOCAL_STORAGE: 'false', CLOUDFRONT_DOMAIN: 'https://d123abc.cloudfront.net/', S3_ENDPOINT: 'http://127.0.0.1:7480' }))
      .toBe(`https://d123abc.cloudfront.net/designs/${id}/preview.png`);
  });

  it('custom endpoint: path-style {endpoint}/{bucket}/{key} by default, virtual-hosted when S3_FORCE_PATH_STYLE=false', async () => {
    expect(await urlOf({ USE_LOCAL_STORAGE: 'false', S3_ENDPOINT: 'http://127.0.0.1:7480', S3_BUCKET_NAME: 'customify-dev' }))
      .toBe(`http://127.0.0.1:7480/customify-dev/designs/${id}/preview.png`);
    expect(await urlOf({ USE_LOCAL_STORAGE: 'false', S3_ENDPOINT: 'https://minio.example.com', S3_FORCE_PATH_STYLE: 'false', S3_BUCKET_NAME: 'assets' }))
      .toBe(`https://assets.minio.example.com/designs/${id}/preview.png`);
  });

  it('encodes each key segment for the URL', async () => {
    expect(await urlOf({}, "designs/it's(1)!.png")).toBe("http://localhost:8000/static/designs/it's(1)!.png");
  });
});

describe(`public and signed URLs, fetched from the real endpoint (${server.kind})`, () => {
  let publicBucket: string;
  let privateBucket: string;
  let publicLayer: StorageLayer;
  let privateLayer: StorageLayer;

  beforeAll(async () => {
    [publicBucket, privateBucket] = await Promise.all([createTestBucket(server, 'public'), createTestBucket(server, 'private')]);
    // The seed's bucket policy (spec: AWS Setup, step 2). s3rver serves every object anonymously anyway.
    if (server.enforcesBucketPolicies) await putPublicReadPolicy(server, publicBucket);
    publicLayer = await createStorageLayer(s3Settings(server, publicBucket), { logger: silentLogger });
    privateLayer = await createStorageLayer(s3Settings(server, privateBucket, { S3_PUBLIC_BUCKET: 'false', S3_SIGNED_URL_EXPIRES: '600' }), { logger: silentLogger });
  });
  afterAll(async () => {
    await publicLayer?.storage.close();
    await privateLayer?.storage.close();
    await Promise.all([publicBucket && deleteTestBucket(server, publicBucket), privateBucket && deleteTestBucket(server, privateBucket)]);
  });

  it('a public bucket\'s preview URL is {endpoint}/{bucket}/designs/{id}/preview.png and serves the same bytes as image/png', async () => {
    const id = randomUUID();
    const png = randomBytes(20 * 1024);
    const url = await publicLayer.repository.uploadDesignPreview(id, png);
    expect(url).toBe(`${server.endpoint}/${publicBucket}/designs/${id}/preview.png`);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(fingerprint(Buffer.from(await response.arrayBuffer()))).toBe(fingerprint(png));
  });

  it('a private bucket (S3_PUBLIC_BUCKET=false) hands out signed URLs that serve the same bytes', async () => {
    const id = randomUUID();
    const png = randomBytes(20 * 1024);
    const url = await privateLayer.repository.uploadDesignThumbnail(id, png);
    expect(url.startsWith(`${server.endpoint}/${privateBucket}/designs/${id}/thumbnail.png?`)).toBe(true);
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('600');
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(fingerprint(Buffer.from(await response.arrayBuffer()))).toBe(fingerprint(png));
    // urlFor signs afresh for a stored key.
    const again = await fetch(await privateLayer.repository.urlFor(`designs/${id}/thumbnail.png`));
    expect(fingerprint(Buffer.from(await again.arrayBuffer()))).toBe(fingerprint(png));
  });

  it.skipIf(!server.enforcesBucketPolicies)('a private bucket\'s objects are refused without a signature (403)', async () => {
    const key = `designs/${randomUUID()}/preview.png`;
    await privateLayer.storage.put(key, Buffer.from('secret'), { contentType: 'image/png' });
    expect((await fetch(privateLayer.storage.publicUrl(key))).status).toBe(403);
  });

  it('local mode has no signing: its signed URL is its static URL', async () => {
    const root = await createTempDir('signed-local');
    try {
      const layer = await createStorageLayer(localSettings(root, { S3_PUBLIC_BUCKET: 'false' }), { logger: silentLogger });
      const id = randomUUID();
      const url = await layer.repository.uploadDesignPreview(id, Buffer.from('png'));
      expect(url).toBe(`http://localhost:8000/static/designs/${id}/preview.png`);
      expect(await layer.storage.signedUrl(`designs/${id}/preview.png`, 60)).toBe(url);
      expect(await layer.s3Client.getSignedUrl(`designs/${id}/preview.png`)).toBe(url);
    } finally {
      await removeTempDir(root);
    }
  });
});
