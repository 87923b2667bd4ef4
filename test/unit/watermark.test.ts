import { execFileSync } from 'node:child_process';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { designScene, validateDesignSpec, type Scene } from '../../src/rendering/index.js';
import { renderScene } from '../../src/rendering/scene-renderer.js';
import { loadWatermark, MAX_IMAGE_SIDE, watermarks, withWatermark, type Watermark, type WatermarkSettings } from '../../src/rendering/watermark.js';
import { appErrorOf } from '../helpers/errors.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { decode, type Pixels } from '../fixtures/rendering/images.js';

const DEFAULTS: WatermarkSettings = { watermarkText: '', watermarkImage: '', watermarkOpacity: 0.35, watermarkPlacement: 'tile', watermarkMinSize: 400 };

let dir: string;
let logo: string;

beforeAll(async () => {
  dir = await createTempDir('watermark');
  logo = path.join(dir, 'logo.png');
  // A blue band with a white disc, opaque: it shows on any background.
  await sharp({ create: { width: 300, height: 150, channels: 4, background: { r: 0, g: 90, b: 255, alpha: 1 } } })
    .composite([{ input: Buffer.from('<svg width="300" height="150"><circle cx="75" cy="75" r="60" fill="white"/></svg>') }])
    .png()
    .toFile(logo);
});

afterAll(async () => {
  await removeTempDir(dir);
});

async function load(settings: Partial<WatermarkSettings>): Promise<Watermark> {
  const watermark = await loadWatermark({ ...DEFAULTS, ...settings });
  if (!watermark) throw new Error('expected a watermark');
  return watermark;
}

/** A plain design: white, with its own text in the middle. */
function design(size = 600, color = '#FFFFFF'): Scene {
  return designScene(validateDesignSpec({ product_type: 'mug', design_data: { text: 'Hi', font: 'Roboto-Bold', color } }), size);
}

async function pixels(scene: Scene): Promise<Pixels> {
  return decode(await renderScene(scene));
}

/** Per pixel, the largest channel difference between two renders of one size. */
function differences(a: Pixels, b: Pixels): Uint8Array {
  const out = new Uint8Array(a.width * a.height);
  for (let i = 0; i < out.length; i++) {
    let most = 0;
    for (let c = 0; c < 3; c++) most = Math.max(most, Math.abs((a.data[i * a.channels + c] as number) - (b.data[i * b.channels + c] as number)));
    out[i] = most;
  }
  return out;
}

/** How many pixels differ inside [x0, x1) × [y0, y1). */
function changedIn(diff: Uint8Array, width: number, x0: number, y0: number, x1: number, y1: number): number {
  let count = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if ((diff[y * width + x] as number) > 0) count++;
  return count;
}

const sum = (diff: Uint8Array) => diff.reduce((total, value) => total + value, 0);

describe('watermarks()', () => {
  it('is true from minSize up, and never without a watermark', async () => {
    const watermark = await load({ watermarkText: 'Sample', watermarkMinSize: 400 });
    expect(watermarks(watermark, 399)).toBe(false);
    expect(watermarks(watermark, 400)).toBe(true);
    expect(watermarks(watermark, 1200)).toBe(true);
    expect(watermarks(null, 1200)).toBe(false);
  });
});

describe('loadWatermark', () => {
  it('is null when neither WATERMARK_TEXT nor WATERMARK_IMAGE is set', async () => {
    expect(await loadWatermark(DEFAULTS)).toBeNull();
  });

  it('keeps the settings and measures the text', async () => {
    const watermark = await load({ watermarkText: '  © Shop  ', watermarkOpacity: 0.5, watermarkPlacement: 'corner', watermarkMinSize: 600 });
    expect(watermark).toMatchObject({ text: '© Shop', image: null, opacity: 0.5, placement: 'corner', minSize: 600 });
    expect(watermark.textMetrics!.width).toBeGreaterThan(1);
    expect(watermark.textMetrics!.advance).toBeGreaterThan(watermark.textMetrics!.width);
  });

  it('downscales a large image once, to at most 1024 px a side, as an sRGB PNG with alpha', async () => {
    const file = path.join(dir, 'large.png');
    await sharp({ create: { width: 3000, height: 1500, channels: 3, background: '#336699' } }).png().toFile(file);
    const { image } = await load({ watermarkImage: file });
    expect(image).toMatchObject({ width: MAX_IMAGE_SIDE, height: MAX_IMAGE_SIDE / 2 });
    const metadata = await sharp(image!.input).metadata();
    expect(metadata).toMatchObject({ format: 'png', width: 1024, height: 512, channels: 4 });
  });

  it('keeps a small image at its size', async () => {
    const { image } = await load({ watermarkImage: logo });
    expect(image).toMatchObject({ width: 300, height: 150 });
  });

  it('takes palette, grey, 16-bit and opaque PNGs alike, as sRGB with alpha', async () => {
    const base = () => sharp({ create: { width: 40, height: 20, channels: 3, background: '#884422' } });
    const variants = {
      palette: base().png({ palette: true }),
      grey: base().greyscale().png(),
      sixteenBit: base().toColourspace('rgb16').png(),
    };
    for (const [name, pipeline] of Object.entries(variants)) {
      const file = path.join(dir, `${name}.png`);
      await pipeline.toFile(file);
      const { image } = await load({ watermarkImage: file });
      expect(await sharp(image!.input).metadata(), name).toMatchObject({ format: 'png', width: 40, height: 20, channels: 4, depth: 'uchar', space: 'srgb' });
    }
  });

  it('reads a relative path from the working folder and names the folder when it is missing', async () => {
    const error = await appErrorOf(loadWatermark({ ...DEFAULTS, watermarkImage: 'missing-logo.png' }));
    expect(error.message).toContain(`missing-logo.png (${path.resolve('missing-logo.png')}), which does not exist`);
  });
});

describe('a hostile WATERMARK_IMAGE stops the start with CONFIG_INVALID naming it and saying what to do', () => {
  /** A PNG's bytes with IHDR's width and height replaced (and its CRC fixed): a header that lies. */
  async function declaring(width: number, height: number): Promise<Buffer> {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000000' } }).png().toBuffer();
    const ihdr = 8 + 8; // signature, then IHDR's length and type
    png.writeUInt32BE(width, ihdr);
    png.writeUInt32BE(height, ihdr + 4);
    png.writeUInt32BE(crc32(png.subarray(ihdr - 4, ihdr + 13)) >>> 0, ihdr + 13);
    return png;
  }

  const cases: Array<{ name: string; make: (file: string) => Promise<unknown>; says: RegExp }> = [
    { name: 'a missing file', make: () => Promise.resolve(), says: /does not exist/ },
    { name: 'a folder', make: (file) => mkdir(file), says: /which is a folder/ },
    { name: 'a named pipe (opening it would wait forever)', make: (file) => Promise.resolve(execFileSync('mkfifo', [file])), says: /not a regular file/ },
    { name: 'a 60 MB file', make: async (file) => {
        // Sparse: 60 MB on paper, nothing on disk.
        await writeFile(file, '');
        await truncate(file, 60 * 1024 * 1024);
      }, says: /a file of 62914560 bytes, more than the 52428800/ },
    { name: 'an empty file', make: (file) => writeFile(file, ''), says: /not a PNG file/ },
    { name: 'a text file', make: (file) => writeFile(file, 'hello, I am not an image\n'), says: /not a PNG file/ },
    {
      name: 'a JPEG named .png',
      make: async (file) => writeFile(file, await sharp({ create: { width: 20, height: 20, channels: 3, background: '#FF0000' } }).jpeg().toBuffer()),
      says: /not a PNG file \(it is JPEG\)/,
    },
    {
      name: 'a truncated PNG',
      make: async (file) => {
        const whole = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#00FF00' } })
          .composite([{ input: Buffer.from('<svg width="200" height="200"><circle cx="100" cy="100" r="80" fill="red"/></svg>') }])
          .png({ compressionLevel: 0 })
          .toBuffer();
        await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
      },
      says: /cannot be decoded.*truncated or corrupt/,
    },
    { name: 'a PNG whose header declares 20000 x 20000 (a decompression bomb)', make: async (file) => writeFile(file, await declaring(20_000, 20_000)), says: /20000 x 20000 pixels, more than the 40 megapixels/ },
    {
      name: 'a PNG with nothing but transparent pixels',
      make: (file) => sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } }).png().toFile(file),
      says: /every pixel is fully transparent: it would draw nothing/,
    },
    {
      name: 'a real PNG of 6400 x 6400',
      make: (file) => sharp({ create: { width: 6400, height: 6400, channels: 3, background: '#808080' } }).png({ compressionLevel: 1 }).toFile(file),
      says: /6400 x 6400 pixels, more than the 40 megapixels/,
    },
  ];

  it.each(cases)('$name', async ({ name, make, says }) => {
    const file = path.join(dir, `${name.replace(/\W+/g, '-')}.png`);
    await make(file);
    const error = await appErrorOf(loadWatermark({ ...DEFAULTS, watermarkImage: file }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.field).toBe('WATERMARK_IMAGE');
    expect(error.message).toMatch(/^WATERMARK_IMAGE /);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(says);
    expect(error.message).toMatch(/Set WATERMARK_IMAGE to a PNG file of at most 1024 x 1024 pixels.*or to '' for no image watermark/);
  });
});

describe('a hostile WATERMARK_TEXT stops the start with CONFIG_INVALID naming it and saying what to do', () => {
  const cases: Array<{ name: string; text: string; says: RegExp }> = [
    { name: 'over 200 characters', text: 'x'.repeat(201), says: /at most 200 characters, got 201: shorten it/ },
    { name: 'a line break', text: 'one\ntwo', says: /control characters.*U\+000A.*one line of plain text/ },
    { name: 'a tab', text: 'one\ttwo', says: /U\+0009/ },
    { name: 'a NUL', text: 'one\u0000two', says: /U\+0000/ },
    { name: 'a C1 control', text: 'one\u009btwo', says: /U\+009B/ },
    { name: 'a bidi override', text: 'abc\u202edef', says: /bidirectional controls, found U\+202E/ },
    { name: 'only spaces', text: '   ', says: /nothing visible to draw.*or to '' for no text watermark/ },
    { name: 'only zero-width characters', text: '\u200b\u200d', says: /nothing visible to draw/ },
    { name: 'a line too wide to draw (100 three-em dashes)', text: '\u2E3B'.repeat(100), says: /too wide to draw \(\d+ em; at most 270 em\): shorten it/ },
    // The widest ligature there is, which the renderer draws blank (text-rules.ts): refused as undrawable, never a crash mid-render.
    { name: 'the bismillah ligature (drawn blank by the renderer)', text: '\uFDFD'.repeat(100), says: /no bundled font can draw: "\uFDFD" \(U\+FDFD\)/ },
    { name: 'a character no bundled font draws', text: 'Egypt \u{13000}', says: /no bundled font can draw: "𓀀" \(U\+13000\)\. Use Latin/ },
  ];

  it.each(cases)('$name', async ({ text, says }) => {
    const error = await appErrorOf(loadWatermark({ ...DEFAULTS, watermarkText: text }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.field).toBe('WATERMARK_TEXT');
    expect(error.message).toMatch(/^WATERMARK_TEXT /);
    expect(error.message).toMatch(says);
  });
});

describe('withWatermark', () => {
  it('tile: text rows across the whole canvas, over the design', async () => {
    const plain = await pixels(design());
    const marked = await pixels(withWatermark(design(), await load({ watermarkText: '© Customify' })));
    const diff = differences(plain, marked);
    for (const [x0, y0] of [[0, 0], [300, 0], [0, 300], [300, 300]] as const) {
      expect(changedIn(diff, 600, x0, y0, x0 + 300, y0 + 300), `quadrant at ${x0},${y0}`).toBeGreaterThan(1000);
    }
  });

  it('tile: image tiles across the whole canvas', async () => {
    const plain = await pixels(design());
    const marked = await pixels(withWatermark(design(), await load({ watermarkImage: logo })));
    const diff = differences(plain, marked);
    for (const [x0, y0] of [[0, 0], [300, 0], [0, 300], [300, 300]] as const) {
      expect(changedIn(diff, 600, x0, y0, x0 + 300, y0 + 300), `quadrant at ${x0},${y0}`).toBeGreaterThan(5000);
    }
  });

  it('corner: text and image only in the bottom-right quadrant', async () => {
    const plain = await pixels(design());
    const marked = await pixels(withWatermark(design(), await load({ watermarkText: 'Sample', watermarkImage: logo, watermarkPlacement: 'corner' })));
    const diff = differences(plain, marked);
    expect(changedIn(diff, 600, 300, 300, 600, 600)).toBeGreaterThan(5000);
    expect(changedIn(diff, 600, 0, 0, 600, 300)).toBe(0);
    expect(changedIn(diff, 600, 0, 300, 300, 600)).toBe(0);
  });

  it('a higher opacity changes the pixels more', async () => {
    const plain = await pixels(design(600, '#336699'));
    const faint = await pixels(withWatermark(design(600, '#336699'), await load({ watermarkText: 'Sample', watermarkImage: logo, watermarkOpacity: 0.2 })));
    const strong = await pixels(withWatermark(design(600, '#336699'), await load({ watermarkText: 'Sample', watermarkImage: logo, watermarkOpacity: 0.8 })));
    expect(sum(differences(plain, strong))).toBeGreaterThan(2 * sum(differences(plain, faint)));
  });

  it('draws markup literally: "<b>bold</b> &amp;" is not "bold &", and no span colours anything', async () => {
    const corner = { watermarkPlacement: 'corner' as const, watermarkOpacity: 1 };
    const markup = await pixels(withWatermark(design(), await load({ ...corner, watermarkText: '<b>bold</b> &amp; <span foreground="red">x</span>' })));
    const tags = await pixels(withWatermark(design(), await load({ ...corner, watermarkText: '<b>bold</b> &amp;' })));
    const plainText = await pixels(withWatermark(design(), await load({ ...corner, watermarkText: 'bold &' })));
    expect(sum(differences(tags, plainText))).toBeGreaterThan(0);
    // Black ink on white: every pixel is a grey, never red.
    let coloured = 0;
    for (let i = 0; i < markup.data.length; i += markup.channels) {
      const [r, g, b] = [markup.data[i] as number, markup.data[i + 1] as number, markup.data[i + 2] as number];
      if (Math.max(r, g, b) - Math.min(r, g, b) > 8) coloured++;
    }
    expect(coloured).toBe(0);
    const inked = (image: Pixels) => image.data.filter((value, i) => i % image.channels === 0 && value < 128).length;
    // The tags are drawn as characters: more ink than the two words alone.
    expect(inked(tags)).toBeGreaterThan(inked(plainText) * 1.2);
  });

  it('draws emoji and other scripts, and the longest text, at every size without failing', async () => {
    for (const text of ['😀 ©️ Ünïcødé ≠ العربية 中文', 'word '.repeat(40), 'x'.repeat(200), '😀'.repeat(200), '\u2E3B'.repeat(90)]) {
      for (const placement of ['tile', 'corner'] as const) {
        const watermark = await load({ watermarkText: text, watermarkImage: logo, watermarkPlacement: placement });
        for (const size of [16, 200, 1200]) {
          const png = await renderScene(withWatermark(design(size), watermark));
          expect((await sharp(png).metadata()).width).toBe(size);
        }
      }
    }
  });

  it('sizes its layers relative to the canvas: a 1200 px rendition is the 600 px one twice as large', async () => {
    for (const placement of ['tile', 'corner'] as const) {
      const watermark = await load({ watermarkText: 'Sample', watermarkImage: logo, watermarkPlacement: placement });
      const small = withWatermark(design(600), watermark).layers.slice(design(600).layers.length);
      const large = withWatermark(design(1200), watermark).layers.slice(design(1200).layers.length);
      expect(large.length).toBe(small.length);
      expect(small.length).toBeLessThanOrEqual(placement === 'tile' ? 16 : 3);
      for (const [i, layer] of small.entries()) {
        const other = large[i]!;
        const a = layer.kind === 'text' ? layer.box : layer.rect;
        const b = other.kind === 'text' ? other.box : other.rect;
        for (const side of ['left', 'top', 'width', 'height'] as const) expect(Math.abs(b[side] - 2 * a[side]), `${placement} layer ${i} ${side}`).toBeLessThanOrEqual(4);
        expect(other.opacity).toBe(0.35);
      }
    }
  });

  it('on a transparent canvas draws white text over a black copy', async () => {
    const scene: Scene = { width: 600, height: 600, background: 'transparent', layers: [] };
    const layers = withWatermark(scene, await load({ watermarkText: 'Sample', watermarkPlacement: 'corner' })).layers;
    expect(layers.map((layer) => layer.kind === 'text' && layer.color)).toEqual([{ r: 0, g: 0, b: 0 }, { r: 255, g: 255, b: 255 }]);
    const image = await decode(await renderScene(withWatermark(scene, await load({ watermarkText: 'Sample', watermarkPlacement: 'corner' }))));
    expect(image.channels).toBe(4);
  });
});
