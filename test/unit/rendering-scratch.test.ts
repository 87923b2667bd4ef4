import { describe, expect, it } from 'vitest';
import { renderDesign, renderDesignAssets, renderRenditions, WEB_RENDITIONS, type DesignAssets, type DesignSpec, type RenderedImage } from '../../src/rendering/index.js';
import { encodeScene, prepareScene, releaseScene, sceneCoverage, withPreparedScene } from '../../src/rendering/scene-renderer.js';
import { designScene } from '../../src/rendering/scene.js';
import { sceneThumbnail } from '../../src/rendering/thumbnail.js';
import { MAX_POOLED_BYTES, pooledScratchBytes, releaseScratch, takeScratch, withScratch } from '../../src/rendering/scratch.js';
import { allSettledOrThrow } from '../../src/shared/settled.js';
import { design } from '../fixtures/rendering/images.js';

describe('scratch buffers: reused from render to render, each one owner at a time', () => {
  it('hands out zeroed buffers of the size asked for, even when the memory was written by its last owner', () => {
    const first = takeScratch(1000);
    expect(first.length).toBe(1000);
    first.fill(0xab);
    releaseScratch(first);
    const second = takeScratch(1000);
    // The same memory came back (the pool works) and was cleared (no pixels of the last render).
    expect(second.buffer).toBe(first.buffer);
    expect(second.every((byte) => byte === 0)).toBe(true);
    releaseScratch(second);
  });

  it('never hands one buffer to two owners at once', () => {
    const held = Array.from({ length: 20 }, () => takeScratch(4096));
    expect(new Set(held.map((buffer) => buffer.buffer)).size).toBe(20);
    for (const buffer of held) releaseScratch(buffer);
  });

  it('refuses a buffer it did not hand out, and one released twice', () => {
    expect(() => releaseScratch(Buffer.alloc(100))).toThrow(/did not hand out, or one already released/);
    const buffer = takeScratch(100);
    releaseScratch(buffer);
    expect(() => releaseScratch(buffer)).toThrow(/already released/);
  });

  it('gives the buffer back when the work using it throws, and passes the error on', async () => {
    let used: ArrayBufferLike | undefined;
    await expect(withScratch(2000, (buffer) => {
      used = buffer.buffer;
      return Promise.reject(new Error('encoder failed'));
    })).rejects.toThrow('encoder failed');
    // Back in the pool: the next take of that size gets it.
    const next = takeScratch(2000);
    expect(next.buffer).toBe(used);
    releaseScratch(next);
  });

  it('keeps a bounded number of buffers, and none above MAX_POOLED_BYTES', () => {
    const before = pooledScratchBytes();
    const many = Array.from({ length: 50 }, () => takeScratch(65_536));
    for (const buffer of many) releaseScratch(buffer);
    expect(pooledScratchBytes() - before).toBeLessThanOrEqual(8 * 65_536);
    const large = takeScratch(MAX_POOLED_BYTES + 1);
    expect(large.every((byte) => byte === 0)).toBe(true);
    const held = pooledScratchBytes();
    releaseScratch(large);
    expect(pooledScratchBytes()).toBe(held);
  });

  it('refuses a size that is not a whole number of bytes', () => {
    expect(() => takeScratch(-1)).toThrow(RangeError);
    expect(() => takeScratch(1.5)).toThrow(RangeError);
  });
});

describe('renders that share the scratch pool give the bytes they give alone', () => {
  // One-colour text (the pooled palette rows and coverage), colour glyphs (no coverage), text on
  // a transparent-free colour, and sizes whose buffers fall in different size classes.
  const designs = [
    design({ text: 'Hello pool', color: '#0055AA' }),
    design({ text: 'Second design with longer words that wrap', font: 'Lobster-Regular', color: '#FFEE00', text_color: '#101010' }),
    design({ text: 'Émoji 🎉 here', color: '#202020' }),
    design({ text: 'Mug', font: 'Roboto-Bold', color: '#FFFFFF' }, 'mug'),
    design({ text: 'Poster\nthree\nlines', font: 'Pacifico-Regular', color: '#00AA55' }, 'poster'),
    design({ text: 'Sticker', font: 'Oswald-Bold', color: '#AA0055' }, 'sticker'),
  ];

  it('renderDesignAssets: eight at a time, twice over, the same preview and thumbnail bytes as one at a time', async () => {
    const alone: DesignAssets[] = [];
    for (const spec of designs) alone.push(await renderDesignAssets(spec));
    const batch = [...designs, ...designs, ...designs].slice(0, 16);
    const together = await Promise.all(batch.map((spec) => renderDesignAssets(spec)));
    together.forEach((assets, i) => {
      const expected = alone[i % designs.length]!;
      expect(assets.preview.equals(expected.preview), `preview of design ${i % designs.length}`).toBe(true);
      expect(assets.thumbnail.equals(expected.thumbnail), `thumbnail of design ${i % designs.length}`).toBe(true);
    });
  });

  it('renderRenditions in every size and format, concurrently, as alone; renderDesign as the preview', async () => {
    const options = { renditions: WEB_RENDITIONS, formats: ['png', 'webp'] as const };
    const alone: RenderedImage[][] = [];
    for (const spec of designs) alone.push(await renderRenditions(spec, options));
    const together = await Promise.all(designs.map((spec) => renderRenditions(spec, options)));
    const previews = await Promise.all(designs.map((spec) => renderDesign(spec)));
    together.forEach((images, i) => {
      expect(images.map((image) => `${image.name}.${image.format}`)).toEqual(alone[i]!.map((image) => `${image.name}.${image.format}`));
      images.forEach((image, j) => expect(image.data.equals(alone[i]![j]!.data), `${image.name}.${image.format} of design ${i}`).toBe(true));
      expect(previews[i]!.equals(images.find((image) => image.name === 'preview' && image.format === 'png')!.data)).toBe(true);
    });
  });

  it('a scene used after releaseScene works its coverage out again, even once another owner wrote over its old rows', async () => {
    const scene = await prepareScene(designScene(design({ text: 'Released', color: '#0055AA' }), 600));
    const before = await encodeScene(scene);
    const thumbnailBefore = await sceneThumbnail(scene);
    const rows = sceneCoverage(scene)!.band!.rows;
    releaseScene(scene);
    // The next owner of that size class gets the released memory and scribbles on it.
    const next = takeScratch(rows.length);
    expect(next.buffer).toBe(rows.buffer);
    next.fill(0xff);
    const [after, thumbnailAfter] = await Promise.all([encodeScene(scene), sceneThumbnail(scene)]);
    expect(after.equals(before)).toBe(true);
    expect(thumbnailAfter.equals(thumbnailBefore)).toBe(true);
    expect(sceneCoverage(scene)!.band!.rows.buffer).not.toBe(rows.buffer);
    releaseScratch(next);
    // Released twice: the second finds nothing to give back (the pool would refuse a double release).
    releaseScene(scene);
    releaseScene(scene);
  });

  it('withPreparedScene gives the coverage back when the work on the scene fails', async () => {
    let rows: Buffer | undefined;
    await expect(withPreparedScene(designScene(design({ text: 'Fails', color: '#0055AA' }), 600), async (scene) => {
      rows = sceneCoverage(scene)!.band!.rows;
      await encodeScene(scene);
      throw new Error('upload failed');
    })).rejects.toThrow('upload failed');
    const next = takeScratch(rows!.length);
    expect(next.buffer).toBe(rows!.buffer);
    releaseScratch(next);
  });

  it('a design refused beside others leaves theirs intact', async () => {
    const bad = { ...designs[0]!, design_data: { ...designs[0]!.design_data, font: 'No-Such-Font' } } as unknown as DesignSpec;
    const expected = await Promise.all(designs.map((spec) => renderDesignAssets(spec)));
    const results = await Promise.allSettled([...designs.map((spec) => renderDesignAssets(spec)), renderDesignAssets(bad), renderDesignAssets(bad)]);
    results.slice(0, designs.length).forEach((result, i) => {
      expect(result.status).toBe('fulfilled');
      const assets = (result as PromiseFulfilledResult<DesignAssets>).value;
      expect(assets.preview.equals(expected[i]!.preview)).toBe(true);
      expect(assets.thumbnail.equals(expected[i]!.thumbnail)).toBe(true);
    });
    expect(results.slice(designs.length).map((result) => result.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('allSettledOrThrow', () => {
  it('resolves with every value in order', async () => {
    await expect(allSettledOrThrow([Promise.resolve(1), Promise.resolve('two'), 3])).resolves.toEqual([1, 'two', 3]);
  });

  it('rejects with the first rejection in order, only once every promise has settled', async () => {
    let slowDone = false;
    const slow = new Promise<void>((resolve) => setTimeout(() => {
      slowDone = true;
      resolve();
    }, 50));
    const error = await allSettledOrThrow([slow, Promise.reject(new Error('first')), Promise.reject(new Error('second'))]).catch((e: unknown) => e);
    expect((error as Error).message).toBe('first');
    expect(slowDone).toBe(true);
  });
});
