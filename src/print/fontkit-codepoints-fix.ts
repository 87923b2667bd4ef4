import type { Font } from '@pdf-lib/fontkit';

interface GlyphCache {
  getGlyph(id: number, codePoints?: number[]): { codePoints: number[] };
}

/**
 * Keeps a glyph's characters when fontkit first made it without any. fontkit caches one Glyph
 * object per glyph id, with the characters of its first request, and pdf-lib writes print.pdf's
 * ToUnicode map (what text extraction, search and screen readers read) from them. A composite
 * glyph asks for its components by id alone: in Bebas Neue an accented or lowercase letter is
 * built from the capital, so once any of them was measured, the capital "R" was cached with no
 * characters and pdftotext read "RZch" as "Zch" (test/integration/print-line-breaks.test.ts).
 * A later request that names the glyph's characters now fills them in, and the last such
 * request wins, so the map follows the document being written (one print at a time per process
 * by default, PRINT_CONCURRENCY), not whichever document first used the glyph.
 */
export function keepGlyphCodePoints(font: Font): void {
  const cache = font as unknown as GlyphCache;
  const getGlyph = cache.getGlyph.bind(cache);
  cache.getGlyph = (id, codePoints = []) => {
    const glyph = getGlyph(id, codePoints);
    if (codePoints.length > 0 && !sameCodePoints(glyph.codePoints, codePoints)) glyph.codePoints = codePoints;
    return glyph;
  };
}

function sameCodePoints(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((codePoint, i) => codePoint === b[i]);
}
