import { describe, expect, it } from 'vitest';
import { fontkitFont, layLine } from '../../src/print/print-layout.js';
import { FONT_NAMES, resolveFont, type FontName } from '../../src/rendering/fonts.js';
import { layoutText, WIDEST_GLYPH_EM } from '../../src/rendering/text-layout.js';
import { composedText, drawableRanges, UNDRAWN_CHARACTERS } from '../../src/rendering/text-rules.js';

/**
 * What the layouts assume of the bundled fonts, checked against the font files: no accepted
 * character is wider than WIDEST_GLYPH_EM (measureFontSize relies on it to keep Pango's
 * surface under cairo's limit), the glyphs validation refuses as drawn blank are still blank
 * (else the refusal could go), and the wide ones it accepts do draw.
 */

const faces = [...new Map(FONT_NAMES.flatMap((name) => resolveFont(name).faces).map((face) => [face.file, face])).values()];

function drawable(codePoint: number): boolean {
  const ranges = drawableRanges();
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = ranges[middle]!;
    if (codePoint < first) high = middle - 1;
    else if (codePoint > last) low = middle + 1;
    else return true;
  }
  return false;
}

type WideGlyph = { face: (typeof faces)[number]; codePoint: number; em: number };
let overTwoEm: WideGlyph[] | undefined;

/** The drawable code points of every face wider than `minEm` (at least 2), by advance or ink. */
function wideGlyphs(minEm: number): WideGlyph[] {
  overTwoEm ??= glyphsWiderThan(2);
  return overTwoEm.filter(({ em }) => em > minEm);
}

/**
 * Advances come from the hmtx table (cheap); ink boxes, which need the outlines decoded, only
 * for glyphs more than 1.2 em wide by advance or that ink past their advance (a bounded
 * number, CJK's full-width 1 em left out), which is where the widest ink is.
 */
function glyphsWiderThan(minEm: number): WideGlyph[] {
  const wide = [];
  for (const face of faces) {
    const font = fontkitFont(face);
    const { metrics } = (font as unknown as { hmtx: { metrics: { length: number; get(index: number): { advance: number } | undefined } } }).hmtx;
    const advanceOf = (id: number) => (metrics.get(id) ?? metrics.get(metrics.length - 1)!).advance;
    for (const codePoint of font.characterSet) {
      if (!drawable(codePoint)) continue;
      const glyph = font.glyphForCodePoint(codePoint);
      let em = advanceOf(glyph.id) / font.unitsPerEm;
      if (em > 1.2) {
        const ink = glyph.bbox.maxX - glyph.bbox.minX;
        if (Number.isFinite(ink)) em = Math.max(em, ink / font.unitsPerEm);
      }
      if (em > minEm) wide.push({ face, codePoint, em });
    }
  }
  return wide;
}

async function inkOf(text: string, fontName: FontName): Promise<number> {
  const mask = await layoutText(text, resolveFont(fontName), { fontSize: 48, minFontSize: 48, maxWidth: 4000, maxHeight: 4000 });
  let sum = 0;
  for (let i = 3; i < (mask?.data.length ?? 0); i += 4) sum += mask!.data[i]!;
  return sum;
}

describe('the bundled fonts against the layout\'s assumptions', () => {
  it(`no character validation accepts is wider than WIDEST_GLYPH_EM (${WIDEST_GLYPH_EM} em) in any face`, () => {
    const tooWide = wideGlyphs(WIDEST_GLYPH_EM).map(({ face, codePoint, em }) => `${face.family} U+${codePoint.toString(16).toUpperCase()} ${em.toFixed(2)} em`);
    expect(tooWide).toEqual([]);
  });

  it('U+FDFD is still drawn blank by Pango (if this fails, the renderer draws it: drop it from UNDRAWN_CHARACTERS)', async () => {
    expect([...UNDRAWN_CHARACTERS.keys()]).toEqual([0xfdfd]);
    const font = resolveFont('Roboto-Bold');
    const mask = await layoutText('\uFDFD', font, { fontSize: 48, minFontSize: 48, maxWidth: 4000, maxHeight: 4000 });
    // It takes its 10.9 em of room, and has no ink.
    expect(mask!.width).toBeGreaterThan(48 * 10);
    expect(mask!.data.filter((_, i) => i % 4 === 3).every((alpha) => alpha === 0)).toBe(true);
    // fontkit, which print.pdf draws with, has its outline: the files would differ.
    const arabic = font.faces.find((face) => face.family === 'Noto Sans Arabic')!;
    expect(fontkitFont(arabic).glyphForCodePoint(0xfdfd).path.toSVG().length).toBeGreaterThan(1000);
  });

  it('every accepted glyph wider than 2 em draws ink', async () => {
    const wide = wideGlyphs(2);
    expect(wide.length).toBeGreaterThan(0);
    for (const { codePoint } of wide) expect(await inkOf(String.fromCodePoint(codePoint), 'Roboto-Bold'), `U+${codePoint.toString(16)}`).toBeGreaterThan(0);
  }, 60_000);
});

describe('the print layout shapes marks in the face Pango draws them from', () => {
  const box = { fontSize: 100, minFontSize: 100, maxWidth: 30_000, maxHeight: 30_000 };

  it.each([
    ['a mark the base\'s face lacks (Roboto has no U+0302)', 'Roboto-Bold', 'ab\u0302c'],
    ['a stack of eight marks', 'Roboto-Bold', `H${'\u030D'.repeat(8)}`],
    ['marks below and above', 'Montserrat-Bold', 'x\u0328\u0329\u032A\u032B y'],
    ['decomposed Vietnamese', 'Lobster-Regular', 'Vie\u0323\u0302t Nam'],
  ] as const)('%s: fontkit\'s ink is Pango\'s within 3 px', async (_name, fontName, text) => {
    const font = resolveFont(fontName);
    const mask = await layoutText(text, font, box);
    // layLine takes text as the layouts hand it over: composed where it can be.
    const line = layLine(composedText(text), font, 100);
    expect(Math.abs(Math.ceil(line.ink!.right - line.ink!.left) - mask!.width), 'width').toBeLessThanOrEqual(3);
    expect(Math.abs(Math.ceil(line.ink!.top - line.ink!.bottom) - mask!.height), 'height').toBeLessThanOrEqual(3);
  });

  it('lays out a mark on a base whose anchor for it is NULL (Bebas Neue "v" with U+0328) instead of throwing', () => {
    const line = layLine('v\u0328z', resolveFont('Bebas-Bold'), 100);
    expect(line.runs.length).toBeGreaterThan(0);
    expect(line.width).toBeGreaterThan(0);
  });
});
