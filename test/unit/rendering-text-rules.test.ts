import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { FONT_NAMES, validateDesignSpec, type FontName } from '../../src/rendering/index.js';
import { faceCoverage, resolveFont } from '../../src/rendering/fonts.js';
import { layoutText } from '../../src/rendering/text-layout.js';
import { designWarnings } from '../../src/rendering/design-spec.js';
import {
  checkFontCoverage,
  classOf,
  drawableRanges,
  drawableTextPattern,
  INVISIBLE_RANGES,
  NOT_DRAWN_RANGES,
  checkLineCount,
  checkTextContrast,
  checkVisibleText,
  countLines,
  MAX_TEXT_LINES,
  MIN_TEXT_CONTRAST,
  normalizeLineBreaks,
  validateDesignText,
  UNDRAWN_CHARACTERS,
} from '../../src/rendering/text-rules.js';

const design = (data: Record<string, unknown>) => ({
  product_type: 't-shirt',
  design_data: { text: 'Hello', font: 'Roboto-Bold', color: '#FF0000', ...data },
});

function rejection(data: Record<string, unknown>): ValidationError {
  try {
    validateDesignSpec(design(data));
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(data)}`);
}

// Every mandatory break of UAX #14, which Pango breaks lines at.
const LINE_BREAKS = [
  ['LF', '\n'],
  ['CR LF', '\r\n'],
  ['CR', '\r'],
  ['VT', '\v'],
  ['FF', '\f'],
  ['NEL', '\u0085'],
  ['LINE SEPARATOR', '\u2028'],
  ['PARAGRAPH SEPARATOR', '\u2029'],
] as const;

describe('line breaks', () => {
  it.each(LINE_BREAKS)('counts %s as a line break, toward the line limit', (_name, lineBreak) => {
    const lines = (count: number) => Array.from({ length: count }, (_, i) => String(i % 10)).join(lineBreak);
    expect(countLines(lines(30))).toBe(30);
    expect(checkLineCount(lines(MAX_TEXT_LINES))).toBeUndefined();
    expect(checkLineCount(lines(MAX_TEXT_LINES + 1))).toMatchObject({ code: 'TOO_MANY_LINES', field: 'design_data.text' });
    const error = rejection({ text: lines(30) });
    expect({ code: error.code, field: error.field }).toEqual({ code: 'TOO_MANY_LINES', field: 'design_data.text' });
    expect(error.message).toContain('got 30');
  });

  it.each(LINE_BREAKS)('stores and renders %s as \\n', (_name, lineBreak) => {
    expect(normalizeLineBreaks(`a${lineBreak}b${lineBreak}c`)).toBe('a\nb\nc');
    expect(validateDesignSpec(design({ text: `a${lineBreak}b` })).design_data.text).toBe('a\nb');
  });

  it('counts a mix of them, and empty lines', () => {
    expect(countLines('a\r\n\r\nb\u2028c\u2029\u0085')).toBe(6);
  });
});

describe('invisible text', () => {
  it.each([
    ['ZERO WIDTH SPACE', '\u200b', 'U+200B'],
    ['ZERO WIDTH JOINER', '\u200d\u200d', 'U+200D'],
    ['ZERO WIDTH NON-JOINER', '\u200c', 'U+200C'],
    ['WORD JOINER', '\u2060', 'U+2060'],
    ['SOFT HYPHEN', '\u00ad', 'U+00AD'],
    ['a variation selector', '\ufe0f', 'U+FE0F'],
    ['a variation selector supplement', '\u{e0100}', 'U+E0100'],
    ['tag characters', '\u{e0067}\u{e0062}\u{e007f}', 'U+E0067'],
    ['a lone RIGHT-TO-LEFT OVERRIDE', '\u202e', 'U+202E'],
    ['a LEFT-TO-RIGHT MARK', '\u200e', 'U+200E'],
    ['a BYTE ORDER MARK', '\ufeff', 'U+FEFF'],
    ['a HANGUL FILLER', '\u3164', 'U+3164'],
    ['a BRAILLE PATTERN BLANK', '\u2800', 'U+2800'],
    ['an IDEOGRAPHIC SPACE and a no-break space', '\u3000\u00a0', 'U+3000'],
    ['a mix, with spaces and line breaks', ' \u200b\n\u2060 \u2028\ufe0f ', 'U+2060'],
  ])('refuses text made only of %s, naming the characters', (_name, text, named) => {
    const violation = checkVisibleText(text);
    expect(violation).toMatchObject({ code: 'TEXT_REQUIRED', field: 'design_data.text' });
    expect(violation?.message).toContain(named);
    const error = rejection({ text });
    expect({ code: error.code, field: error.field }).toEqual({ code: 'TEXT_REQUIRED', field: 'design_data.text' });
    expect(error.message).toContain(named);
  });

  it.each(['', ' ', '\n\n'])('refuses %j without listing characters', (text) => {
    expect(checkVisibleText(text)?.message).toBe('design_data.text must contain some visible text.');
  });

  it.each([
    ['a word with a zero-width space inside', 'a\u200bb'],
    ['an emoji with a variation selector', '❤\ufe0f'],
    ['a lone combining mark', '\u0301'],
    ['a dot', '.'],
  ])('accepts %s', (_name, text) => {
    expect(checkVisibleText(text)).toBeUndefined();
  });
});

// One sample per script the bundled fonts draw, and emoji sequences.
const SUPPORTED = [
  ['Latin with accents', 'Crème brûlée, Ærøskøbing, Łódź, Việt Nam'],
  ['Greek', 'Καλημέρα κόσμε'],
  ['Cyrillic', 'Привет, мир'],
  ['Arabic', 'مرحبا بالعالم'],
  ['Hebrew', 'שלום עולם'],
  ['Devanagari', 'नमस्ते दुनिया'],
  ['Thai', 'สวัสดีชาวโลก'],
  ['Chinese', '你好，世界。繁體中文'],
  ['Japanese', 'こんにちは、カタカナ、漢字'],
  ['Korean', '안녕하세요 세계'],
  ['emoji', '😀🎉❤️👍🏽'],
  ['emoji sequences', '👩‍👩‍👧 🇫🇷 1️⃣'],
  ['symbols', '© ® ™ € £ ¥ → ★ ♥'],
] as const;

describe('font coverage', () => {
  describe.each(FONT_NAMES)('%s', (font) => {
    it.each(SUPPORTED)('accepts %s', (_name, text) => {
      expect(checkFontCoverage(text)).toBeUndefined();
      expect(validateDesignSpec(design({ text, font })).design_data.text).toBe(text);
    });
  });

  it.each([
    ['Georgian', 'გამარჯობა', 'U+10D2'],
    ['Armenian', 'Բարեւ', 'U+0532'],
    ['Ethiopic', 'ሰላም', 'U+1230'],
    ['Khmer', 'សួស្តី', 'U+179F'],
    ['Egyptian hieroglyphs', 'Hi 𓀀', 'U+13000'],
    ['a private-use character', 'logo \ue000', 'U+E000'],
    ['an unassigned code point', 'x\u0378', 'U+0378'],
  ])('refuses %s, naming the characters and what the fonts support', (_name, text, named) => {
    const error = rejection({ text });
    expect({ code: error.code, field: error.field }).toEqual({ code: 'UNSUPPORTED_CHARACTERS', field: 'design_data.text' });
    expect(error.message).toContain(named);
    expect(error.message).toContain('Latin, Greek, Cyrillic');
  });

  it('lists each missing character once, with its text', () => {
    const violation = checkFontCoverage('ሰሰ Hi ሰ ላ');
    expect(violation?.message).toContain('2 characters');
    expect(violation?.message).toContain('"ሰ" (U+1230)');
    expect(violation?.message).toContain('"ላ" (U+120B)');
  });

  it('runs the text rules in order through validateDesignText', () => {
    expect(validateDesignText('\u200b')?.code).toBe('TEXT_REQUIRED');
    expect(validateDesignText('a\u2028'.repeat(11))?.code).toBe('TOO_MANY_LINES');
    expect(validateDesignText('ሰ')?.code).toBe('UNSUPPORTED_CHARACTERS');
    expect(validateDesignText('Hello 你好')).toBeUndefined();
  });

  // What the renderer draws, not only what the rule says: each supported character,
  // laid out with the font's fallback chain, is pixel for pixel the character drawn with
  // the one bundled face the coverage rule credits. A system font or a hex box would differ.
  const box = { fontSize: 48, minFontSize: 8, maxWidth: 520, maxHeight: 520 };
  it.each(['Bebas-Bold', 'Pacifico-Regular', 'Roboto-Bold'] satisfies FontName[])('draws every supported script with the bundled face that covers it, in %s', async (name) => {
    const font = resolveFont(name);
    // The style the chain asks every family for (fontconfig emboldens a regular face asked for bold).
    const style = font.pango.slice(font.pango.lastIndexOf(',') + 1);
    const segmenter = new Intl.Segmenter('und', { granularity: 'grapheme' });
    const samples = SUPPORTED.flatMap(([, text]) => [...segmenter.segment(text)].map((s) => s.segment)).filter((g) => g.trim() !== '');
    // Some of each script: the first graphemes drawn by each face.
    const byFace = new Map<string, string[]>();
    for (const grapheme of samples) {
      const codePoints = [...grapheme].map((c) => c.codePointAt(0) ?? 0).filter((c) => c !== 0x200d && (c < 0xfe00 || c > 0xfe0f));
      const face = font.faces.find((f) => codePoints.every((c) => faceCoverage(f).has(c)));
      expect(face, `a face for ${grapheme}`).toBeDefined();
      if (!face) continue;
      const list = byFace.get(face.file) ?? [];
      if (list.length < 3) list.push(grapheme);
      byFace.set(face.file, list);
    }
    expect(byFace.size).toBeGreaterThanOrEqual(8);
    for (const [file, graphemes] of byFace) {
      const face = font.faces.find((f) => f.file === file);
      if (!face) continue;
      for (const grapheme of graphemes) {
        const chained = await layoutText(grapheme, font, box);
        const alone = await layoutText(grapheme, { ...font, file: face.file, pango: `${face.family},${style}`, faces: [face] }, box);
        expect(chained, grapheme).not.toBeNull();
        expect(chained?.data.equals(alone?.data ?? Buffer.alloc(0)), `${grapheme} drawn from ${face.family}`).toBe(true);
      }
    }
  });
});

describe('contrast', () => {
  // JSON Schema cannot compare two fields, so low contrast is a warning, not a refusal:
  // the published schema says everything the API refuses.
  it.each([
    ['the same colour', '#FF0000', '#FF0000'],
    ['the same colour in other spellings', '#fff', '#FFFFFF'],
    ['a shade apart', '#336699', '#3A6A9A'],
    ['dark grey on black', '#000000', '#222222'],
  ])('accepts text in %s as the background, with a LOW_CONTRAST warning naming text_color', (_name, color, textColor) => {
    const accepted = validateDesignSpec(design({ color, text_color: textColor }));
    const warnings = designWarnings(accepted.design_data);
    expect(warnings.map(({ code, field }) => ({ code, field }))).toEqual([{ code: 'LOW_CONTRAST', field: 'design_data.text_color' }]);
    expect(warnings[0]?.message).toContain(`${MIN_TEXT_CONTRAST}:1`);
    expect(warnings[0]?.message).toContain(textColor);
    expect(checkTextContrast(color, textColor)?.code).toBe('LOW_CONTRAST');
  });

  it.each([
    ['white on red', '#FF0000', '#FFFFFF'],
    ['tone on tone at 2:1', '#FFFFFF', '#AABBCC'],
    ['black on white', '#FFFFFF', '#000'],
  ])('accepts %s without a warning', (_name, color, textColor) => {
    expect(checkTextContrast(color, textColor)).toBeUndefined();
    const accepted = validateDesignSpec(design({ color, text_color: textColor }));
    expect(accepted.design_data.text_color).toBe(textColor);
    expect(designWarnings(accepted.design_data)).toEqual([]);
  });

  it('accepts any background without text_color, without a warning: the automatic colour contrasts most', () => {
    for (const color of ['#000000', '#FFFFFF', '#777777', '#767676', '#FF0000']) {
      expect(designWarnings(validateDesignSpec(design({ color })).design_data)).toEqual([]);
    }
  });
});

describe('the rules as patterns (what the published JSON Schema says)', () => {
  const ALL = { length: 0x110000 };
  const rangesOf = (test: (char: string) => boolean) => {
    const ranges: [number, number][] = [];
    for (let codePoint = 0; codePoint < ALL.length; codePoint++) {
      if (!test(String.fromCodePoint(codePoint))) continue;
      const last = ranges.at(-1);
      if (last && last[1] === codePoint - 1) last[1] = codePoint;
      else ranges.push([codePoint, codePoint]);
    }
    return ranges;
  };

  it('spells the invisible and not-drawn classes as their Unicode property definitions', () => {
    expect(rangesOf((c) => /^[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u2800]$/u.test(c))).toEqual(INVISIBLE_RANGES);
    expect(rangesOf((c) => /^[\n\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}]$/u.test(c))).toEqual(NOT_DRAWN_RANGES);
  });

  it('the coverage class holds exactly the code points every font\'s chain draws, and those nothing draws', () => {
    const chains = FONT_NAMES.map((name) => resolveFont(name).faces.map(faceCoverage));
    const notDrawn = new RegExp(`^[${classOf(NOT_DRAWN_RANGES)}\u2028\u2029]$`, 'u');
    const expected = rangesOf((c) => {
      const codePoint = c.codePointAt(0) ?? 0;
      if (UNDRAWN_CHARACTERS.has(codePoint)) return false;
      return notDrawn.test(c) || chains.every((faces) => faces.some((face) => face.has(codePoint)));
    });
    expect(drawableRanges()).toEqual(expected);
    // Characters that only some fonts draw are refused for all: the schema does not see the font.
    const pattern = new RegExp(drawableTextPattern(), 'u');
    expect(pattern.test('Hi 你好 😀 مرحبا')).toBe(true);
    expect(pattern.test('\ue000')).toBe(false);
  });

  it('draws a base letter with a combining mark that only another face has, without tofu', async () => {
    // Coverage is per code point: Pango takes each character from the first face that has it,
    // so a mark the base's face lacks comes from the face that has it. Its ink is the base's
    // plus the mark's, each drawn by its own face (a hex box would add far more, see below).
    const font = resolveFont('Roboto-Bold');
    const style = font.pango.slice(font.pango.lastIndexOf(',') + 1);
    const box = { fontSize: 64, minFontSize: 64, maxWidth: 1000, maxHeight: 1000 };
    const ink = async (text: string, face?: (typeof font.faces)[number]) => {
      const mask = await layoutText(text, face ? { ...font, file: face.file, pango: `${face.family},${style}`, faces: [face] } : font, box);
      let sum = 0;
      for (let i = 3; i < (mask?.data.length ?? 0); i += 4) sum += mask?.data[i] ?? 0;
      return sum;
    };
    for (const mark of ['\u064e', '\u0e31', '\u05b7']) {
      const markFace = font.faces.find((face) => faceCoverage(face).has(mark.codePointAt(0) ?? 0));
      expect(markFace && markFace !== font.faces[0], `a fallback face for U+${(mark.codePointAt(0) ?? 0).toString(16)}`).toBe(true);
      expect(checkFontCoverage(`a${mark}`)).toBeUndefined();
      const together = await ink(`a${mark}`);
      // The mark's own ink, on a dotted circle (HarfBuzz draws one under a mark with no base).
      const markInk = (await ink(`\u25cc${mark}`, markFace)) - (await ink('\u25cc', markFace));
      expect(markInk).toBeGreaterThan(0);
      const apart = (await ink('a')) + markInk;
      expect(Math.abs(together - apart) / apart, `a${mark}`).toBeLessThan(0.1);
    }
    // What tofu would look like: a character no face has (checkFontCoverage refuses it) drawn as a hex box.
    expect(checkFontCoverage('a\u0378')?.code).toBe('UNSUPPORTED_CHARACTERS');
    const tofu = (await ink('a\u0378')) - (await ink('a'));
    expect(tofu).toBeGreaterThan(2 * ((await ink('a\u064e')) - (await ink('a'))));
  });
});
