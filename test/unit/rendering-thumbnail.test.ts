import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { designScene, makeThumbnail, PREVIEW_SIZE, renderDesign, renderDesignAssets, validateDesignSpec, type DesignSpec } from '../../src/rendering/index.js';
import { MAX_REDUCED_BYTES } from '../../src/rendering/lanczos.js';
import { prepareScene, sceneCoverage, type PreparedScene } from '../../src/rendering/scene-renderer.js';
import { decode, design, hex, pixelAt } from '../fixtures/rendering/images.js';
import { expectOneInkThumbnail } from '../fixtures/rendering/thumbnails.js';

/** The scene renderDesignAssets lays out for `spec` at `size` (the built-in print areas). */
function designPreviewScene(spec: DesignSpec, size: number): Promise<PreparedScene> {
  return prepareScene(designScene(validateDesignSpec(spec), size));
}

function rawImage(width: number, height: number) {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 255;
  return { data, width, height, channels: 3 as const };
}

describe('makeThumbnail', () => {
  it('makes a 200x200 RGB PNG of a square preview', async () => {
    const thumbnail = await decode(await makeThumbnail(await renderDesign(design())));
    expect({ format: thumbnail.format, width: thumbnail.width, height: thumbnail.height, channels: thumbnail.channels }).toEqual({
      format: 'png',
      width: 200,
      height: 200,
      channels: 3,
    });
    expect(pixelAt(thumbnail, 0, 0)).toEqual(hex('#FF0000'));
  });

  it.each([
    [600, 300, 200, 100],
    [300, 600, 100, 200],
    [1000, 10, 200, 2],
    [150, 100, 150, 100],
  ])('fits %ix%i inside 200x200 keeping the aspect ratio (%ix%i), never enlarging', async (width, height, expectedWidth, expectedHeight) => {
    const fromRaw = await decode(await makeThumbnail(rawImage(width, height)));
    expect([fromRaw.width, fromRaw.height]).toEqual([expectedWidth, expectedHeight]);
    const png = await sharp(rawImage(width, height).data, { raw: { width, height, channels: 3 } }).png().toBuffer();
    const fromPng = await decode(await makeThumbnail(png));
    expect([fromPng.width, fromPng.height]).toEqual([expectedWidth, expectedHeight]);
  });

  it('honours maxSize and compressionLevel', async () => {
    const preview = await renderDesign(design({ text: 'Options' }));
    const small = await decode(await makeThumbnail(preview, { maxSize: 64 }));
    expect([small.width, small.height]).toEqual([64, 64]);
    const [stored, smallest] = await Promise.all([makeThumbnail(preview, { compressionLevel: 0 }), makeThumbnail(preview, { compressionLevel: 9 })]);
    expect(stored.length).toBeGreaterThan(smallest.length);
  });

  it('rejects bytes that are not an image', async () => {
    const error = await makeThumbnail(Buffer.from('not a png')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('INVALID_IMAGE');
  });
});

describe('renderDesignAssets', () => {
  it.each([
    ['a short text', { text: 'Test Design' }, undefined],
    ['a long wrapped text', { text: 'Lorem ipsum dolor sit amet '.repeat(7).slice(0, 200), font: 'Lobster-Regular' }, undefined],
    ['text at the edges of the margin', { text: 'W'.repeat(200), font: 'Oswald-Bold', text_color: '#00FF00' }, undefined],
    ['one small glyph', { text: '.' }, undefined],
    ['emoji and other scripts (the bundled emoji font is monochrome)', { text: '😀 مرحبا שלום 你好', color: '#fff' }, undefined],
    ['a mid-grey text on a colour', { text: 'Grey on teal', text_color: '#7F7F7F', color: '#123456' }, undefined],
    // 400 px (here) and 600 px (the cases above) are twice and three times the thumbnail: reduced by lanczos.ts; 800 and more by sharp.
    ['a 400 px preview', { text: 'Small\npreview', font: 'Lobster-Regular' }, 400],
    ['an 800 px preview', { text: 'Big' }, 800],
    // Five and seven times the thumbnail: libvips box-shrinks by 2 and 3 before resampling.
    ['a 1000 px preview', { text: 'Bigger\ntext' }, 1000],
    ['a 1400 px preview', { text: 'Biggest', font: 'Pacifico-Regular' }, 1400],
  ])('returns the preview of renderDesign and the thumbnail of its text\'s coverage, for %s', async (_case, data, size) => {
    const spec = design(data);
    const options = size === undefined ? {} : { size };
    const { preview, thumbnail } = await renderDesignAssets(spec, options);
    expect(preview.equals(await renderDesign(spec, options))).toBe(true);
    await expectOneInkThumbnail(await designPreviewScene(spec, size ?? PREVIEW_SIZE), thumbnail);
  });

  it('resamples a window with more rows than lanczos.ts takes (MAX_REDUCED_BYTES) by sharp, to the same bytes', async () => {
    const spec = design({ text: 'Lorem ipsum dolor sit amet '.repeat(7).slice(0, 200), font: 'Oswald-Bold' });
    const { thumbnail } = await renderDesignAssets(spec, { size: 3000, thumbnailMaxSize: 1000 });
    const scene = await designPreviewScene(spec, 3000);
    // The window spans at least the text's rows, 3000 bytes each: more than lanczos.ts takes.
    expect(sceneCoverage(scene)?.band?.rows.length).toBeGreaterThan(MAX_REDUCED_BYTES);
    await expectOneInkThumbnail(scene, thumbnail, 1000);
  });

  it.each([
    ['a 500 px preview (not a multiple of 200)', { text: 'Odd size' }, 500],
    ['a 150 px preview (smaller than a thumbnail)', { text: 'Tiny' }, 150],
  ])('returns the preview of renderDesign and the thumbnail of makeThumbnail, for %s', async (_case, data, size) => {
    const spec = design(data);
    const { preview, thumbnail } = await renderDesignAssets(spec, { size });
    expect(preview.equals(await renderDesign(spec, { size }))).toBe(true);
    const [fast, reference] = await Promise.all([decode(thumbnail), decode(await makeThumbnail(preview))]);
    expect({ format: fast.format, width: fast.width, height: fast.height, channels: fast.channels }).toEqual({
      format: 'png',
      width: reference.width,
      height: reference.height,
      channels: 3,
    });
    expect(fast.data.equals(reference.data)).toBe(true);
  });

  it('honours thumbnailMaxSize and compressionLevel for both images', async () => {
    const spec = design({ text: 'Levels' });
    const stored = await renderDesignAssets(spec, { compressionLevel: 0, thumbnailMaxSize: 100 });
    const smallest = await renderDesignAssets(spec, { compressionLevel: 9, thumbnailMaxSize: 100 });
    expect(stored.preview.length).toBeGreaterThan(smallest.preview.length);
    expect(stored.thumbnail.length).toBeGreaterThan(smallest.thumbnail.length);
    const thumbnail = await decode(smallest.thumbnail);
    expect([thumbnail.width, thumbnail.height]).toEqual([100, 100]);
  });
});
