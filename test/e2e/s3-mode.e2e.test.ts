import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Environment } from '../../src/config.js';
import type { DesignView } from '../../src/designs/design-service.js';
import { createTestApp, pollForStatus, SAMPLE_DESIGN, startTestServer, tokenFor, type TestServer } from '../helpers/app.js';
import { createTestBucket, deleteTestBucket, getS3TestServer, s3Env, putPublicReadPolicy, testS3Client } from '../helpers/s3.js';

/**
 * The seed's "Test S3 Storage" over real HTTP against a real S3-protocol server (Ceph RGW
 * at 127.0.0.1:7480, or S3_ENDPOINT; see test/helpers/s3.ts), one fresh bucket per variant:
 * public bucket, CloudFront URLs, private bucket with presigned URLs.
 */

const s3 = await getS3TestServer();

interface Harness {
  server: TestServer;
  bucket: string;
  token: string;
  createAndPublish(): Promise<DesignView>;
  get(id: string): Promise<DesignView>;
  keysOf(id: string): Promise<string[]>;
  stop(): Promise<void>;
}

async function startHarness(label: string, extra: Environment, options: { publicRead?: boolean } = {}): Promise<Harness> {
  const bucket = await createTestBucket(s3, label);
  if (options.publicRead && s3.enforcesBucketPolicies) await putPublicReadPolicy(s3, bucket);
  let server: TestServer;
  try {
    server = await startTestServer(s3Env(s3, bucket, extra));
  } catch (error) {
    await deleteTestBucket(s3, bucket);
    throw error;
  }
  const token = await tokenFor(`s3-${label}`);
  const headers = { authorization: `Bearer ${token}` };
  const get = async (id: string): Promise<DesignView> => {
    const res = await fetch(`${server.url}/api/v1/designs/${id}`, { headers });
    expect(res.status).toBe(200);
    return (await res.json()) as DesignView;
  };
  return {
    server,
    bucket,
    token,
    get,
    async createAndPublish() {
      const res = await fetch(`${server.url}/api/v1/designs`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(SAMPLE_DESIGN),
      });
      expect(res.status).toBe(201);
      const created = (await res.json()) as DesignView;
      return pollForStatus(() => get(created.id), 'PUBLISHED', 30_000);
    },
    async keysOf(id: string) {
      const client = testS3Client(s3);
      try {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `designs/${id}/` }));
        return (page.Contents ?? []).map((o) => o.Key!).sort();
      } finally {
        client.destroy();
      }
    },
    async stop() {
      try {
        await server.stop();
      } finally {
        await deleteTestBucket(s3, bucket);
      }
    },
  };
}

async function expectPng(url: string, size: number): Promise<void> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  expect(meta.format).toBe('png');
  expect(Math.max(meta.width, meta.height)).toBe(size);
}


/** The version folder of a published design's images (issue #13): designs/{id}/{version}/preview.png. */
function versionOf(design: { preview_url: string | null }): string {
  const version = /\/designs\/[0-9a-f-]{36}\/([0-9a-z]+)\/preview\.png$/.exec(new URL(design.preview_url!).pathname)?.[1];
  expect(version).toBeDefined();
  return version!;
}
describe(`S3 mode end to end against ${s3.kind} at ${s3.endpoint}`, () => {
  describe('public bucket (S3_PUBLIC_BUCKET=true, PublicReadGetObject policy)', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness('e2e-public', { S3_PUBLIC_BUCKET: 'true' }, { publicRead: true });
    });
    afterAll(async () => {
      await h?.stop();
    });

    it('renders to the bucket and answers direct object URLs that fetch as image/png', async () => {
      const design = await h.createAndPublish();
      const dir = `designs/${design.id}/${versionOf(design)}`;
      expect(design.preview_url).toBe(`${s3.endpoint}/${h.bucket}/${dir}/preview.png`);
      expect(design.thumbnail_url).toBe(`${s3.endpoint}/${h.bucket}/${dir}/thumbnail.png`);
      expect(await h.keysOf(design.id)).toEqual([`${dir}/preview.png`, `${dir}/thumbnail.png`]);

      const client = testS3Client(s3);
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: h.bucket, Key: `${dir}/preview.png` }));
        // Immutable (issue #13): the object's Cache-Control lets every cache keep it for a year.
        expect(head.CacheControl).toBe('public, max-age=31536000, immutable');
        expect(head.ContentType).toBe('image/png');
        // The seed's metadata. Ceph RGW hands `design_id` back as `design-id` (it turns
        // underscores in x-amz-meta-* names into hyphens); AWS keeps the underscore.
        expect(head.Metadata?.design_id ?? head.Metadata?.['design-id']).toBe(design.id);
        expect(head.Metadata?.type).toBe('preview');
      } finally {
        client.destroy();
      }

      // Anonymous reads work through the bucket policy (s3rver ignores policies and serves anyway).
      await expectPng(design.preview_url!, 600);
      await expectPng(design.thumbnail_url!, 200);
    });

    it('deletes the objects with the design', async () => {
      const design = await h.createAndPublish();
      const res = await fetch(`${h.server.url}/api/v1/designs/${design.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${h.token}` } });
      expect(res.status).toBe(204);
      expect(await h.keysOf(design.id)).toEqual([]);
    });

    it('serves no stored file through /static (the bucket does); an unmade rendition is made there and redirected to the bucket', async () => {
      const stat = await fetch(`${h.server.url}/static/designs/x/preview.png`);
      expect(stat.status).toBe(404);
      expect(((await stat.json()) as { error: { code: string } }).error.code).toBe('FILE_NOT_FOUND');
      const design = await h.createAndPublish();
      const dir = `designs/${design.id}/${versionOf(design)}`;
      expect(await h.keysOf(design.id)).toEqual([`${dir}/preview.png`, `${dir}/thumbnail.png`]);
      const large = design.assets!.large!.webp!;
      expect(large).toEqual({ url: `${h.server.url}/static/${dir}/large.webp`, width: 1200, height: 1200, bytes: null });
      const made = await fetch(large.url, { redirect: 'manual' });
      expect(made.status).toBe(302);
      expect(made.headers.get('location')).toBe(`${s3.endpoint}/${h.bucket}/${dir}/large.webp`);
      const image = await fetch(made.headers.get('location')!);
      expect(image.status).toBe(200);
      expect(image.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
      expect([meta.format, meta.width]).toEqual(['webp', 1200]);
      // Once made, the API answers the bucket's own URL, with its size.
      const after = (await (await fetch(`${h.server.url}/api/v1/designs/${design.id}`, { headers: { authorization: `Bearer ${h.token}` } })).json()) as DesignView;
      expect(after.assets!.large!.webp!.url).toBe(`${s3.endpoint}/${h.bucket}/${dir}/large.webp`);
      expect(after.assets!.large!.webp!.bytes).toBeGreaterThan(0);
      const ready = await fetch(`${h.server.url}/readyz`);
      expect(ready.status).toBe(200);
    });
  });

  describe('CloudFront (CLOUDFRONT_DOMAIN=d123abc.cloudfront.net)', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness('e2e-cdn', { S3_PUBLIC_BUCKET: 'true', CLOUDFRONT_DOMAIN: 'd123abc.cloudfront.net' });
    });
    afterAll(async () => {
      await h?.stop();
    });

    it('answers CloudFront URLs for objects stored in the bucket', async () => {
      const design = await h.createAndPublish();
      const dir = `designs/${design.id}/${versionOf(design)}`;
      expect(design.preview_url).toBe(`https://d123abc.cloudfront.net/${dir}/preview.png`);
      expect(design.thumbnail_url).toBe(`https://d123abc.cloudfront.net/${dir}/thumbnail.png`);
      expect(await h.keysOf(design.id)).toEqual([`${dir}/preview.png`, `${dir}/thumbnail.png`]);
    });
  });

  describe('private bucket (S3_PUBLIC_BUCKET=false)', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness('e2e-private', { S3_PUBLIC_BUCKET: 'false', S3_SIGNED_URL_EXPIRES: '300' });
    });
    afterAll(async () => {
      await h?.stop();
    });

    it('answers presigned URLs, fresh on each read, that fetch as image/png', async () => {
      const design = await h.createAndPublish();
      const first = new URL(design.preview_url!);
      expect(`${first.origin}${first.pathname}`).toBe(`${s3.endpoint}/${h.bucket}/designs/${design.id}/${versionOf(design)}/preview.png`);
      expect(first.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      expect(first.searchParams.get('X-Amz-Expires')).toBe('300');
      await expectPng(design.preview_url!, 600);
      await expectPng(design.thumbnail_url!, 200);

      if (s3.verifiesSignatures) {
        // Private means private: the same object without a signature is refused.
        const unsigned = await fetch(`${first.origin}${first.pathname}`);
        expect(unsigned.status).toBe(403);
      }

      // Signed afresh at read time: a later read carries a new date and signature, and works too.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const again = await h.get(design.id);
      const second = new URL(again.preview_url!);
      expect(second.searchParams.get('X-Amz-Date')).not.toBe(first.searchParams.get('X-Amz-Date'));
      expect(second.searchParams.get('X-Amz-Signature')).not.toBe(first.searchParams.get('X-Amz-Signature'));
      await expectPng(again.preview_url!, 600);
    });
  });

  it('reports storage not ready when the bucket does not exist', async () => {
    const t = await createTestApp({ background: false, env: s3Env(s3, `t-missing-${Date.now().toString(36)}`) });
    try {
      const res = await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().failing).toEqual(['storage']);
      expect(res.json().checks.storage.error).toMatch(/^STORAGE_/);
    } finally {
      await t.close();
    }
  });
});
