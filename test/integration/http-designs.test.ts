import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesignView } from '../../src/designs/design-service.js';
import { authHeaders, createTestApp, SAMPLE_DESIGN, type TestApp } from '../helpers/app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('designs API over app.inject (SQLite file, local storage, in-process worker)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates a design: 201, Location, PENDING, no URLs yet', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers: await authHeaders(), payload: SAMPLE_DESIGN });
    expect(res.statusCode).toBe(201);
    const body = res.json<DesignView>();
    expect(body.id).toMatch(UUID);
    expect(res.headers.location).toBe(`/api/v1/designs/${body.id}`);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(body).toMatchObject({
      status: 'PENDING',
      product_type: 't-shirt',
      design_data: { text: 'Test Design', font: 'Bebas-Bold', color: '#FF0000' },
      preview_url: null,
      thumbnail_url: null,
      error: null,
      published_at: null,
      warnings: [],
    });
    expect(new Date(body.created_at).toISOString()).toBe(body.created_at);
  });

  it('accepts text that hardly shows on its background, with a LOW_CONTRAST warning in POST, GET and list', async () => {
    const user = 'low-contrast';
    const payload = { ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, color: '#FF0000', text_color: '#f00' } };
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers: await authHeaders(user), payload });
    expect(res.statusCode).toBe(201);
    const created = res.json<DesignView>();
    const warning = { code: 'LOW_CONTRAST', field: 'design_data.text_color', message: expect.stringContaining('1.00:1') as unknown };
    expect(created.warnings).toEqual([warning]);
    expect(created.warnings[0]?.message).toContain('#f00');
    const got = await t.app.inject({ method: 'GET', url: `/api/v1/designs/${created.id}`, headers: await authHeaders(user) });
    expect(got.json<DesignView>().warnings).toEqual([warning]);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: await authHeaders(user) });
    expect(list.json<{ items: DesignView[] }>().items.map((d) => d.warnings)).toEqual([[warning]]);
  });

  it('renders it: PUBLISHED with the seed URL shapes, PNG files of 600x600 and at most 200x200 on disk, served by /static', async () => {
    const created = await t.createDesign();
    const design = await t.waitForStatus(created.id, 'PUBLISHED');
    // The seed's shapes with the render's version folder between the design and the file (issue #13).
    const version = /\/designs\/[0-9a-f-]{36}\/([0-9a-z]+)\/preview\.png$/.exec(design.preview_url!)?.[1];
    expect(version).toBeDefined();
    expect(design.preview_url).toBe(`http://localhost:8000/static/designs/${created.id}/${version}/preview.png`);
    expect(design.thumbnail_url).toBe(`http://localhost:8000/static/designs/${created.id}/${version}/thumbnail.png`);
    expect(design.published_at).not.toBeNull();
    expect(design.error).toBeNull();
    // Every rendition in every format (RENDITIONS, IMAGE_FORMATS); the render made the seed's two PNGs.
    expect(Object.keys(design.assets!).sort()).toEqual(['large', 'preview', 'small', 'thumbnail']);
    expect(design.assets!.preview!.png).toEqual({ url: design.preview_url, width: 600, height: 600, bytes: design.assets!.preview!.png!.bytes });
    expect(design.assets!.thumbnail!.png).toEqual({ url: design.thumbnail_url, width: 200, height: 200, bytes: design.assets!.thumbnail!.png!.bytes });
    expect(design.assets!.large!.webp).toEqual({ url: design.preview_url!.replace('preview.png', 'large.webp'), width: 1200, height: 1200, bytes: null });

    const folder = path.join(t.storageRoot, 'designs', created.id, version!);
    const preview = await readFile(path.join(folder, 'preview.png'));
    const thumbnail = await readFile(path.join(folder, 'thumbnail.png'));
    expect(preview.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(thumbnail.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const previewMeta = await sharp(preview).metadata();
    expect([previewMeta.format, previewMeta.width, previewMeta.height]).toEqual(['png', 600, 600]);
    const thumbMeta = await sharp(thumbnail).metadata();
    expect(thumbMeta.format).toBe('png');
    expect(thumbMeta.width).toBeLessThanOrEqual(200);
    expect(thumbMeta.height).toBeLessThanOrEqual(200);
    expect(Math.max(thumbMeta.width, thumbMeta.height)).toBe(200);

    // The URL's path is served by this app, byte for byte.
    const served = await t.app.inject({ method: 'GET', url: new URL(design.preview_url!).pathname });
    expect(served.statusCode).toBe(200);
    expect(served.headers['content-type']).toBe('image/png');
    expect(served.rawPayload.equals(preview)).toBe(true);
    expect(design.assets!.preview!.png!.bytes).toBe(preview.length);
    // Its bytes never change: caches may keep it for a year without asking again.
    expect(served.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('lists only the caller\'s designs, newest first, one cursor page at a time', async () => {
    const user = 'lister';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await t.createDesign({ ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text: `Design ${i}` } }, user)).id);
      await new Promise((resolve) => setTimeout(resolve, 3)); // distinct created_at
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/v1/designs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await t.app.inject({ method: 'GET', url, headers: await authHeaders(user) });
      expect(res.statusCode).toBe(200);
      const page = res.json<{ items: DesignView[]; next_cursor: string | null }>();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((d) => d.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const other = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: await authHeaders('nobody-yet') });
    expect(other.json()).toEqual({ items: [], next_cursor: null });
  });

  it('deletes a design: 204, then 404, and its files are gone', async () => {
    const created = await t.createDesign();
    const published = await t.waitForStatus(created.id, 'PUBLISHED');
    const folder = path.join(t.storageRoot, 'designs', created.id);
    const previewPath = new URL(published.preview_url!).pathname;
    expect(existsSync(path.join(t.storageRoot, previewPath.replace('/static/', '')))).toBe(true);

    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/designs/${created.id}`, headers: await authHeaders() });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(existsSync(folder)).toBe(false);

    const after = await t.app.inject({ method: 'GET', url: `/api/v1/designs/${created.id}`, headers: await authHeaders() });
    expect(after.statusCode).toBe(404);
    expect(after.json().error.code).toBe('DESIGN_NOT_FOUND');
    const again = await t.app.inject({ method: 'DELETE', url: `/api/v1/designs/${created.id}`, headers: await authHeaders() });
    expect(again.statusCode).toBe(404);
    const file = await t.app.inject({ method: 'GET', url: previewPath });
    expect(file.statusCode).toBe(404);
  });

  it('re-renders a published design: 202 PENDING, then PUBLISHED again', async () => {
    const created = await t.createDesign();
    const first = await t.waitForStatus(created.id, 'PUBLISHED');
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/designs/${created.id}/render`, headers: await authHeaders() });
    expect(res.statusCode).toBe(202);
    const body = res.json<DesignView>();
    expect(body.status).toBe('PENDING');
    expect(body.attempts).toBe(0);
    const second = await t.waitForStatus(created.id, 'PUBLISHED');
    expect(Date.parse(second.updated_at)).toBeGreaterThan(Date.parse(first.updated_at));
    // New URLs (a new version folder), both served: the old ones until ASSET_GRACE_PERIOD has passed.
    expect(second.preview_url).not.toBe(first.preview_url);
    for (const url of [first.preview_url!, second.preview_url!]) {
      const served = await t.app.inject({ method: 'GET', url: new URL(url).pathname });
      expect(served.statusCode).toBe(200);
      expect(served.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
  });

  it('re-render with an empty JSON body (curl -X POST -H "Content-Type: application/json") is accepted', async () => {
    const created = await t.createDesign();
    await t.waitForStatus(created.id, 'PUBLISHED');
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/designs/${created.id}/render`,
      headers: { ...(await authHeaders()), 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(202);
    await t.waitForStatus(created.id, 'PUBLISHED');
  });
});

describe('re-render while a render is queued', () => {
  let t: TestApp;

  beforeAll(async () => {
    // No worker: the design stays PENDING.
    t = await createTestApp({ background: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 409 INVALID_STATUS_TRANSITION', async () => {
    const created = await t.createDesign();
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/designs/${created.id}/render`, headers: await authHeaders() });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'INVALID_STATUS_TRANSITION' });
    expect(res.json().error.message).toMatch(/already queued/);
    const still = await t.app.inject({ method: 'GET', url: `/api/v1/designs/${created.id}`, headers: await authHeaders() });
    expect(still.json().status).toBe('PENDING');
  });
});
