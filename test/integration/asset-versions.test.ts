import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/cli/cleanup.js';
import type { DesignView } from '../../src/designs/design-service.js';
import { removeSupersededImages } from '../../src/designs/superseded-images.js';
import { silentLogger } from '../../src/logger.js';
import { newAssetVersion, renditionKey } from '../../src/storage/index.js';
import { startCloudFrontContractServer, type CloudFrontContractServer } from '../helpers/cloudfront-contract-server.js';
import { authHeaders, createTestApp, SAMPLE_DESIGN, type TestApp } from '../helpers/app.js';

/**
 * Issue #13 through the API: every render publishes under a new version folder, the API
 * answers the new URLs at once, the old ones stay served through ASSET_GRACE_PERIOD and are
 * then removed (and invalidated in CloudFront); the watermark flag is set at create and by
 * PATCH, which renders again.
 */
describe('versioned images, grace period, watermark flag and CDN invalidation (SQLite, local disk)', () => {
  let t: TestApp;
  let cloudfront: CloudFrontContractServer;

  beforeAll(async () => {
    cloudfront = await startCloudFrontContractServer();
    t = await createTestApp({
      env: {
        RENDITIONS: 'thumbnail:200,small:400,preview:600,large:1200',
        IMAGE_FORMATS: 'png,webp',
        WATERMARK_TEXT: 'SAMPLE <b>only</b>',
        WATERMARK_MIN_SIZE: '400',
        CLOUDFRONT_DISTRIBUTION_ID: cloudfront.distributionId,
        CLOUDFRONT_ENDPOINT: cloudfront.endpoint,
        AWS_ACCESS_KEY_ID: cloudfront.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: cloudfront.credentials.secretAccessKey,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await cloudfront?.close();
  });

  const fetchStatic = async (url: string) => t.app.inject({ method: 'GET', url: new URL(url).pathname });
  const pixels = async (url: string) => sharp((await fetchStatic(url)).rawPayload).removeAlpha().raw().toBuffer();
  const patch = async (id: string, body: unknown) =>
    t.app.inject({ method: 'PATCH', url: `/api/v1/designs/${id}`, headers: { ...(await authHeaders()), 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  it('lists every rendition in every format, each served with its size, type and an immutable Cache-Control', async () => {
    const design = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    expect(Object.keys(design.assets!).sort()).toEqual(['large', 'preview', 'small', 'thumbnail']);
    for (const [name, formats] of Object.entries(design.assets!)) {
      expect(Object.keys(formats).sort()).toEqual(['png', 'webp']);
      for (const [format, asset] of Object.entries(formats)) {
        const res = await fetchStatic(asset.url);
        expect(res.statusCode, asset.url).toBe(200);
        expect(res.headers['content-type']).toBe(`image/${format}`);
        expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
        // The seed's two PNGs were made by the render; the rest on this first request, which records their size.
        const made = (await t.app.inject({ method: 'GET', url: `/api/v1/designs/${design.id}`, headers: await authHeaders() })).json<DesignView>().assets![name]![format]!;
        expect(made.url).toBe(asset.url);
        expect(res.rawPayload.length).toBe(made.bytes);
        if ((name === 'preview' || name === 'thumbnail') && format === 'png') expect(asset.bytes).toBe(made.bytes);
        else expect(asset.bytes).toBeNull();
        const again = await fetchStatic(asset.url);
        expect(again.rawPayload.equals(res.rawPayload)).toBe(true);
        const meta = await sharp(res.rawPayload).metadata();
        expect([meta.format, meta.width, meta.height]).toEqual([format, asset.width, asset.height]);
        expect(asset.url).toContain(`/${name}.${format}`);
      }
    }
    expect(design.assets!.preview!.png!.url).toBe(design.preview_url);
    expect(design.assets!.thumbnail!.png!.url).toBe(design.thumbnail_url);
    expect(design.watermark).toBe(false);
    // Six made on request (4 sizes x 2 formats, less the seed's two PNGs), each once.
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(Number(/^customify_renditions_made_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(6);
  });

  it('a re-render answers new URLs at once; the old ones keep their bytes until the grace period ends, then go, and CloudFront is told', async () => {
    const first = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    const oldBytes = (await fetchStatic(first.preview_url!)).rawPayload;
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/designs/${first.id}/render`, headers: await authHeaders() });
    expect(res.statusCode).toBe(202);
    const second = await t.waitForStatus(first.id, 'PUBLISHED');
    const oldUrls = Object.values(first.assets!).flatMap((f) => Object.values(f).map((a) => a.url));
    const newUrls = Object.values(second.assets!).flatMap((f) => Object.values(f).map((a) => a.url));
    expect(newUrls.filter((url) => oldUrls.includes(url))).toEqual([]);
    // Within the grace period: the old URL still gives exactly its old bytes.
    expect((await fetchStatic(first.preview_url!)).rawPayload.equals(oldBytes)).toBe(true);

    // The sweep after the grace period (ASSET_GRACE_PERIOD, 1 h): the old version goes, the new one stays.
    const later = new Date(Date.now() + 2 * 3_600_000);
    const removed = await removeSupersededImages({ designs: t.container.designs, storage: t.container.storage.repository, logger: silentLogger }, later);
    expect(removed).toBeGreaterThanOrEqual(1);
    expect((await fetchStatic(first.preview_url!)).statusCode).toBe(404);
    expect((await fetchStatic(second.preview_url!)).statusCode).toBe(200);
    expect(await t.container.designs.dueSuperseded(later)).toEqual([]);

    // The removed version's paths reach CloudFront, signed and batched.
    await t.container.cdn.flush();
    const paths = cloudfront.invalidations.flatMap((batch) => batch.paths);
    const oldVersion = /\/designs\/[^/]+\/([^/]+)\//.exec(new URL(first.preview_url!).pathname)![1]!;
    expect(paths).toContain(`/designs/${first.id}/${oldVersion}/preview.png`);
    expect(paths.some((p) => p.includes(new URL(second.preview_url!).pathname.split('/')[4]!))).toBe(false);
  });

  it('makes a rendition on request for the current version, and for a replaced one until its grace period ends; an unknown or deleted one is 404', async () => {
    const first = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    await t.app.inject({ method: 'POST', url: `/api/v1/designs/${first.id}/render`, headers: await authHeaders() });
    const second = await t.waitForStatus(first.id, 'PUBLISHED');
    // A page still showing the old version gets every one of its files through the grace period,
    // those never asked for before the re-render included: made now from the old version's manifest.
    expect((await fetchStatic(first.preview_url!)).statusCode).toBe(200);
    const oldLarge = await fetchStatic(first.assets!.large!.webp!.url);
    expect(oldLarge.statusCode).toBe(200);
    expect(oldLarge.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(await sharp(oldLarge.rawPayload).metadata()).toMatchObject({ format: 'webp', width: 1200, height: 1200 });
    const newLarge = await fetchStatic(second.assets!.large!.webp!.url);
    expect(newLarge.statusCode).toBe(200);
    // Same design, same pixels: the old URL's bytes are what the old version would have had.
    expect(oldLarge.rawPayload.equals(newLarge.rawPayload)).toBe(true);
    // After the grace period the sweep removes it with the rest of the old version, and it is not made again.
    const later = new Date(Date.now() + 2 * 3_600_000);
    await removeSupersededImages({ designs: t.container.designs, storage: t.container.storage.repository, logger: silentLogger }, later);
    expect((await fetchStatic(first.assets!.large!.webp!.url)).statusCode).toBe(404);
    expect((await fetchStatic(first.assets!.small!.png!.url)).statusCode).toBe(404);
    const unknown = second.assets!.small!.png!.url.replace(/\/[0-9a-z]+\/small\.png$/, `/${newAssetVersion()}/small.png`);
    expect((await fetchStatic(unknown)).statusCode).toBe(404);
    expect((await fetchStatic(second.assets!.preview!.png!.url.replace('preview.png', 'print.png'))).statusCode).toBe(404);
    await t.app.inject({ method: 'DELETE', url: `/api/v1/designs/${first.id}`, headers: await authHeaders() });
    expect((await fetchStatic(second.assets!.small!.webp!.url)).statusCode).toBe(404);
  });

  it('a replaced version keeps its own watermark: made during the grace period after a PATCH, its files are as they were', async () => {
    const first = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    expect(first.watermark).toBe(false);
    expect((await patch(first.id, { watermark: true })).statusCode).toBe(200);
    const marked = await t.waitForStatus(first.id, 'PUBLISHED');
    expect(marked.watermark).toBe(true);
    const oldLarge = await pixels(first.assets!.large!.png!.url);
    const newLarge = await pixels(marked.assets!.large!.png!.url);
    expect(oldLarge.equals(newLarge)).toBe(false);
    // The old version's large.png, made after the PATCH, is the clean one: the same pixels as a clean render's.
    const clean = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    expect(oldLarge.equals(await pixels(clean.assets!.large!.png!.url))).toBe(true);
  });

  it('deleting a design invalidates its whole folder in CloudFront', async () => {
    const design = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/designs/${design.id}`, headers: await authHeaders() });
    expect(res.statusCode).toBe(204);
    await t.container.cdn.flush();
    expect(cloudfront.invalidations.flatMap((batch) => batch.paths)).toContain(`/designs/${design.id}/*`);
  });

  it('watermark at create: on the renditions of at least WATERMARK_MIN_SIZE only; PATCH turns it off and renders new URLs', async () => {
    const plain = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    const marked = await t.waitForStatus((await t.createDesign({ ...SAMPLE_DESIGN, watermark: true })).id, 'PUBLISHED');
    expect(marked.watermark).toBe(true);
    expect((await pixels(marked.assets!.thumbnail!.png!.url)).equals(await pixels(plain.assets!.thumbnail!.png!.url))).toBe(true);
    for (const name of ['small', 'preview', 'large']) {
      expect((await pixels(marked.assets![name]!.png!.url)).equals(await pixels(plain.assets![name]!.png!.url)), name).toBe(false);
    }

    const off = await patch(marked.id, { watermark: false });
    expect(off.statusCode).toBe(200);
    expect(off.json<DesignView>()).toMatchObject({ status: 'PENDING', watermark: false });
    const again = await t.waitForStatus(marked.id, 'PUBLISHED');
    expect(again.preview_url).not.toBe(marked.preview_url);
    expect((await pixels(again.preview_url!)).equals(await pixels(plain.preview_url!))).toBe(true);
    // The same flag again changes nothing and renders nothing.
    const same = await patch(marked.id, { watermark: false });
    expect(same.json<DesignView>()).toMatchObject({ status: 'PUBLISHED', preview_url: again.preview_url });
  });

  it.each([
    ['PATCH a watermark that is not a boolean', 'patch', { watermark: 'yes' }, 'watermark'],
    ['PATCH another field', 'patch', { watermark: true, design_data: { text: 'x' } }, 'design_data'],
    ['PATCH an empty body', 'patch', {}, 'watermark'],
    ['POST a watermark that is not a boolean', 'post', { ...SAMPLE_DESIGN, watermark: 1 }, 'watermark'],
  ])('%s: 400 naming the field, nothing changed', async (_what, method, body, field) => {
    const design = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    const res = method === 'patch'
      ? await patch(design.id, body)
      : await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers: { ...(await authHeaders()), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.field).toBe(field);
    // A field PATCH does not take is named with the one it does.
    if (field === 'design_data') expect(res.json().error.message).toBe('design_data is not a known field; remove it (known fields of the body: watermark).');
    const after = await t.app.inject({ method: 'GET', url: `/api/v1/designs/${design.id}`, headers: await authHeaders() });
    expect(after.json<DesignView>()).toMatchObject({ status: 'PUBLISHED', preview_url: design.preview_url, watermark: false });
  });

  it('PATCH of someone else\'s design is 404, as every other route', async () => {
    const design = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    const res = await t.app.inject({
      method: 'PATCH', url: `/api/v1/designs/${design.id}`, headers: { ...(await authHeaders('mallory')), 'content-type': 'application/json' }, payload: JSON.stringify({ watermark: true }),
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('DESIGN_NOT_FOUND');
  });

  it('customify cleanup --orphans removes a version folder no design and no grace period holds, once an hour old, and keeps the rest', async () => {
    const design = await t.waitForStatus((await t.createDesign()).id, 'PUBLISHED');
    const stray = renditionKey(design.id, newAssetVersion(Date.now() - 7_200_000), 'preview', 'png');
    await t.container.storage.storage.put(stray, Buffer.from('left by a crashed render'), { contentType: 'image/png' });
    const lines: string[] = [];
    const options = { storage: t.container.storage.storage, designs: t.container.designs, olderThanMs: 365 * 86_400_000, prefix: `designs/${design.id}/`, dryRun: false, orphans: true, print: (line: string) => lines.push(line) };
    // Written just now: it may be a render about to publish, so it stays.
    await runCleanup({ ...options, now: new Date() });
    expect(existsSync(path.join(t.storageRoot, stray))).toBe(true);
    const result = await runCleanup({ ...options, now: new Date(Date.now() + 2 * 3_600_000) });
    expect(result.orphans).toBe(1);
    expect(existsSync(path.join(t.storageRoot, stray))).toBe(false);
    expect(lines.some((line) => line.includes(stray) && line.includes('no design and no grace period holds'))).toBe(true);
    expect((await fetchStatic(design.preview_url!)).statusCode).toBe(200);
  });
});
