import sharp from 'sharp';
import { inkBands } from '../../src/print/ink-lines.js';
import type { TextMask } from '../../src/rendering/text-layout.js';

/**
 * An image as a mask of its ink (alpha 255 where a pixel differs from `background` by more
 * than 192 over its three channels, as the print tests find ink), for inkBands and lineDifferences.
 */
export async function inkMask(file: string | Buffer, background: { r: number; g: number; b: number }): Promise<TextMask> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const mask = Buffer.alloc(info.width * info.height * 4);
  for (let i = 0, o = 0; i < data.length; i += 3, o += 4) {
    mask[o + 3] = Math.abs(data[i]! - background.r) + Math.abs(data[i + 1]! - background.g) + Math.abs(data[i + 2]! - background.b) > 192 ? 255 : 0;
  }
  return { data: mask, width: info.width, height: info.height, fontSize: 0 };
}

/**
 * For each line (ink band) of `a`, the share of its pixels whose coverage differs by more than
 * half from `b`'s line of the same rank, at the best offset of up to 3 px across and 1 px up or down
 * (each line is centred on its own subpixel position). 1 where `b` has no such line. Two draws
 * of the same glyphs in the same order differ in a few edge pixels; a word moved, a glyph
 * turned or two letters swapped differ in a share of the line.
 */
export function lineDifferences(a: TextMask, b: TextMask): number[] {
  const other = inkBands(b);
  return inkBands(a).map((band, i) => {
    const match = other[i];
    if (!match) return 1;
    let best = Infinity;
    for (let dx = -3; dx <= 3; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        let differing = 0;
        for (let y = band.top; y <= band.bottom; y++) {
          for (let x = band.left; x <= band.right; x++) {
            const bx = x - band.left + match.left + dx;
            const by = y - band.top + match.top + dy;
            const covered = bx >= 0 && by >= 0 && bx < b.width && by < b.height ? b.data[(by * b.width + bx) * 4 + 3]! : 0;
            if (Math.abs(a.data[(y * a.width + x) * 4 + 3]! - covered) > 128) differing++;
          }
        }
        best = Math.min(best, differing);
      }
    }
    return best / ((band.bottom - band.top + 1) * (band.right - band.left + 1));
  });
}

/**
 * The largest distance, in px, between an edge of a line (ink band) of `a` and the same edge
 * of `b`'s line of the same rank (Infinity when they have not as many lines): where each line
 * stands, which lineDifferences, aligning each pair, does not see.
 */
export function lineEdgesApart(a: TextMask, b: TextMask): number {
  const x = inkBands(a);
  const y = inkBands(b);
  if (x.length !== y.length) return Infinity;
  return Math.max(0, ...x.map((band, i) => {
    const other = y[i]!;
    return Math.max(Math.abs(band.left - other.left), Math.abs(band.right - other.right), Math.abs(band.top - other.top), Math.abs(band.bottom - other.bottom));
  }));
}
