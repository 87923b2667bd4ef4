import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { designScene, renderDesignAssets, validateDesignSpec, type DesignSpec } from '../../src/rendering/index.js';
import { decode, pixelAt, type Color, type Pixels } from '../fixtures/rendering/images.js';

/**
 * design_data.image in the scene: the image's pixels are where its placement says, and the
 * text is still drawn, beside it (above / below: never over it) or over it (behind).
 * Set DESIGN_IMAGE_OUT=<folder> to write the previews, to look at them.
 */

const BLUE: Color = [0, 0, 255];
const WHITE: Color = [255, 255, 255];
const ID = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';

/** A solid `color` JPEG (as uploads are published), width × height. */
function solid(width: number, height: number, color: Color): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: color[0], g: color[1], b: color[2] } } }).jpeg({ quality: 95 }).toBuffer();
}

/** On a sticker (4 x 4 in, square) the preview's trim is the whole 600 px canvas. */
function spec(data: Record<string, unknown>): DesignSpec {
  return validateDesignSpec({ product_type: 'sticker', design_data: { font: 'Roboto-Bold', color: '#FFFFFF', text_color: '#000000', ...data } });
}

async function render(name: string, design: DesignSpec, image: Buffer): Promise<{ preview: Pixels; thumbnail: Pixels }> {
  const { preview, thumbnail } = await renderDesignAssets(design, {}, image);
  const out = process.env.DESIGN_IMAGE_OUT;
  if (out) writeFileSync(path.join(out, `${name}.png`), preview);
  return { preview: await decode(preview), thumbnail: await decode(thumbnail) };
}

const near = (a: Color, b: Color, tolerance = 6) => a.every((v, i) => Math.abs(v - b[i]!) <= tolerance);
const isBlue = (c: Color) => near(c, BLUE, 12);
/** Ink of black text on white, antialiased edges included; never the blue image. */
const isInk = (c: Color) => c[0] < 128 && c[1] < 128 && c[2] < 128;

/** Pixels matching `test` inside rows [top, bottom). */
function countIn(image: Pixels, top: number, bottom: number, test: (c: Color) => boolean): number {
  let n = 0;
  for (let y = top; y < bottom; y++) for (let x = 0; x < image.width; x++) if (test(pixelAt(image, x, y))) n++;
  return n;
}

describe('a design with an image, 600 px preview (margin 40, inner 520)', () => {
  it('above (the default): the image in the top band, contained and centred; the text below it, never over it', async () => {
    const { preview, thumbnail } = await render('above', spec({ text: 'HELLO', image: { upload_id: ID } }), await solid(400, 400, BLUE));
    // Band 40..300 (0.5 × 520); a square contained in 520 × 260 is 260 wide, centred: x 170..430.
    expect(pixelAt(preview, 300, 170)).toSatisfy(isBlue);
    expect(pixelAt(preview, 172, 42)).toSatisfy(isBlue);
    expect(pixelAt(preview, 427, 297)).toSatisfy(isBlue);
    expect(pixelAt(preview, 100, 170)).toEqual(WHITE); // beside the contained image: background
    expect(countIn(preview, 0, 300, isInk)).toBe(0);
    expect(countIn(preview, 320, 560, isInk)).toBeGreaterThan(2000);
    expect(countIn(preview, 300, 600, isBlue)).toBe(0);
    // The thumbnail (200 px) shows the same: blue at the top, ink below.
    expect(pixelAt(thumbnail, 100, 57)).toSatisfy(isBlue);
    expect(countIn(thumbnail, 110, 190, isInk)).toBeGreaterThan(100);
  });

  it('below: the text on top, the image in the bottom band', async () => {
    const { preview } = await render('below', spec({ text: 'HELLO', image: { upload_id: ID, placement: { position: 'below', size: 0.3 } } }), await solid(300, 100, BLUE));
    // Band 404..560 (round(0.3 × 520) = 156 high); 300 × 100 contained in 520 × 156 is 468 × 156, x 66..534.
    expect(pixelAt(preview, 300, 480)).toSatisfy(isBlue);
    expect(pixelAt(preview, 70, 480)).toSatisfy(isBlue);
    expect(pixelAt(preview, 60, 480)).toEqual(WHITE);
    expect(countIn(preview, 0, 384, isBlue)).toBe(0);
    expect(countIn(preview, 40, 384, isInk)).toBeGreaterThan(2000);
    expect(countIn(preview, 400, 600, isInk)).toBe(0);
  });

  it('cover fills the whole band, cropping the image', async () => {
    const { preview } = await render('cover', spec({ text: 'HELLO', image: { upload_id: ID, placement: { fit: 'cover' } } }), await solid(400, 400, BLUE));
    expect(pixelAt(preview, 42, 42)).toSatisfy(isBlue);
    expect(pixelAt(preview, 557, 297)).toSatisfy(isBlue);
    expect(pixelAt(preview, 20, 170)).toEqual(WHITE); // the margin stays
  });

  it('with text, above or below never takes more than 0.8 of the canvas: the text keeps its room', async () => {
    const { preview } = await render('above-full', spec({ text: 'HELLO', image: { upload_id: ID, placement: { size: 1, fit: 'cover' } } }), await solid(400, 400, BLUE));
    // Band 40..456 (0.8 × 520), text in 476..560.
    expect(pixelAt(preview, 300, 450)).toSatisfy(isBlue);
    expect(countIn(preview, 476, 560, isInk)).toBeGreaterThan(500);
    expect(countIn(preview, 0, 456, isInk)).toBe(0);
  });

  it('behind: the photo covers the whole canvas, toned into the background colour, with the text over it', async () => {
    const { preview } = await render('behind', spec({ text: 'HELLO', image: { upload_id: ID, placement: { position: 'behind' } } }), await solid(300, 200, BLUE));
    // 45% blue over white: 255 + round((0 - 255) × 0.45) = 140 (alpha rounded to 115/255).
    const toned: Color = [140, 140, 255];
    expect(pixelAt(preview, 0, 0)).toSatisfy((c: Color) => near(c, toned, 3));
    expect(pixelAt(preview, 599, 599)).toSatisfy((c: Color) => near(c, toned, 3));
    expect(countIn(preview, 0, 600, isInk)).toBeGreaterThan(2000);
  });

  it('an image alone is centred: size × the inner square', async () => {
    const { preview } = await render('alone', spec({ image: { upload_id: ID, placement: { size: 0.5 } } }), await solid(100, 100, BLUE));
    expect(pixelAt(preview, 300, 300)).toSatisfy(isBlue);
    expect(pixelAt(preview, 172, 172)).toSatisfy(isBlue);
    expect(pixelAt(preview, 165, 300)).toEqual(WHITE);
    expect(countIn(preview, 0, 600, isInk)).toBe(0);
  });

  it('a photo is drawn upright from its EXIF orientation', async () => {
    // Stored 40 × 20 with a red block top-left; orientation 6 shows it 20 × 40, the block top-right.
    const data = Buffer.alloc(40 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) data.set(x < 10 && y < 10 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
    const photo = await sharp(data, { raw: { width: 40, height: 20, channels: 3 } }).png().withMetadata({ orientation: 6 }).toBuffer();
    const { preview } = await render('oriented', spec({ image: { upload_id: ID, placement: { size: 1 } } }), photo);
    // Contained upright (1:2) in the 520 square: 260 × 520 at x 170..430; red in its top-right quarter.
    expect(pixelAt(preview, 400, 100)[0]).toBeGreaterThan(200);
    expect(pixelAt(preview, 200, 100)).toSatisfy(isBlue);
    expect(pixelAt(preview, 400, 500)).toSatisfy(isBlue);
  });

  it('a design with an image cannot be drawn without its bytes', () => {
    expect(() => designScene(spec({ text: 'x', image: { upload_id: ID } }), 600)).toThrow(AppError);
    expect(() => designScene(spec({ text: 'x', image: { upload_id: ID } }), 600)).toThrow(/bytes were not given/);
  });

  it('a design without an image is the same scene as before: one text layer over the whole inner box', () => {
    const scene = designScene(spec({ text: 'x' }), 600);
    expect(scene.layers).toEqual([expect.objectContaining({ kind: 'text', box: { left: 40, top: 40, width: 520, height: 520 } })]);
  });
});
