import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { DEFAULT_PRINT_SPECS, designPrintScene, printGeometry, type PrintImage, type PrintSpec } from '../../src/print/index.js';
import { validateDesignSpec } from '../../src/rendering/design-spec.js';
import { designScene, type ImageLayer, type Rect, type TextLayer } from '../../src/rendering/index.js';

const upload = '0b5c4a4e-8a8f-4c1e-9d55-3f7c1c2a9b10';
/** designPrintScene reads only the image's size: no pixels are needed to place it. */
const image = (width: number, height: number): PrintImage => ({ input: Buffer.alloc(0), width, height, hasAlpha: false, format: 'jpeg', embeddableJpeg: true });

const imageLayer = (layers: readonly unknown[]) => layers.find((layer) => (layer as { kind: string }).kind === 'image') as ImageLayer | undefined;
const textLayer = (layers: readonly unknown[]) => layers.find((layer) => (layer as { kind: string }).kind === 'text') as TextLayer | undefined;

describe('designPrintScene', () => {
  it('lays out a text design on the product\'s print canvas', () => {
    const spec = validateDesignSpec({ product_type: 't-shirt', design_data: { text: 'Hello', font: 'Roboto-Bold', color: '#FFFFFF' } });
    const print = designPrintScene(spec, DEFAULT_PRINT_SPECS['t-shirt']);
    expect({ width: print.scene.width, height: print.scene.height, background: print.scene.background }).toEqual({ width: 3600, height: 4800, background: 'transparent' });
    expect(print.layout!.lines.map((line) => line.text)).toEqual(['Hello']);
    expect(print.image).toBeUndefined();
  });

  it.each([
    ['an image and text', { text: 'Hello', font: 'Roboto-Bold', color: '#FFFFFF', image: { upload_id: upload } }],
    ['an image only', { font: 'Roboto-Bold', color: '#FFFFFF', image: { upload_id: upload } }],
  ])('refuses a design with %s when the image is not given (PRINT_IMAGE_MISSING, naming design_data.image) rather than printing it without it', (_name, designData) => {
    const spec = validateDesignSpec({ product_type: 'poster', design_data: designData });
    let thrown: unknown;
    try {
      designPrintScene(spec, DEFAULT_PRINT_SPECS.poster);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({ code: 'PRINT_IMAGE_MISSING', field: 'design_data.image' });
  });
});

describe('designPrintScene with an image: the preview\'s placement, scaled to the trim', () => {
  const placements = [
    ['above (default)', { text: 'Hello' }, {}],
    ['below', { text: 'Hello' }, { position: 'below', size: 0.4 }],
    ['above, more than 0.8 asked (capped as in the preview)', { text: 'Hello' }, { position: 'above', size: 1, fit: 'cover' }],
    ['behind, 0.6', { text: 'Hello' }, { position: 'behind', size: 0.6, fit: 'contain' }],
    ['behind (whole canvas, cover)', { text: 'Hello' }, { position: 'behind' }],
    ['alone', {}, { size: 0.7 }],
  ] as const;

  /** A rectangle relative to the preview's 600 px canvas, or to a print's trim. */
  const relative = (rect: Rect, origin: number, side: number) => [rect.left, rect.top, rect.left + rect.width, rect.top + rect.height].map((v) => (v - origin) / side);

  it.each(placements.flatMap(([name, text, placement]) => (['hoodie', 'sticker'] as const).map((type) => [type, name, text, placement] as const)))(
    '%s, %s: image area and text box where the 600 px preview has them, relative to the trim (within 0.5 %%)',
    (type, _name, text, placement) => {
      const spec = validateDesignSpec({ product_type: type, design_data: { ...text, font: 'Roboto-Bold', color: '#1E90FF', image: { upload_id: upload, placement } } });
      const preview = designScene(spec, 600, Buffer.alloc(1));
      const printSpec = DEFAULT_PRINT_SPECS[type];
      const print = designPrintScene(spec, printSpec, image(1200, 900));
      const { bleedPx, trimWidthPx } = printGeometry(printSpec);
      const previewImage = imageLayer(preview.layers)!;
      const printImage = imageLayer(print.scene.layers)!;
      expect(printImage.fit).toBe(previewImage.fit);
      expect(printImage.opacity).toBe(previewImage.opacity);
      // A cover image over the whole trim continues into the bleed: compare within the trim.
      const area = printImage.rect;
      const inTrim = { left: Math.max(area.left, bleedPx), top: Math.max(area.top, bleedPx), width: Math.min(area.left + area.width, bleedPx + trimWidthPx) - Math.max(area.left, bleedPx), height: Math.min(area.top + area.height, bleedPx + trimWidthPx) - Math.max(area.top, bleedPx) };
      const expected = relative(previewImage.rect, 0, 600);
      relative(inTrim, bleedPx, trimWidthPx).forEach((value, i) => expect(Math.abs(value - expected[i]!), `image edge ${i}: ${value} vs ${expected[i]}`).toBeLessThanOrEqual(0.005));
      const previewText = textLayer(preview.layers);
      if (previewText) {
        const expectedText = relative(previewText.box, 0, 600);
        relative(print.textBox!, bleedPx, trimWidthPx).forEach((value, i) => expect(Math.abs(value - expectedText[i]!), `text edge ${i}`).toBeLessThanOrEqual(0.005));
      } else {
        expect(print.textBox).toBeUndefined();
        expect(print.layout).toBeUndefined();
        expect(print.scene.layers).toHaveLength(1);
      }
      // The image is painted first, the text over it, as in the preview.
      expect(print.scene.layers[0]).toBe(printImage);
    },
  );

  it('a cover image filling the trim of a paper product reaches through the bleed to the canvas edges', () => {
    const spec = validateDesignSpec({ product_type: 'sticker', design_data: { text: 'Hi', font: 'Roboto-Bold', color: '#1E90FF', image: { upload_id: upload, placement: { position: 'behind' } } } });
    const print = designPrintScene(spec, DEFAULT_PRINT_SPECS.sticker, image(1200, 900));
    expect(imageLayer(print.scene.layers)!.rect).toEqual({ left: 0, top: 0, width: 1275, height: 1275 });
    // Cover: scaled to fill the canvas, the sides cropped.
    expect(print.image!.scale).toBeCloseTo(1275 / 900, 9);
    expect(print.image!.drawn.width).toBeCloseTo(1200 * (1275 / 900), 6);
  });

  it('on a t-shirt (3:4) the rule follows the trim\'s shape: the band is size x the inner height across the inner width, the image contained in it', () => {
    const spec = validateDesignSpec({ product_type: 't-shirt', design_data: { text: 'Hello', font: 'Roboto-Bold', color: '#1E90FF', image: { upload_id: upload } } });
    const print = designPrintScene(spec, DEFAULT_PRINT_SPECS['t-shirt'], image(3000, 1500));
    // scale 3600 / 600 = 6: margin 240, gap 120; inner 3120 x 4320; band 0.5 x 4320 = 2160.
    expect(imageLayer(print.scene.layers)!.rect).toEqual({ left: 240, top: 240, width: 3120, height: 2160 });
    expect(print.textBox).toEqual({ left: 240, top: 240 + 2160 + 120, width: 3120, height: 4320 - 2160 - 120 });
    // 3000 x 1500 contained in 3120 x 2160: width-limited, centred vertically.
    expect(print.image!.scale).toBeCloseTo(3120 / 3000, 9);
    expect(print.image!.drawn).toEqual({ left: 240, top: 240 + (2160 - 1560) / 2, width: 3120, height: 1560 });
  });

  it('a spec in millimetres with no bleed places the image by the same rule', () => {
    const printSpec: PrintSpec = { width: 100, height: 100, bleed: 0, unit: 'mm', dpi: 300, printBackground: true, files: ['png', 'pdf'] };
    const spec = validateDesignSpec({ product_type: 'sticker', design_data: { font: 'Roboto-Bold', color: '#1E90FF', image: { upload_id: upload, placement: { size: 1 } } } });
    const print = designPrintScene(spec, printSpec, image(500, 500));
    const { widthPx } = printGeometry(printSpec);
    const margin = Math.round((40 * widthPx) / 600);
    expect(imageLayer(print.scene.layers)!.rect).toEqual({ left: margin, top: margin, width: widthPx - 2 * margin, height: widthPx - 2 * margin });
  });
});
