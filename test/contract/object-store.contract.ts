import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAll, StorageError, type ObjectInfo, type StoredObject } from '../../src/storage/index.js';
import type { StorageLayer } from '../../src/storage/index.js';

/**
 * The one behavioural suite every object-store driver must pass (tus-node-server's
 * `shared.shouldCreateUploads()` style), run through what callers use: the `ObjectStorage`
 * facade and the seed's StorageRepository (`DesignAssetStorage`).
 */
export interface ContractSubject {
  layer: StorageLayer;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** False where the server cannot page listings (s3rver; see test/helpers/s3.ts): the >1,000-object tests are skipped. */
  paginatesListings?: boolean;
}

const KB = 1024;
const MB = 1024 * KB;

export function objectStoreContract(name: string, makeStorage: () => Promise<ContractSubject>, options: ContractOptions = {}): void {
  describe(`object store contract: ${name}`, () => {
    let subject: ContractSubject;
    const storage = () => subject.layer.storage;
    const repository = () => subject.layer.repository;

    beforeAll(async () => {
      subject = await makeStorage();
    });
    afterAll(async () => {
      await subject?.cleanup();
    });

    describe('round trips bytes exactly', () => {
      const data = randomBytes(100 * KB);

      it('a Buffer', async () => {
        const key = `rt/${randomUUID()}/buffer.bin`;
        expect(await storage().put(key, data, { contentType: 'application/octet-stream' })).toBe(data.length);
        expect(fingerprint(await readAll(await storage().get(key)))).toBe(fingerprint(data));
      });

      it('a Uint8Array that is a view into a larger buffer (byteOffset ≠ 0)', async () => {
        const key = `rt/${randomUUID()}/view.bin`;
        const backing = Buffer.concat([randomBytes(333), data, randomBytes(777)]);
        const view = new Uint8Array(backing.buffer, backing.byteOffset + 333, data.length);
        expect(await storage().put(key, view, { contentType: 'application/octet-stream' })).toBe(data.length);
        expect(fingerprint(await readAll(await storage().get(key)))).toBe(fingerprint(data));
      });

      it('a stream in one chunk', async () => {
        const key = `rt/${randomUUID()}/stream.bin`;
        expect(await storage().put(key, Readable.from([data]), { contentType: 'application/octet-stream' })).toBe(data.length);
        expect(fingerprint(await readAll(await storage().get(key)))).toBe(fingerprint(data));
      });

      it('a stream of many small chunks', async () => {
        const key = `rt/${randomUUID()}/chunks.bin`;
        expect(await storage().put(key, chunked(data, 97), { contentType: 'application/octet-stream' })).toBe(data.length);
        expect(fingerprint(await readAll(await storage().get(key)))).toBe(fingerprint(data));
      });

      it('a 12 MB stream (multipart on S3 with 8 MB parts), compared by SHA-256', async () => {
        const big = randomBytes(12 * MB);
        const key = `rt/${randomUUID()}/big.bin`;
        expect(await storage().put(key, chunked(big, 64 * KB), { contentType: 'application/octet-stream' })).toBe(big.length);
        const stored = await storage().get(key);
        expect(stored.size).toBe(big.length);
        expect(await sha256(stored.body)).toBe(createHash('sha256').update(big).digest('hex'));
        expect((await storage().head(key))?.size).toBe(big.length);
      });
    });

    it('keeps the content type and metadata, visible through head and get', async () => {
      const key = `meta/${randomUUID()}/doc.json`;
      await storage().put(key, Buffer.from('{"a":1}'), { contentType: 'application/json', metadata: { design_id: 'abc', type: 'preview' } });
      const info = await storage().head(key);
      expect(info).toMatchObject({ key, size: 7, contentType: 'application/json', metadata: { design_id: 'abc', type: 'preview' } });
      expect(info?.lastModified).toBeInstanceOf(Date);
      const stored = await storage().get(key);
      expect(stored.contentType).toBe('application/json');
      stored.body.resume();
    });

    it('stores design previews and thumbnails as PNGs with the seed\'s design_id and type metadata', async () => {
      const designId = randomUUID();
      const preview = randomBytes(2 * KB);
      const thumbnail = randomBytes(KB);
      const previewUrl = await repository().uploadDesignPreview(designId, preview);
      const thumbnailUrl = await repository().uploadDesignThumbnail(designId, Readable.from([thumbnail]));

      expect(repository().keyFor(designId, 'preview')).toBe(`designs/${designId}/preview.png`);
      expect(previewUrl).toBe(await repository().urlFor(`designs/${designId}/preview.png`));
      expect(new URL(previewUrl).pathname).toMatch(new RegExp(`/designs/${designId}/preview\\.png$`));
      expect(new URL(thumbnailUrl).pathname).toMatch(new RegExp(`/designs/${designId}/thumbnail\\.png$`));

      expect(await storage().head(`designs/${designId}/preview.png`)).toMatchObject({
        size: preview.length, contentType: 'image/png', metadata: { design_id: designId, type: 'preview' },
      });
      expect(await storage().head(`designs/${designId}/thumbnail.png`)).toMatchObject({
        size: thumbnail.length, contentType: 'image/png', metadata: { design_id: designId, type: 'thumbnail' },
      });
      expect(fingerprint(await readAll(await storage().get(`designs/${designId}/thumbnail.png`)))).toBe(fingerprint(thumbnail));
    });

    it('a design asset re-uploaded with only the seed\'s metadata drops what an earlier put added; other types stay', async () => {
      const designId = randomUUID();
      const key = `designs/${designId}/preview.png`;
      await storage().put(key, Buffer.from('old'), { contentType: 'image/webp', metadata: { design_id: designId, type: 'preview', note: 'old' } });
      expect(await storage().head(key)).toMatchObject({ contentType: 'image/webp', metadata: { design_id: designId, type: 'preview', note: 'old' } });
      await repository().uploadDesignPreview(designId, Buffer.from('new'));
      const info = await storage().head(key);
      expect(info).toMatchObject({ size: 3, contentType: 'image/png' });
      expect(info?.metadata).toEqual({ design_id: designId, type: 'preview' });
    });

    it('reports existence before and after delete; deleting a missing key returns false', async () => {
      const key = `del/${randomUUID()}/a.png`;
      expect(await storage().exists(key)).toBe(false);
      expect(await storage().head(key)).toBeNull();
      expect(await storage().delete(key)).toBe(false);
      await storage().put(key, Buffer.from('x'), { contentType: 'image/png' });
      expect(await storage().exists(key)).toBe(true);
      expect(await storage().delete(key)).toBe(true);
      expect(await storage().exists(key)).toBe(false);
      expect(await storage().delete(key)).toBe(false);
    });

    it('overwrites: the new body, size, type and metadata replace the old ones', async () => {
      const key = `over/${randomUUID()}/a.bin`;
      await storage().put(key, randomBytes(50 * KB), { contentType: 'application/octet-stream', metadata: { v: '1' } });
      const next = randomBytes(3 * KB);
      await storage().put(key, next, { contentType: 'image/png', metadata: { v: '2' } });
      expect(await storage().head(key)).toMatchObject({ size: next.length, contentType: 'image/png', metadata: { v: '2' } });
      expect(fingerprint(await readAll(await storage().get(key)))).toBe(fingerprint(next));
    });

    it('get of a missing key throws STORAGE_OBJECT_NOT_FOUND naming the key', async () => {
      const key = `missing/${randomUUID()}/nothing.png`;
      const error = await storage().get(key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ code: 'STORAGE_OBJECT_NOT_FOUND', retryable: false });
      expect((error as Error).message).toContain(key);
    });

    it('refuses hostile keys before reaching the driver (full table: test/unit/storage-keys.test.ts)', async () => {
      for (const key of ['../escape.png', '/etc/passwd', 'designs/../../x']) {
        await expect(storage().put(key, Buffer.from('x'), { contentType: 'image/png' })).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' });
        await expect(storage().get(key)).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' });
      }
      await expect(storage().deletePrefix('')).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' });
      await expect(repository().uploadDesignPreview('../x', Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_DESIGN_ID' });
    });

    it('deleteDesignAssets removes preview, thumbnail and extra sizes of one design, and nothing of others', async () => {
      const [doomed, kept] = [randomUUID(), randomUUID()];
      await repository().uploadDesignPreview(doomed, Buffer.from('p'));
      await repository().uploadDesignThumbnail(doomed, Buffer.from('t'));
      await storage().put(`designs/${doomed}/large.png`, Buffer.from('l'), { contentType: 'image/png' });
      await repository().uploadDesignPreview(kept, Buffer.from('k'));
      await repository().uploadDesignThumbnail(kept, Buffer.from('k'));
      // Same string prefix as the doomed design's folder, without the slash.
      await storage().put(`designs/${doomed}.bak/preview.png`, Buffer.from('b'), { contentType: 'image/png' });

      expect(await repository().deleteDesignAssets(doomed)).toBe(3);
      expect(await keysUnder(`designs/${doomed}/`)).toEqual([]);
      expect(await keysUnder(`designs/${kept}/`)).toEqual([`designs/${kept}/preview.png`, `designs/${kept}/thumbnail.png`]);
      expect(await storage().exists(`designs/${doomed}.bak/preview.png`)).toBe(true);
      expect(await repository().deleteDesignAssets(doomed)).toBe(0);
    });

    const paginates = options.paginatesListings !== false;
    describe.skipIf(!paginates)(`more than 1,000 objects under one prefix${paginates ? '' : ' (skipped: this server cannot page listings)'}`, () => {
      const COUNT = 1050;
      const designId = randomUUID();
      const prefix = `designs/${designId}/`;
      const sibling = `designs/${randomUUID()}/preview.png`;
      // Zero-padded so byte order is numeric order; every driver must return byte order.
      const expected = Array.from({ length: COUNT }, (_, i) => `${prefix}size-${String(i).padStart(4, '0')}.png`).sort(byteOrder);

      beforeAll(async () => {
        await mapLimit(expected, 16, (key) => storage().put(key, Buffer.from(key), { contentType: 'image/png' }));
        await storage().put(sibling, Buffer.from('sibling'), { contentType: 'image/png' });
        await storage().put(`designs/${designId}.bak/x.png`, Buffer.from('same string prefix'), { contentType: 'image/png' });
      });

      it('lists in pages of at most 1,000 with a cursor, in byte order, without gaps or repeats', async () => {
        // S3 lets a page hold fewer keys than asked while more follow (Ceph RGW does, reading a
        // sharded bucket index): what callers rely on is "at most the limit, never empty before
        // the end, and every key exactly once in byte order". The local driver fills every page.
        const listAll = async (limit?: number): Promise<ObjectInfo[][]> => {
          const pages: ObjectInfo[][] = [];
          let cursor: string | undefined;
          do {
            const page = await storage().list(prefix, { cursor, ...(limit === undefined ? {} : { limit }) });
            pages.push(page.objects);
            cursor = page.nextCursor;
          } while (cursor && pages.length < 20);
          expect(cursor).toBeUndefined();
          return pages;
        };
        for (const [limit, full] of [[undefined, [1000, COUNT - 1000]], [400, [400, 400, 250]]] as const) {
          const pages = await listAll(limit);
          expect(pages.every((page) => page.length > 0 && page.length <= (limit ?? 1000)), pages.map((p) => p.length).join(',')).toBe(true);
          expect(pages.flat().map((o) => o.key)).toEqual(expected);
          if (storage().kind === 'local') expect(pages.map((p) => p.length)).toEqual(full);
        }
        const first = await storage().list(prefix);
        expect(first.nextCursor).toBeTruthy();
        for (const o of first.objects.slice(0, 3)) expect(o).toMatchObject({ size: o.key.length, lastModified: expect.any(Date) as unknown });
      });

      it('listAll walks every page', async () => {
        expect(await keysUnder(prefix)).toEqual(expected);
        const small: string[] = [];
        for await (const o of listAll(storage(), prefix, 333)) small.push(o.key);
        expect(small).toEqual(expected);
      });

      it('deletePrefix removes all of them and nothing outside the prefix', async () => {
        expect(await storage().deletePrefix(prefix)).toBe(COUNT);
        expect(await storage().list(prefix)).toEqual({ objects: [], nextCursor: undefined });
        expect(await storage().exists(sibling)).toBe(true);
        expect(await storage().exists(`designs/${designId}.bak/x.png`)).toBe(true);
        expect(await storage().deletePrefix(prefix)).toBe(0);
      });
    });

    async function keysUnder(prefix: string): Promise<string[]> {
      const keys: string[] = [];
      for await (const o of listAll(storage(), prefix)) keys.push(o.key);
      return keys;
    }
  });
}

export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Length and SHA-256 of some bytes: a cheap, readable stand-in for deep-comparing large buffers. */
export function fingerprint(bytes: Uint8Array): string {
  return `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`;
}

export async function readAll(object: StoredObject | Readable): Promise<Buffer> {
  const body = 'body' in object ? object.body : object;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function sha256(body: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk as Uint8Array);
  return hash.digest('hex');
}

/** A stream that hands `data` out `size` bytes at a time. */
export function chunked(data: Buffer, size: number): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
  })());
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  }));
  return results;
}
