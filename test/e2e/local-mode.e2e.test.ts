import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../../src/db/database.js';
import { DesignRepository } from '../../src/designs/design-repository.js';
import type { DesignView } from '../../src/designs/design-service.js';
import { pollForStatus, SAMPLE_DESIGN, startTestServer, tokenFor, type TestServer } from '../helpers/app.js';

/**
 * The seed's "Test Local Storage", over real HTTP: a server on a real port, the curl of
 * step 2 as fetch, wait for the worker, the two files under storage/designs/{id}/, and the
 * preview and thumbnail URLs answering image/png.
 */
describe('local mode end to end (real HTTP, SQLite, local disk, in-process worker)', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer();
    token = await tokenFor('e2e-user');
  });
  afterAll(async () => {
    await server?.stop();
  });

  const api = (pathname: string, init: RequestInit = {}) =>
    fetch(`${server.url}${pathname}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });

  const getDesign = async (id: string): Promise<DesignView> => {
    const res = await api(`/api/v1/designs/${id}`);
    expect(res.status).toBe(200);
    return (await res.json()) as DesignView;
  };

  it('creates a design with the seed\'s curl, renders it, stores both files and serves them', async () => {
    const created = await api('/api/v1/designs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(SAMPLE_DESIGN),
    });
    expect(created.status).toBe(201);
    const design = (await created.json()) as DesignView;
    expect(created.headers.get('location')).toBe(`/api/v1/designs/${design.id}`);
    expect(design.status).toBe('PENDING');

    const published = await pollForStatus(() => getDesign(design.id), 'PUBLISHED');

    // ls ./storage/designs/{design_id}/ → the render's version folder; in it, preview.png, thumbnail.png
    const versions = await readdir(path.join(server.settings.localStoragePath, 'designs', design.id));
    expect(versions).toEqual([expect.stringMatching(/^[0-9a-z]{8,}[0-9a-f]{6}$/)]);
    const folder = path.join(server.settings.localStoragePath, 'designs', design.id, versions[0]!);
    // As `ls` shows it: metadata sits beside each file as a dot-file.
    expect((await readdir(folder)).filter((n) => !n.startsWith('.')).sort()).toEqual(['preview.png', 'thumbnail.png']);

    expect(published.preview_url).toBe(`${server.url}/static/designs/${design.id}/${versions[0]}/preview.png`);
    expect(published.thumbnail_url).toBe(`${server.url}/static/designs/${design.id}/${versions[0]}/thumbnail.png`);
    for (const [url, file, max] of [
      [published.preview_url!, 'preview.png', 600],
      [published.thumbnail_url!, 'thumbnail.png', 200],
    ] as const) {
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('etag')).toBeTruthy();
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(bytes.equals(await readFile(path.join(folder, file)))).toBe(true);
      const meta = await sharp(bytes).metadata();
      expect(meta.format).toBe('png');
      expect(Math.max(meta.width, meta.height)).toBe(max);
      const again = await fetch(url, { headers: { 'if-none-match': res.headers.get('etag')! } });
      expect(again.status).toBe(304);
    }
  });

  it('answers health, readiness and docs over HTTP', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe('ok');
    const docs = await fetch(`${server.url}/docs/json`);
    expect(docs.status).toBe(200);
  });

  it('rejects a request without a token over HTTP with 401 and WWW-Authenticate', async () => {
    const res = await fetch(`${server.url}/api/v1/designs`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});

describe('graceful close', () => {
  it('finishes the request and renders in flight, then stops listening; nothing is left RENDERING', async () => {
    const server = await startTestServer();
    const token = await tokenFor('closer');
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${server.url}/api/v1/designs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...SAMPLE_DESIGN, design_data: { ...SAMPLE_DESIGN.design_data, text: `Close ${i}` } }),
        });
        expect(res.status).toBe(201);
        ids.push(((await res.json()) as DesignView).id);
      }
      // A request the server has begun when close starts still gets its whole answer. (Close is
      // started once the server has read the request: a request still on the wire when close
      // reaps an idle keep-alive connection is reset, and HTTP/1.1 leaves its retry to the client.)
      const received = new Promise<void>((resolve) => server.app.server.once('request', () => resolve()));
      const inFlight = fetch(`${server.url}/api/v1/designs?limit=10`, { headers: { authorization: `Bearer ${token}` } })
        .then(async (r) => ({ status: r.status, body: (await r.json()) as { items: unknown[] } }));
      inFlight.catch(() => undefined);
      await received;
      await server.close();
      const answered = await inFlight;
      expect(answered.status).toBe(200);
      expect(answered.body.items).toHaveLength(4);

      await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();

      const db = createDatabase(server.settings.databaseUrl);
      try {
        const designs = await new DesignRepository(db).findByIds(ids);
        expect(designs).toHaveLength(4);
        for (const d of designs) {
          // Finished renders are PUBLISHED with both files; the rest wait as PENDING for the next start.
          expect(['PUBLISHED', 'PENDING'], d.id).toContain(d.status);
          if (d.status === 'PUBLISHED') {
            expect(existsSync(path.join(server.settings.localStoragePath, d.previewKey!))).toBe(true);
          }
        }
      } finally {
        await db.destroy();
      }
    } finally {
      await server.stop();
    }
  });
});
