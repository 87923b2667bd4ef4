import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config.js';
import { WEB_RENDITIONS, parseImageFormats, parseRenditions, renderDesign, renderDesignAssets, renderRenditions, type RenderedImage } from '../../src/rendering/index.js';
import { design, expectPngcheckPasses } from '../fixtures/rendering/images.js';
import { noise } from '../helpers/noise.js';

const UPLOAD_ID = '0b5e4c1a-3f1d-4c6e-9a8b-7d2e1f0a9c3b';
const ALL = { renditions: WEB_RENDITIONS, formats: ['png', 'webp', 'avif'] as const };
const find = (images: RenderedImage[], name: string, format: string) => images.find((image) => image.name === name && image.format === format)!;

/** A photograph as far as encoders are concerned: smooth gradients with sensor noise, as a JPEG. */
async function photo(): Promise<Buffer> {
  const width = 800;
  const height = 600;
  const pixels = Buffer.alloc(width * height * 3);
  const grain = noise(pixels.length, 7);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = Math.min(255, (x * 255) / width + (grain[i]! % 24));
      pixels[i + 1] = Math.min(255, (y * 255) / height + (grain[i + 1]! % 24));
      pixels[i + 2] = Math.min(255, 128 + 100 * Math.sin(x / 37) * Math.cos(y / 23) + (grain[i + 2]! % 24));
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

function tool(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) throw new Error(`${name} is not installed; .ci/run installs it (apt-get install webp libavif-bin).`);
    console.warn(`renditions: ${name} not installed, its checks are skipped (apt-get install webp libavif-bin).`);
    return false;
  }
}

describe('renderRenditions: every size in every format, from one layout per size class', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'renditions-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes each rendition at its size in each format, in order, each decodable by sharp', async () => {
    const images = await renderRenditions(design({ text: 'Every size' }), ALL);
    expect(images.map((image) => `${image.name}.${image.format}`)).toEqual([
      'thumbnail.png', 'thumbnail.webp', 'thumbnail.avif', 'small.png', 'small.webp', 'small.avif',
      'preview.png', 'preview.webp', 'preview.avif', 'large.png', 'large.webp', 'large.avif',
    ]);
    for (const image of images) {
      const meta = await sharp(image.data).metadata();
      expect({ name: image.name, format: meta.format === 'heif' ? 'avif' : meta.format, width: meta.width, height: meta.height }).toEqual({
        name: image.name, format: image.format, width: image.width, height: image.height,
      });
      expect(image.contentType).toBe(`image/${image.format}`);
      if (image.format === 'png') expectPngcheckPasses(image.data);
    }
  });

  it('keeps the seed\'s preview and Lanczos thumbnail byte for byte', async () => {
    const spec = design({ text: 'Seed bytes', color: '#123456', text_color: '#FFCC00' });
    const [images, seed] = await Promise.all([renderRenditions(spec, ALL), renderDesignAssets(spec)]);
    expect(find(images, 'preview', 'png').data.equals(seed.preview)).toBe(true);
    expect(find(images, 'thumbnail', 'png').data.equals(seed.thumbnail)).toBe(true);
  });

  it('renders a rendition larger than the preview at its own size (sharp text), never enlarged from 600 px', async () => {
    const spec = design({ text: 'Crisp at 1200' });
    const [images, direct] = await Promise.all([renderRenditions(spec, ALL), renderDesign(spec, { size: 1200 })]);
    const large = await sharp(find(images, 'large', 'png').data).raw().toBuffer();
    expect(large.equals(await sharp(direct).raw().toBuffer())).toBe(true);
    // An enlargement of the 600 px preview would differ from it.
    const enlarged = await sharp(find(images, 'preview', 'png').data).resize(1200, 1200, { kernel: 'lanczos3' }).raw().toBuffer();
    expect(large.equals(enlarged)).toBe(false);
  });

  it('resamples renditions under the preview from its pixels with Lanczos-3, as the seed\'s thumbnail', async () => {
    const spec = design({ text: 'Small one', color: '#0055AA' });
    const images = await renderRenditions(spec, ALL);
    const expected = await sharp(find(images, 'preview', 'png').data).resize(400, 400, { kernel: 'lanczos3' }).removeAlpha().raw().toBuffer();
    expect((await sharp(find(images, 'small', 'png').data).removeAlpha().raw().toBuffer()).equals(expected)).toBe(true);
  });

  it('writes files Debian\'s own decoders read: dwebp for WebP, avifdec for AVIF', async () => {
    const images = await renderRenditions(design({ text: 'Outside decoders' }), ALL);
    if (tool('dwebp')) {
      for (const image of images.filter((i) => i.format === 'webp')) {
        const input = path.join(dir, `${image.name}.webp`);
        writeFileSync(input, image.data);
        execFileSync('dwebp', [input, '-o', `${input}.png`], { stdio: 'pipe' });
        expect((await sharp(readFileSync(`${input}.png`)).metadata()).width).toBe(image.width);
      }
    }
    if (tool('avifdec')) {
      for (const image of images.filter((i) => i.format === 'avif')) {
        const input = path.join(dir, `${image.name}.avif`);
        writeFileSync(input, image.data);
        execFileSync('avifdec', [input, `${input}.png`], { stdio: 'pipe' });
        expect((await sharp(readFileSync(`${input}.png`)).metadata()).width).toBe(image.width);
      }
    }
  });

  it('on a design with a photo, the WebP preview is at most 40 % of the PNG\'s bytes, and looks the same', async () => {
    const spec = design({ text: 'Photo', image: { upload_id: UPLOAD_ID, placement: { position: 'behind', size: 1, fit: 'cover' } } });
    const images = await renderRenditions(spec, { formats: ['png', 'webp'] }, await photo());
    const png = find(images, 'preview', 'png');
    const webp = find(images, 'preview', 'webp');
    expect(webp.data.length / png.data.length).toBeLessThanOrEqual(0.4);
    // Lossy, not another picture: mean absolute difference per channel under 4 of 255.
    const [a, b] = await Promise.all([sharp(png.data).removeAlpha().raw().toBuffer(), sharp(webp.data).removeAlpha().raw().toBuffer()]);
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
    expect(sum / a.length).toBeLessThan(4);
  });

  it('refuses renditions without a preview: the others are made from its layout', async () => {
    await expect(renderRenditions(design(), { renditions: [{ name: 'thumbnail', size: 200 }] })).rejects.toMatchObject({ code: 'INVALID_RENDER_OPTION', field: 'renditions' });
  });
});

describe('RENDITIONS and IMAGE_FORMATS', () => {
  it('default to thumbnail 200, small 400, preview 600, large 1200 in PNG and WebP', () => {
    const settings = configFrom({});
    expect(settings.renditions).toEqual([{ name: 'thumbnail', size: 200 }, { name: 'small', size: 400 }, { name: 'preview', size: 600 }, { name: 'large', size: 1200 }]);
    expect(settings.imageFormats).toEqual(['png', 'webp']);
    expect(configFrom({ RENDITIONS: 'thumbnail:200,preview:600', IMAGE_FORMATS: 'png' }).renditions).toEqual([{ name: 'thumbnail', size: 200 }, { name: 'preview', size: 600 }]);
  });

  it('accept a list in any order, sorted by size', () => {
    expect(parseRenditions('preview:600, thumbnail:200,hero-2x:1600')).toEqual({ renditions: [{ name: 'thumbnail', size: 200 }, { name: 'preview', size: 600 }, { name: 'hero-2x', size: 1600 }] });
    expect(parseImageFormats('AVIF,png')).toEqual({ formats: ['png', 'avif'] });
  });

  it.each([
    ['RENDITIONS', 'preview:600', /must include thumbnail/],
    ['RENDITIONS', 'thumbnail:200', /must include preview/],
    ['RENDITIONS', 'thumbnail:200,preview:600,small', /"small" is not name:pixels/],
    ['RENDITIONS', 'thumbnail:200,preview:600,big:9000', /size of "big" must be from 16 to 4096/],
    ['RENDITIONS', 'thumbnail:200,preview:600,Big:800', /the name "Big" must be/],
    ['RENDITIONS', 'thumbnail:200,preview:600,preview:700', /"preview" is named twice/],
    ['RENDITIONS', 'thumbnail:200,preview:600,print:900', /"print" is reserved/],
    ['RENDITIONS', 'thumbnail:800,preview:600', /thumbnail \(800\) must not be larger than preview/],
    ['RENDITIONS', '../x:200', /the name "..\/x" must be/],
    ['IMAGE_FORMATS', 'webp', /png is required/],
    ['IMAGE_FORMATS', 'png,gif', /"gif" is not one of them/],
    ['ASSET_GRACE_PERIOD', 'soon', /ASSET_GRACE_PERIOD must be/],
  ])('%s=%s stops the start with a message naming the variable', (name, value, message) => {
    expect(() => configFrom({ [name]: value })).toThrow(message);
    try {
      configFrom({ [name]: value });
    } catch (error) {
      expect((error as { field?: string }).field).toBe(name);
      expect((error as Error).message).toContain(name);
    }
  });
});

describe('renderRenditions with a subset: one file, as a first request makes it', () => {
  it('makes only the files asked for, with the same bytes as the full set', async () => {
    const spec = design({ text: 'Just one' });
    const [all, one] = await Promise.all([
      renderRenditions(spec, ALL),
      renderRenditions(spec, { ...ALL, subset: [{ name: 'large', format: 'webp' }] }),
    ]);
    expect(one.map((image) => `${image.name}.${image.format}`)).toEqual(['large.webp']);
    expect(one[0]!.data.equals(find(all, 'large', 'webp').data)).toBe(true);
  });
});
