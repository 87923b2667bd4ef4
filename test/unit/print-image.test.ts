import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { DEFAULT_PRINT_SPECS, designPrintScene, effectiveDpi, readPrintImage, type PrintImage } from '../../src/print/index.js';
import { pdfImage, printImageWarnings } from '../../src/print/print-image.js';
import { validateDesignSpec, type ProductType } from '../../src/rendering/index.js';

const upload = '0b5c4a4e-8a8f-4c1e-9d55-3f7c1c2a9b10';
const RED = { r: 224, g: 48, b: 30 };
const BACKGROUND = { r: 0x1e, g: 0x90, b: 0xff };
const sized = (width: number, height: number): PrintImage => ({ input: Buffer.alloc(0), width, height, hasAlpha: false, format: 'jpeg', embeddableJpeg: true });
const design = (type: ProductType, placement: Record<string, unknown> = {}, text: string | null = 'Hello') =>
  validateDesignSpec({ product_type: type, design_data: { ...(text === null ? {} : { text }), font: 'Roboto-Bold', color: '#1E90FF', image: { upload_id: upload, placement } } });

describe('LOW_RESOLUTION (printImageWarnings)', () => {
  // A t-shirt's band above the text is 3120 x 2160 px at 300 DPI: a square image is 2160 px (7.2 in) high.
  it.each([
    [1080, 150, false],
    [1077, 150, false], // 149.6, reported as 150: no warning for a DPI the message would call 150
    [1075, 149, true],
    [300, 42, true],
  ])('a %d px square above the text on a t-shirt prints at %d DPI; warned: %s', (side, dpi, warned) => {
    const print = designPrintScene(design('t-shirt'), DEFAULT_PRINT_SPECS['t-shirt'], sized(side, side));
    expect(Math.round(effectiveDpi(print.image!, 300))).toBe(dpi);
    const warnings = printImageWarnings(print);
    if (!warned) {
      expect(warnings).toEqual([]);
      return;
    }
    expect(warnings).toEqual([
      {
        code: 'LOW_RESOLUTION',
        field: 'design_data.image',
        dpi,
        message: `The image (${side}x${side} px) prints at about ${dpi} DPI over 7.2 x 7.2 in, under the 150 DPI print services ask for: it will look blurry or blocky. Upload a larger version (at least 1080x1080 px) or make it smaller on the design (design_data.image.placement.size).`,
      },
    ]);
  });

  it('a cover image is judged on the part that prints: its limiting side fills the area', () => {
    // 1000 x 500 covering the sticker's whole canvas (1275 px with the bleed): 1275 px for 500 image px, 118 DPI.
    const print = designPrintScene(design('sticker', { position: 'behind' }), DEFAULT_PRINT_SPECS.sticker, sized(1000, 500));
    expect(printImageWarnings(print)).toMatchObject([{ dpi: 118 }]);
    expect(printImageWarnings(print)[0]!.message).toMatch(/over 4\.3 x 4\.3 in/);
  });

  it('a design without an image has no warnings', () => {
    const print = designPrintScene(validateDesignSpec({ product_type: 'poster', design_data: { text: 'Hi', font: 'Roboto-Bold', color: '#000000' } }), DEFAULT_PRINT_SPECS.poster);
    expect(printImageWarnings(print)).toEqual([]);
  });
});

describe('readPrintImage', () => {
  it('reads the size as shown (after the EXIF orientation) and whether the bytes can go into a PDF as they are', async () => {
    const jpeg = await sharp({ create: { width: 40, height: 20, channels: 3, background: RED } }).jpeg().toBuffer();
    expect(await readPrintImage(jpeg)).toMatchObject({ width: 40, height: 20, hasAlpha: false, format: 'jpeg', embeddableJpeg: true });
    const rotated = await sharp({ create: { width: 40, height: 20, channels: 3, background: RED } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect(await readPrintImage(rotated)).toMatchObject({ width: 20, height: 40, embeddableJpeg: false });
    const png = await sharp({ create: { width: 8, height: 8, channels: 4, background: { ...RED, alpha: 0.5 } } }).png().toBuffer();
    expect(await readPrintImage(png)).toMatchObject({ hasAlpha: true, format: 'png', embeddableJpeg: false });
  });

  it('refuses bytes that are not an image with INVALID_IMAGE naming design_data.image', async () => {
    const error = await readPrintImage(Buffer.from('GIF89a nonsense')).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'INVALID_IMAGE', field: 'design_data.image' });
  });
});

describe('pdfImage: what print.pdf embeds', () => {
  const solidJpeg = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: RED } }).jpeg({ quality: 95 }).toBuffer();

  it('an upright sRGB JPEG shown whole goes in as it came (no re-encoding)', async () => {
    const bytes = await solidJpeg(800, 600);
    const print = designPrintScene(design('poster'), DEFAULT_PRINT_SPECS.poster, await readPrintImage(bytes));
    const image = await pdfImage(print);
    expect(image).toMatchObject({ kind: 'jpg' });
    expect(image!.kind === 'jpg' && image!.bytes).toBe(bytes);
    expect(image!.box).toEqual(print.image!.drawn);
    expect(image!.clip).toBeUndefined();
  });

  it('cover: only the rows the area shows, at full resolution, clipped to the area', async () => {
    // The sticker's band above the text is 1040 x 520: an 800 x 600 photo covers it at 1.3, showing 800 x 400 of it.
    const print = designPrintScene(design('sticker', { fit: 'cover' }), DEFAULT_PRINT_SPECS.sticker, await readPrintImage(await solidJpeg(800, 600)));
    const image = await pdfImage(print);
    expect(image!.kind).toBe('jpg');
    expect(await sharp(image!.kind === 'jpg' ? image!.bytes : Buffer.alloc(0)).metadata()).toMatchObject({ width: 800, height: 400 });
    expect(image!.clip).toEqual(print.image!.area);
    expect(image!.box.width).toBeCloseTo(1040, 6);
    expect(image!.box.height).toBeCloseTo(520, 6);
  });

  it('on paper, a photo behind text is toned into the background colour in the pixels (no transparency), as print.png blends it', async () => {
    const print = designPrintScene(design('sticker', { position: 'behind' }), DEFAULT_PRINT_SPECS.sticker, await readPrintImage(await solidJpeg(400, 400)));
    const image = await pdfImage(print);
    expect(image!.kind).toBe('jpg');
    const { data, info } = await sharp(image!.kind === 'jpg' ? image!.bytes : Buffer.alloc(0)).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    const expected = [RED.r, RED.g, RED.b].map((c, i) => [BACKGROUND.r, BACKGROUND.g, BACKGROUND.b][i]! + Math.round(((c - [BACKGROUND.r, BACKGROUND.g, BACKGROUND.b][i]!) * Math.round(255 * 0.45)) / 255));
    const centre = ((info.height >> 1) * info.width + (info.width >> 1)) * 3;
    [0, 1, 2].forEach((i) => expect(Math.abs(data[centre + i]! - expected[i]!)).toBeLessThanOrEqual(3));
  });

  it('a logo with transparency: flattened onto the background on paper; colour plus an alpha mask on a garment', async () => {
    const logo = await sharp({ create: { width: 60, height: 60, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .composite([{ input: { create: { width: 20, height: 20, channels: 4, background: { ...RED, alpha: 1 } } }, left: 20, top: 20 }])
      .png()
      .toBuffer();
    const paper = await pdfImage(designPrintScene(design('sticker', {}, null), DEFAULT_PRINT_SPECS.sticker, await readPrintImage(logo)));
    expect(paper).toMatchObject({ kind: 'png' });
    expect(paper!.kind === 'png' && paper!.alpha).toBeUndefined();
    const flat = await sharp(paper!.kind === 'png' ? paper!.rgb : Buffer.alloc(0)).raw().toBuffer({ resolveWithObject: true });
    expect([...flat.data.subarray(0, 3)]).toEqual([BACKGROUND.r, BACKGROUND.g, BACKGROUND.b]);
    expect([...flat.data.subarray((30 * 60 + 30) * 3, (30 * 60 + 30) * 3 + 3)]).toEqual([RED.r, RED.g, RED.b]);

    const garment = await pdfImage(designPrintScene(design('hoodie', {}, null), DEFAULT_PRINT_SPECS.hoodie, await readPrintImage(logo)));
    expect(garment!.kind).toBe('png');
    const mask = garment!.kind === 'png' ? garment!.alpha! : Buffer.alloc(0);
    // An 8-bit grey PNG (IHDR colour type 0), as the PDF's soft mask needs.
    expect([mask[24], mask[25]]).toEqual([8, 0]);
    const alpha = await sharp(mask).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect(alpha.data[0]).toBe(0);
    expect(alpha.data[30 * 60 + 30]).toBe(255);
  });

  it('a design without an image has none', async () => {
    const print = designPrintScene(validateDesignSpec({ product_type: 'poster', design_data: { text: 'Hi', font: 'Roboto-Bold', color: '#000000' } }), DEFAULT_PRINT_SPECS.poster);
    expect(await pdfImage(print)).toBeUndefined();
  });
});
