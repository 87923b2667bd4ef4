import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRINT_SPECS, renderPrintFiles, type PrintSpec } from '../../src/print/index.js';
import { PRODUCT_TYPES, validateDesignSpec } from '../../src/rendering/design-spec.js';
import { renderDesignAssets } from '../../src/rendering/index.js';

/**
 * Line breaks of the preview and of print.png agree for texts whose lines come within a
 * pixel or two of the text box's width in the preview, where measuring glyph advances as
 * fontkit gives them (not rounded to whole pixels as Pango does) broke lines elsewhere than
 * the preview: each text below broke differently on the products named before the fix.
 * print.png is made at 150 DPI here: the print's lines are decided at the preview's scale,
 * whatever the resolution.
 */
const NEAR_THE_EDGE = [
  'lazy brown mountain hard sleep quick camp', // t-shirt, poster
  'going jumps birthday quick hard less team fox', // hoodie, tote-bag, sticker
  'in camp sunset class free 2026 the love', // sticker
  'going over lazy ocean 2026 ever mountain', // mug
];

/** Each line's ink width over the image's width, top to bottom: ink is what differs from the first pixel's colour (opaque) or what is mostly opaque (transparent). */
async function lineWidths(png: Buffer, opaque: boolean): Promise<number[]> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const widths: number[] = [];
  let band: [number, number] | undefined;
  for (let y = 0; y <= info.height; y++) {
    let left = Infinity;
    let right = -1;
    for (let x = 0; y < info.height && x < info.width; x++) {
      const o = (y * info.width + x) * 4;
      const ink = opaque ? Math.abs(data[o]! - data[0]!) + Math.abs(data[o + 1]! - data[1]!) + Math.abs(data[o + 2]! - data[2]!) > 192 : data[o + 3]! >= 128;
      if (ink) {
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
    }
    if (right >= 0) band = band ? [Math.min(band[0], left), Math.max(band[1], right)] : [left, right];
    else if (band) {
      widths.push((band[1] - band[0] + 1) / info.width);
      band = undefined;
    }
  }
  return widths;
}

describe('the preview and print.png break lines alike near the edge of the text box', () => {
  it.each(PRODUCT_TYPES)('%s', async (type) => {
    const spec: PrintSpec = { ...DEFAULT_PRINT_SPECS[type], dpi: 150, bleed: 0, files: ['png'] };
    for (const text of NEAR_THE_EDGE) {
      const design = validateDesignSpec({ product_type: type, design_data: { text, font: 'Bebas-Bold', color: '#1E90FF', text_color: '#FFD700' } });
      const { preview } = await renderDesignAssets(design);
      // The preview's print area: the trim's shape, centred in the square.
      const width = spec.width >= spec.height ? 600 : Math.round((600 * spec.width) / spec.height);
      const height = spec.height >= spec.width ? 600 : Math.round((600 * spec.height) / spec.width);
      const area = await sharp(preview).extract({ left: Math.round((600 - width) / 2), top: Math.round((600 - height) / 2), width, height }).png().toBuffer();
      const { png } = await renderPrintFiles(design, spec, { title: 'lines' });
      const previewLines = await lineWidths(area, true);
      const printLines = await lineWidths(png!, spec.printBackground);
      expect(printLines.length, `${text}: lines`).toBe(previewLines.length);
      for (const [i, w] of previewLines.entries()) expect(Math.abs(w - printLines[i]!), `${text}: line ${i + 1} (${w} in the preview, ${printLines[i]} in print)`).toBeLessThan(0.01);
    }
  });
});
