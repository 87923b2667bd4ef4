import type { TextMask } from '../rendering/text-layout.js';

/** Coverage from which a pixel counts as ink: half, as a glyph's edge is drawn. */
const INK_ALPHA = 128;
/** Pixels two draws of the same lines may differ by: Pango centres each line on a subpixel position. */
const TOLERANCE_PX = 1;

/** A horizontal band of rows with ink, and the columns its ink spans. */
export interface InkBand {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** The bands of `mask` (RGBA, coverage in alpha), top to bottom: a line of text each, unless lines' ink touches. */
export function inkBands(mask: TextMask): InkBand[] {
  const bands: InkBand[] = [];
  let band: InkBand | undefined;
  for (let y = 0; y < mask.height; y++) {
    let left = -1;
    let right = -1;
    for (let x = 0, o = y * mask.width * 4 + 3; x < mask.width; x++, o += 4) {
      if (mask.data[o]! < INK_ALPHA) continue;
      if (left === -1) left = x;
      right = x;
    }
    if (left === -1) {
      band = undefined;
    } else if (band) {
      band.bottom = y;
      band.left = Math.min(band.left, left);
      band.right = Math.max(band.right, right);
    } else {
      band = { top: y, bottom: y, left, right };
      bands.push(band);
    }
  }
  return bands;
}

const near = (a: number, b: number) => Math.abs(a - b) <= TOLERANCE_PX;

/**
 * Whether two of Pango's masks show the same lines: the same size and the same bands of ink,
 * each spanning the same rows and columns, within a pixel. A word moved to another line
 * changes two lines' widths by the word's width, far more than that.
 */
export function sameInkLines(a: TextMask, b: TextMask): boolean {
  if (!near(a.width, b.width) || !near(a.height, b.height)) return false;
  const x = inkBands(a);
  const y = inkBands(b);
  return x.length === y.length && x.every((band, i) => {
    const other = y[i]!;
    return near(band.top, other.top) && near(band.bottom, other.bottom) && near(band.left, other.left) && near(band.right, other.right);
  });
}
