import { createHash, randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Environment } from '../../src/config.js';
import type { DesignView } from '../../src/designs/design-service.js';
import { WEB_IMAGE_FORMATS as DEFAULT_IMAGE_FORMATS, WEB_RENDITIONS as DEFAULT_RENDITIONS } from '../../src/rendering/rendition-config.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/logger.js';
import { IMMUTABLE_PUBLIC_CACHE, newAssetVersion } from '../../src/storage/index.js';
import { authHeaders, freePort, pollForStatus, SAMPLE_DESIGN, testSettings } from '../helpers/app.js';
import { skipNginx, startNginxCache, type NginxCache } from '../helpers/nginx-cache.js';
import { createPublicTestBucket, deleteTestBucket, getS3TestServer, s3Env } from '../helpers/s3.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * Issue #13 behind a real cache: nginx with `proxy_cache` stands in for the CDN in front of
 * the origin the API's URLs name (`/static` in local mode, Ceph RGW's public bucket in S3
 * mode). A CDN keeps an immutable asset for a year and never asks again, so the only thing
 * that keeps shoppers from seeing stale images after a re-render is that every render
 * publishes new URLs. Checked here: every URL, through the cache, always gives the bytes of
 * the version it names: the new ones at once after a re-render, the old ones still (the
 * grace period), a URL never another version's bytes.
 *
 * The service is restarted once (same database, storage and port) with another PNG
 * compression level, as a deploy that changes the encoder would: its re-render has other
 * bytes, which a cache keyed on reused URLs would hide.
 */

const RENDITION_COUNT = DEFAULT_RENDITIONS.length * DEFAULT_IMAGE_FORMATS.length;
// Re-renders run in the background; the 1200 px renditions in two formats take a moment.
const PUBLISH_TIMEOUT_MS = 30_000;

interface Mode {
  name: string;
  /** The service's environment and, once it runs, the origin the cache fronts and where the asset URLs start. */
  prepare(): Promise<{ env: Environment; origin: (server: RunningServer) => { upstream: string; urlRoot: string }; cleanup: () => Promise<void> }>;
}

const MODES: Mode[] = [
  {
    name: 'local mode (/static)',
    prepare: () => Promise.resolve({
      env: {},
      // PUBLIC_BASE_URL is the server itself: the URLs name the origin.
      origin: (server) => ({ upstream: server.url, urlRoot: `${server.url}/static/` }),
      cleanup: async () => {},
    }),
  },
  {
    name: 'S3 mode (Ceph RGW, public bucket)',
    prepare: async () => {
      const s3 = await getS3TestServer();
      const bucket = await createPublicTestBucket(s3, 'cdn-cache');
      return {
        // SCAN_REQUIRED=false: this suite makes designs, not uploads, and needs no clamd.
        env: { ...s3Env(s3, bucket), SCAN_REQUIRED: 'false' },
        origin: () => ({ upstream: s3.endpoint, urlRoot: `${s3.endpoint}/${bucket}/` }),
        cleanup: () => deleteTestBucket(s3, bucket),
      };
    },
  },
];

/** One rendition as the API describes it. */
interface Asset {
  url: string;
  name: string;
  format: string;
  width: number;
  height: number;
  bytes: number | null;
}

/** One published render of the design: its version folder and every URL the API gave for it. */
interface Published {
  version: string;
  assets: Asset[];
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe.skipIf(skipNginx).each(MODES)('an nginx cache in front of $name', (mode) => {
  let server: RunningServer | undefined;
  /** (Re)starts the service on the same folder and port; `env` adds to the mode's. */
  let startOrigin: (env?: Environment) => Promise<RunningServer>;
  let dir: string | undefined;
  let cache: NginxCache;
  let urlRoot: string;
  let cleanup: () => Promise<void> = async () => {};
  let designId: string;
  const versions: Published[] = [];
  /**
   * The sha256 each URL path gave, over every fetch (through the cache and from the origin):
   * a path that ever gives other bytes breaks the promise its version makes.
   */
  const bytesOf = new Map<string, string>();
  /** Which paths gave which bytes, to say whose bytes a wrong answer carried. */
  const pathsOf = new Map<string, Set<string>>();

  beforeAll(async () => {
    const prepared = await mode.prepare();
    cleanup = prepared.cleanup;
    dir = await createTempDir('cdn-cache');
    const port = await freePort();
    // The web set (four sizes, PNG and WebP), so every kind of rendition goes through the cache.
    const renditions = { RENDITIONS: DEFAULT_RENDITIONS.map((r) => `${r.name}:${r.size}`).join(','), IMAGE_FORMATS: DEFAULT_IMAGE_FORMATS.join(',') };
    const base = { ...prepared.env, ...renditions, HOST: '127.0.0.1', PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}` };
    startOrigin = (env = {}) => startServer(testSettings(dir!, { ...base, ...env }), { logger: silentLogger });
    server = await startOrigin();
    const origin = prepared.origin(server);
    urlRoot = origin.urlRoot;
    cache = await startNginxCache(origin.upstream);
  });

  afterAll(async () => {
    try {
      await cache?.stop();
      await server?.close();
    } finally {
      if (dir) await removeTempDir(dir);
      await cleanup();
    }
  });

  async function api(method: 'GET' | 'POST', url: string, payload?: object): Promise<{ status: number; view: DesignView }> {
    const res = await server!.app.inject({ method, url, headers: await authHeaders(), payload });
    if (res.statusCode >= 300) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body}`);
    return { status: res.statusCode, view: res.json<DesignView>() };
  }

  const getDesign = async (id: string) => (await api('GET', `/api/v1/designs/${id}`)).view;

  /** Waits for PUBLISHED and reads the version and every URL off the API's answer. */
  async function waitForPublished(id: string): Promise<Published> {
    let view = await pollForStatus(() => getDesign(id), 'PUBLISHED', PUBLISH_TIMEOUT_MS);
    // S3 mode: renditions not made yet are the API's URLs (/static/...), which make them and
    // redirect to the bucket; once made the API answers the bucket's own URLs. Ask for each once.
    const made = `${server!.url}/static/`;
    if (!urlRoot.startsWith(made)) {
      const unmade = Object.values(view.assets ?? {}).flatMap((formats) => Object.values(formats)).filter((a) => a.url.startsWith(made));
      expect(unmade.length, 'the render stores the seed\'s two PNGs; the rest are made on request').toBeGreaterThan(0);
      for (const asset of unmade) {
        const res = await fetch(asset.url, { redirect: 'manual' });
        expect(res.status, asset.url).toBe(302);
        expect(res.headers.get('location')).toBe(asset.url.replace(made, urlRoot));
      }
      view = await getDesign(id);
    }
    expect(view.assets, 'a PUBLISHED design lists its renditions').not.toBeNull();
    const assets: Asset[] = Object.entries(view.assets!).flatMap(([name, formats]) =>
      Object.entries(formats).map(([format, a]) => ({ url: a.url, name, format, width: a.width, height: a.height, bytes: a.bytes })));
    expect(assets).toHaveLength(RENDITION_COUNT);
    expect(assets.map((a) => `${a.name}.${a.format}`).sort()).toEqual(
      DEFAULT_RENDITIONS.flatMap((r) => DEFAULT_IMAGE_FORMATS.map((f) => `${r.name}.${f}`)).sort());
    // The seed's two URLs are the PNG renditions of the same render.
    expect(view.preview_url).toBe(view.assets!.preview!.png!.url);
    expect(view.thumbnail_url).toBe(view.assets!.thumbnail!.png!.url);
    // Every URL names the origin (no CDN domain is configured) and one version folder.
    const pattern = new RegExp(`^${escape(urlRoot)}designs/${id}/([0-9a-z]+)/([a-z][a-z0-9-]*)\\.(png|webp)$`);
    const folders = new Set<string>();
    for (const asset of assets) {
      const match = pattern.exec(asset.url);
      expect(match, `${asset.url} is not ${urlRoot}designs/${id}/{version}/{rendition}.{format}`).not.toBeNull();
      expect([match![2], match![3]]).toEqual([asset.name, asset.format]);
      folders.add(match![1]!);
    }
    expect([...folders]).toHaveLength(1);
    return { version: [...folders][0]!, assets };
  }

  /** Remembers what `url` gave; fails if it ever gave other bytes, naming whose bytes came back. */
  function record(url: string, body: Buffer, via: string): void {
    const path = new URL(url).pathname;
    const hash = sha256(body);
    const before = bytesOf.get(path);
    if (before !== undefined && before !== hash) {
      const owners = [...(pathsOf.get(hash) ?? [])].join(', ') || 'no URL seen so far';
      expect.fail(`${path} through ${via} gave other bytes than before (the bytes of: ${owners})`);
    }
    bytesOf.set(path, hash);
    (pathsOf.get(hash) ?? pathsOf.set(hash, new Set()).get(hash)!).add(path);
  }

  /** Checks one answer for `asset`: 200, its type, immutable caching, and an image of its size. */
  async function expectRendition(asset: Asset, status: number, headers: Headers, body: Buffer): Promise<void> {
    expect(status, asset.url).toBe(200);
    expect(headers.get('content-type'), asset.url).toBe(`image/${asset.format}`);
    expect(headers.get('cache-control'), asset.url).toBe(IMMUTABLE_PUBLIC_CACHE);
    const meta = await sharp(body).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }, asset.url).toEqual({ format: asset.format, width: asset.width, height: asset.height });
    expect(Math.max(asset.width, asset.height)).toBe(DEFAULT_RENDITIONS.find((r) => r.name === asset.name)!.size);
    if (asset.bytes !== null) expect(body.length, asset.url).toBe(asset.bytes);
  }

  /** GET straight from the origin, as a browser without a CDN would. */
  async function fromOrigin(asset: Asset): Promise<Buffer> {
    const response = await fetch(asset.url);
    const body = Buffer.from(await response.arrayBuffer());
    await expectRendition(asset, response.status, response.headers, body);
    record(asset.url, body, 'the origin');
    return body;
  }

  /** GET through the cache; `expected` is what X-Cache-Status must say. */
  async function throughCache(asset: Asset, expected: 'MISS' | 'HIT'): Promise<Buffer> {
    const answer = await cache.get(asset.url);
    expect(answer.cacheStatus, `X-Cache-Status of ${cache.rewrite(asset.url)}`).toBe(expected);
    await expectRendition(asset, answer.status, answer.headers, answer.body);
    record(asset.url, answer.body, `the cache (${answer.cacheStatus})`);
    return answer.body;
  }

  it('the first render: every URL is a MISS, then a HIT with the same bytes, Cache-Control immutable through the cache as at the origin', async () => {
    const created = await api('POST', '/api/v1/designs', SAMPLE_DESIGN);
    expect(created.status).toBe(201);
    designId = created.view.id;
    const first = await waitForPublished(designId);
    versions.push(first);
    for (const asset of first.assets) {
      const miss = await throughCache(asset, 'MISS');
      const hit = await throughCache(asset, 'HIT');
      expect(sha256(hit)).toBe(sha256(miss));
      expect(sha256(await fromOrigin(asset))).toBe(sha256(miss));
    }
  });

  it('a re-render publishes new URLs that give what the origin now serves through the same cache at once; the old URLs still give the old bytes', async () => {
    const [previous] = versions;
    expect(previous, 'the first test published the design').toBeDefined();
    const { status, view } = await api('POST', `/api/v1/designs/${designId}/render`);
    expect([status, view.status]).toEqual([202, 'PENDING']);
    const next = await waitForPublished(designId);
    versions.push(next);
    expect(next.version).not.toBe(previous!.version);
    // The renderer is deterministic: same design, same settings, same bytes as before; the
    // next test changes the encoder so that versions differ.
    const oldUrls = new Set(previous!.assets.map((a) => a.url));
    expect(next.assets.filter((a) => oldUrls.has(a.url))).toEqual([]);

    for (const asset of next.assets) {
      // Never asked for before, so no cache anywhere can hold an older answer for it.
      const miss = await throughCache(asset, 'MISS');
      expect(sha256(miss), `${asset.url} through the cache is what the origin serves`).toBe(sha256(await fromOrigin(asset)));
      expect(sha256(await throughCache(asset, 'HIT'))).toBe(sha256(miss));
    }
    for (const asset of previous!.assets) {
      // The cache still has them, and so does the origin for ASSET_GRACE_PERIOD (1 h):
      // a page rendered before the re-render keeps working either way.
      await throughCache(asset, 'HIT');
      await fromOrigin(asset);
    }
  });

  it('after a deploy that changes the PNG encoder, a re-render gives other bytes under new URLs: no URL ever gives the bytes of another version', async () => {
    expect(versions, 'the earlier tests published two versions').toHaveLength(2);
    await server!.close();
    server = await startOrigin({ PNG_COMPRESSION_LEVEL: '9' });
    await api('POST', `/api/v1/designs/${designId}/render`);
    const recoded = await waitForPublished(designId);
    expect(versions.map((v) => v.version)).not.toContain(recoded.version);
    for (const asset of recoded.assets) {
      expect(sha256(await throughCache(asset, 'MISS'))).toBe(sha256(await fromOrigin(asset)));
    }
    // Other bytes for the same rendition: what makes the check below worth doing.
    const previewPng = (p: Published) => bytesOf.get(new URL(p.assets.find((a) => a.name === 'preview' && a.format === 'png')!.url).pathname);
    expect(previewPng(recoded)).not.toBe(previewPng(versions[1]!));
    versions.push(recoded);

    // Every URL of every version, once more through the cache (all HITs now) and from the
    // origin (all three versions are within the grace period): record() fails on any URL
    // whose bytes changed and names the URLs those bytes belong to.
    for (const { assets } of versions) {
      for (const asset of assets) {
        await throughCache(asset, 'HIT');
        await fromOrigin(asset);
      }
    }
    expect(bytesOf.size).toBe(3 * RENDITION_COUNT);
  });

  it('the cache is a real one: bytes replaced at the origin under a URL it holds are not seen through it (why every render needs new URLs); a refusal is not kept', async () => {
    // A key of its own under a design id no test uses, so the URL map above stays as it is.
    const key = `designs/${randomUUID()}/${newAssetVersion()}/preview.png`;
    const storage = server!.container.storage.storage;
    const image = (r: number) => sharp({ create: { width: 16, height: 16, channels: 3, background: { r, g: 0, b: 0 } } }).png().toBuffer();
    const [before, after] = await Promise.all([image(10), image(200)]);
    const url = `${urlRoot}${key}`;
    // Not there yet: the origin's refusal is not kept (it carries no Cache-Control to allow it).
    for (let i = 0; i < 2; i++) {
      const absent = await cache.get(url);
      expect(absent.status, url).toBeGreaterThanOrEqual(400);
      expect(absent.cacheStatus).toBe('MISS');
    }
    await storage.put(key, before, { contentType: 'image/png', cacheControl: IMMUTABLE_PUBLIC_CACHE });
    expect((await cache.get(url)).cacheStatus).toBe('MISS');
    await storage.put(key, after, { contentType: 'image/png', cacheControl: IMMUTABLE_PUBLIC_CACHE });
    const cached = await cache.get(url);
    expect([cached.cacheStatus, sha256(cached.body)]).toEqual(['HIT', sha256(before)]);
    const direct = await fetch(url);
    expect(sha256(Buffer.from(await direct.arrayBuffer()))).toBe(sha256(after));
  });
});

describe('startNginxCache', () => {
  it('refuses an upstream that is not a plain http origin, saying what it takes', async () => {
    await expect(startNginxCache('http://127.0.0.1:7480/bucket')).rejects.toThrow(/takes an http origin such as http:\/\/127\.0\.0\.1:7480/);
    await expect(startNginxCache('https://127.0.0.1:7480')).rejects.toThrow(/takes an http origin/);
    await expect(startNginxCache('http://127.0.0.1:7480/?x=1')).rejects.toThrow(/takes an http origin/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
