import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRINT_SPECS, renderPrintFiles } from '../../src/print/index.js';
import { layoutPrintText } from '../../src/print/print-layout.js';
import { validateDesignSpec, type DesignSpec } from '../../src/rendering/design-spec.js';
import { resolveFont } from '../../src/rendering/fonts.js';
import { renderDesignAssets, renderRenditions } from '../../src/rendering/index.js';
import { layoutText, MAX_TEXT_SURFACE, measureFontSize, MEASURE_FONT_SIZE } from '../../src/rendering/text-layout.js';
import { checkFontCoverage, combiningMarksPattern, composedText, drawableTextPattern, MAX_COMBINING_MARKS, validateDesignText } from '../../src/rendering/text-rules.js';
import { ValidationError } from '../../src/errors.js';

/**
 * Text built to break the renderer: extremely wide glyphs, long unbreakable runs, stacks of
 * combining marks. Whatever validation accepts must render in the preview, the thumbnail,
 * every rendition and both print files; what cannot be drawn is refused with a 400 naming
 * design_data.text.
 */

const BISMILLAH = '\uFDFD';
const MARKS = Array.from({ length: 112 }, (_, i) => String.fromCodePoint(0x300 + i));

function refusal(text: string): ValidationError {
  try {
    validateDesignSpec({ product_type: 't-shirt', design_data: { text, color: '#FFFFFF', font: 'Roboto-Bold' } });
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(text.slice(0, 20))} was accepted`);
}

describe('text validation refuses what cannot be drawn', () => {
  it('refuses U+FDFD (100 of them, or one among other words): Pango draws it blank, and the message says what to type instead', () => {
    for (const text of [BISMILLAH.repeat(100), `Welcome ${BISMILLAH} home`]) {
      const error = refusal(text);
      expect(error.code).toBe('UNSUPPORTED_CHARACTERS');
      expect(error.field).toBe('design_data.text');
      expect(error.message).toContain('U+FDFD ARABIC LIGATURE BISMILLAH AR-RAHMAN AR-RAHEEM');
      expect(error.message).toContain('draws blank');
      expect(error.message).toContain('بسم الله الرحمن الرحيم');
    }
    // The letters it stands for are fine.
    expect(validateDesignText('بسم الله الرحمن الرحيم')).toBeUndefined();
  });

  it.each([
    ['U+A9C5 JAVANESE PADA LUHUR', '\uA9C5'],
    ['U+12219 CUNEIFORM SIGN LUGAL OPPOSING LUGAL', '\u{12219}'],
  ])('refuses 100 x %s, which no bundled font has', (_name, char) => {
    const error = refusal(char.repeat(100));
    expect(error.code).toBe('UNSUPPORTED_CHARACTERS');
    expect(error.field).toBe('design_data.text');
    expect(error.message).toMatch(/no bundled font can draw/);
  });

  it('refuses a single unbroken word of 5,000 characters as too long', () => {
    const error = refusal('W'.repeat(5000));
    expect([error.code, error.field]).toEqual(['TEXT_TOO_LONG', 'design_data.text']);
  });

  it.each([
    ['199 marks over one letter', `H${'\u030D'.repeat(199)}`, 199],
    ['a zalgo letter with 31 mixed marks', `Z${MARKS.slice(0, 31).join('')}!`, 31],
    ['31 Arabic marks on one letter', `ب${'\u064E'.repeat(31)}`, 31],
  ])(`refuses %s (more than ${MAX_COMBINING_MARKS} combining marks in a row), saying how many`, (_name, text, count) => {
    const error = refusal(text);
    expect([error.code, error.field]).toEqual(['TOO_MANY_MARKS', 'design_data.text']);
    expect(error.message).toContain(`stacks ${count} combining marks`);
    expect(error.message).toContain(`at most ${MAX_COMBINING_MARKS}`);
  });

  it(`accepts ${MAX_COMBINING_MARKS} marks on a letter, and the marks real text stacks`, () => {
    for (const text of [`H${'\u030D'.repeat(MAX_COMBINING_MARKS)}`, 'Việt Nam', 'Vie\u0323\u0302t', 'בְּרֵאשִׁ֖ית', 'क्षत्रिय', 'ที่นี่', '1\uFE0F\u20E3']) {
      expect(validateDesignText(text), text).toBeUndefined();
    }
  });

  it('spells the marks class as the combining marks (\\p{M}) the fonts draw', () => {
    const pattern = new RegExp(combiningMarksPattern(), 'u');
    const drawable = new RegExp(drawableTextPattern(), 'u');
    for (let codePoint = 0; codePoint < 0x20000; codePoint++) {
      const char = String.fromCodePoint(codePoint);
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
      const countsAsMark = !pattern.test(`a${char.repeat(MAX_COMBINING_MARKS + 1)}`);
      expect(countsAsMark, `U+${codePoint.toString(16)}`).toBe(/^\p{M}$/u.test(char) && drawable.test(char));
    }
  });

  it('a mixed refusal still names every character, the undrawn one among them', () => {
    expect(checkFontCoverage(`${BISMILLAH}\uA9C5`)?.message).toMatch(/2 characters that no bundled font can draw: .*U\+FDFD.*U\+A9C5/);
  });
});

/** Accepted texts that once failed a render, or could. */
const HOSTILE: ReadonlyArray<readonly [string, string]> = [
  ['200 x U+2E3B THREE-EM DASH (the widest accepted glyph, one unbreakable run, almost no height)', '\u2E3B'.repeat(200)],
  ['a single unbroken word of 200 wide letters', 'W'.repeat(200)],
  ['200 em dashes', '\u2014'.repeat(200)],
  ['short words, then a run of three-em dashes', `${'i '.repeat(60)}${'\u2E3B'.repeat(40)}`],
  [`zalgo: one letter under ${MAX_COMBINING_MARKS} mixed combining marks, six times`, `a${MARKS.slice(0, MAX_COMBINING_MARKS).join('')} `.repeat(6)],
  ['zalgo: 40 letters with 4 marks each', Array.from({ length: 40 }, (_, i) => `Z${MARKS.slice(i, i + 4).join('')}`).join('')],
  [`zalgo: ${MAX_COMBINING_MARKS} stacked U+030D above one letter, ${MAX_COMBINING_MARKS} below another`, `H${'\u030D'.repeat(MAX_COMBINING_MARKS)}\nH${'\u0329'.repeat(MAX_COMBINING_MARKS)}`],
];

/** How many pixels of an RGB(A) image differ from its top-left pixel. */
async function inkPixels(png: Buffer): Promise<number> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  let count = 0;
  for (let i = 0; i < data.length; i += info.channels) {
    if (Math.abs(data[i]! - data[0]!) + Math.abs(data[i + 1]! - data[1]!) + Math.abs(data[i + 2]! - data[2]!) + Math.abs(data[i + 3]! - data[3]!) > 96) count += 1;
  }
  return count;
}

describe('every accepted hostile text renders everywhere', () => {
  it.each(HOSTILE)('%s: preview, thumbnail, renditions, print.png and print.pdf', async (_name, text) => {
    const spec: DesignSpec = validateDesignSpec({ product_type: 't-shirt', design_data: { text, color: '#FFFFFF', font: 'Roboto-Bold' } });
    const { preview, thumbnail } = await renderDesignAssets(spec);
    expect((await sharp(preview).metadata()).width).toBe(600);
    expect(await inkPixels(preview)).toBeGreaterThan(50);
    expect((await sharp(thumbnail).metadata()).width).toBe(200);
    const renditions = await renderRenditions(spec);
    expect(renditions.length).toBeGreaterThan(0);
    for (const file of renditions) expect(file.data.length, file.name).toBeGreaterThan(0);
    const { png, pdf } = await renderPrintFiles(spec, DEFAULT_PRINT_SPECS['t-shirt'], { title: 'hostile' });
    expect(await inkPixels(png!)).toBeGreaterThan(50);
    expect(pdf!.subarray(0, 5).toString()).toBe('%PDF-');
  }, 60_000);

  it('renders them in the largest preview too (4096 px, text up to 1024 px)', async () => {
    for (const [name, text] of HOSTILE) {
      const spec = validateDesignSpec({ product_type: 't-shirt', design_data: { text, color: '#FFFFFF', font: 'Pacifico-Regular' } });
      const { preview } = await renderDesignAssets(spec, { size: 4096 });
      expect(await inkPixels(preview), name).toBeGreaterThan(50);
    }
  }, 120_000);
});

describe('the size search keeps Pango inside its surface', () => {
  // The 4096 px preview's text box on a t-shirt: the plan, made from the dashes' almost
  // flat ink, first tried 366 px, whose 78 wrapped rows are 39,000 px tall.
  const box = { fontSize: 1024, minFontSize: 41, maxWidth: 2662, maxHeight: 3686 };
  const text = '\u2E3B'.repeat(200);

  it('tries half the size when a layout would pass the limit, and ends inside the box', async () => {
    const mask = await layoutText(text, resolveFont('Roboto-Bold'), box);
    expect(mask!.width).toBeLessThanOrEqual(box.maxWidth);
    expect(mask!.height).toBeLessThanOrEqual(box.maxHeight);
    expect(mask!.fontSize).toBeGreaterThan(box.minFontSize);
  });

  it('the print layout halves where the preview does, and lands on the same size', async () => {
    const font = resolveFont('Roboto-Bold');
    const mask = await layoutText(text, font, box);
    const layout = layoutPrintText(text, font, { ...box, maxWidth: box.maxWidth / 0.98 });
    expect(layout.fontSize).toBe(mask!.fontSize);
  });

  it('measures at MEASURE_FONT_SIZE every text validation accepts, and smaller only beyond 200 of the widest glyphs', () => {
    expect(measureFontSize('\u2E3B'.repeat(200), 1024)).toBe(MEASURE_FONT_SIZE);
    expect(measureFontSize('x'.repeat(1000), 1024) * 1000 * 3).toBeLessThan(MAX_TEXT_SURFACE);
    expect(measureFontSize('short', 20)).toBe(20);
  });
});

describe('composedText', () => {
  it('composes a base and its marks where the composed character is drawable, as HarfBuzz would draw them', () => {
    expect(composedText('Cafe\u0301 \u1EC7')).toBe('Café ệ');
    expect(composedText('e\u0323\u0302')).toBe('\u1EC7');
    // No composed form: left as typed.
    expect(composedText(`H${'\u030D'.repeat(3)}`)).toBe(`H${'\u030D'.repeat(3)}`);
    expect(composedText('plain')).toBe('plain');
  });
});
