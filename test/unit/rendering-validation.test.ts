import { existsSync } from 'node:fs';
import path, { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import {
  BLACK,
  FONT_NAMES,
  MAX_TEXT_LENGTH,
  MAX_TEXT_LINES,
  PRODUCT_TYPES,
  WHITE,
  contrastRatio,
  contrastingTextColor,
  formatColor,
  parseColor,
  relativeLuminance,
  resolveFont,
  validateDesignSpec,
} from '../../src/rendering/index.js';

const VALID = { product_type: 't-shirt', design_data: { text: 'Test Design', font: 'Bebas-Bold', color: '#FF0000' } };

function withData(data: Record<string, unknown>): unknown {
  return { ...VALID, design_data: { ...VALID.design_data, ...data } };
}

/** Runs `fn`, expecting a ValidationError, and returns it. */
function validationError(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError, nothing was thrown');
}

const UPLOAD_ID = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';

function expectRejected(input: unknown, code: string, field: string): ValidationError {
  const error = validationError(() => validateDesignSpec(input));
  expect({ code: error.code, field: error.field, retryable: error.retryable }).toEqual({ code, field, retryable: false });
  return error;
}

describe('validateDesignSpec', () => {
  it('returns a copy of a valid design', () => {
    const input = { ...VALID, design_data: { ...VALID.design_data, text_color: '#fff' } };
    const spec = validateDesignSpec(input);
    expect(spec).toEqual({ product_type: 't-shirt', design_data: { text: 'Test Design', font: 'Bebas-Bold', color: '#FF0000', text_color: '#fff' } });
    expect(spec.design_data).not.toBe(input.design_data);
  });

  // The same rules as the API's schema (one definition): unknown fields are refused, not dropped.
  it.each([

    ['a design_data field', withData({ size: 'XL' }), 'design_data.size', 'design_data takes: text, image, font, color, text_color'],
    ['a guess at the background colour\'s name', withData({ background_color: '#fff' }), 'design_data.background_color', 'design_data takes: text, image, font, color, text_color'],
    ['an image field', withData({ image: { upload_id: UPLOAD_ID, size: 0.5 } }), 'design_data.image.size', 'design_data.image takes: upload_id, placement'],
    ['a placement field', withData({ image: { upload_id: UPLOAD_ID, placement: { x: 10 } } }), 'design_data.image.placement.x', 'design_data.image.placement takes: position, size, fit'],
  ])('rejects an unknown field (%s) as UNKNOWN_FIELD naming it and the fields its object takes', (_case, input, field, takes) => {
    expect(expectRejected(input, 'UNKNOWN_FIELD', field).message).toBe(`${field} is not a known field; remove it (${takes}).`);
  });

  it('rejects an unknown top-level field as UNKNOWN_FIELD naming it, without a list (the routes take watermark too, and say so)', () => {
    expect(expectRejected({ ...VALID, extra: 1 }, 'UNKNOWN_FIELD', 'extra').message).toBe('extra is not a known field; remove it.');
  });

  it('rejects a null text_color (omit it for the automatic colour)', () => {
    expectRejected(withData({ text_color: null }), 'INVALID_TYPE', 'design_data.text_color');
  });

  it.each([
    ['product_type', { design_data: VALID.design_data }, 'product_type'],
    ['design_data', { product_type: 't-shirt' }, 'design_data'],
    ['text', withData({ text: undefined }), 'design_data.text'],
    ['color', { ...VALID, design_data: { text: 'x', font: 'Bebas-Bold' } }, 'design_data.color'],
  ])('rejects a missing %s as FIELD_REQUIRED naming it', (_case, input, field) => {
    expectRejected(input, 'FIELD_REQUIRED', field);
  });

  it.each(PRODUCT_TYPES)('accepts the product type %s', (productType) => {
    expect(validateDesignSpec({ ...VALID, product_type: productType }).product_type).toBe(productType);
  });

  it('rejects an unknown product type, listing the known ones', () => {
    const error = expectRejected({ ...VALID, product_type: 'tshirt' }, 'UNKNOWN_PRODUCT_TYPE', 'product_type');
    for (const productType of PRODUCT_TYPES) expect(error.message).toContain(productType);
  });

  it.each([
    ['a missing design', undefined, 'design'],
    ['a null design', null, 'design'],
    ['an array design', [VALID], 'design'],
    ['a string design', 'design', 'design'],
    ['a numeric product_type', { ...VALID, product_type: 1 }, 'product_type'],
    ['a string design_data', { product_type: 't-shirt', design_data: 'hi' }, 'design_data'],
    ['a numeric text', withData({ text: 42 }), 'design_data.text'],
    ['an array font', withData({ font: ['Bebas-Bold'] }), 'design_data.font'],
    ['a numeric color', withData({ color: 0xff0000 }), 'design_data.color'],
    ['a null color', withData({ color: null }), 'design_data.color'],
    ['an object text_color', withData({ text_color: { r: 0 } }), 'design_data.text_color'],
  ])('rejects %s as INVALID_TYPE naming the field', (_case, input, field) => {
    expectRejected(input, 'INVALID_TYPE', field);
  });

  describe('text', () => {
    it.each(['', '   ', '\n\n', ' \n '])('requires some text (%j)', (text) => {
      expectRejected(withData({ text }), 'TEXT_REQUIRED', 'design_data.text');
    });

    it(`accepts ${MAX_TEXT_LENGTH} characters counted as code points, not UTF-16 units`, () => {
      expect(MAX_TEXT_LENGTH).toBe(200);
      expect(validateDesignSpec(withData({ text: 'a'.repeat(200) })).design_data.text).toHaveLength(200);
      // 200 emoji are 400 UTF-16 units.
      expect(() => validateDesignSpec(withData({ text: '😀'.repeat(200) }))).not.toThrow();
    });

    it.each([
      ['201 letters', 'a'.repeat(201)],
      ['201 emoji', '😀'.repeat(201)],
    ])('rejects %s as TEXT_TOO_LONG', (_case, text) => {
      const error = expectRejected(withData({ text }), 'TEXT_TOO_LONG', 'design_data.text');
      expect(error.message).toContain('200');
    });

    it(`accepts ${MAX_TEXT_LINES} lines and rejects more`, () => {
      expect(MAX_TEXT_LINES).toBe(10);
      expect(() => validateDesignSpec(withData({ text: Array(10).fill('line').join('\n') }))).not.toThrow();
      expectRejected(withData({ text: Array(11).fill('line').join('\n') }), 'TOO_MANY_LINES', 'design_data.text');
    });

    it.each([
      ['a tab', 'a\tb'],
      ['NUL', 'a\u0000b'],
      ['an escape', 'a\u001b[31mb'],
      ['DEL', 'a\u007fb'],
      ['a C1 control', 'a\u0086b'],
      ['a lone surrogate', 'a\ud800b'],
    ])('rejects %s as INVALID_TEXT', (_case, text) => {
      expectRejected(withData({ text }), 'INVALID_TEXT', 'design_data.text');
    });

    it.each([
      ['markup-looking text', '<b>hi</b> & <span foreground="red">x</span>'],
      ['emoji with joiners', '👩‍👩‍👧 🇫🇷'],
      ['Arabic', 'مرحبا'],
      ['Hebrew', 'שלום'],
      ['CJK', '你好，世界'],
      ['a zero-width space', 'a\u200bb'],
    ])('accepts %s', (_case, text) => {
      expect(validateDesignSpec(withData({ text })).design_data.text).toBe(text);
    });
  });

  describe('font', () => {
    it.each(FONT_NAMES)('accepts the bundled font %s', (font) => {
      expect(validateDesignSpec(withData({ font })).design_data.font).toBe(font);
    });

    it.each(['Comic Sans', 'bebas-bold', '__proto__', 'constructor', ''])('rejects %j, listing the available fonts', (font) => {
      const error = expectRejected(withData({ font }), 'UNKNOWN_FONT', 'design_data.font');
      expect(error.message).toContain(`Available fonts: ${FONT_NAMES.join(', ')}`);
    });
  });

  describe.each(['color', 'text_color'] as const)('%s', (key) => {
    const field = `design_data.${key}`;

    it.each(['#abc', '#ABC', '#a1B2c3', '#000000', '#FFFFFF'])('accepts %s', (value) => {
      expect(validateDesignSpec(withData({ [key]: value })).design_data[key]).toBe(value);
    });

    it.each(['red', '#12', '#GGGGGG', '123456', '#1234', '#1234567', ' #123456', '#123456 ', 'rgb(0,0,0)', ''])('rejects %j as INVALID_COLOR', (value) => {
      const error = expectRejected(withData({ [key]: value }), 'INVALID_COLOR', field);
      expect(error.message).toContain('#FF0000');
    });

    it('rejects a non-string as INVALID_TYPE', () => {
      expectRejected(withData({ [key]: 123456 }), 'INVALID_TYPE', field);
    });
  });
});

describe('colours', () => {
  it('parses #RGB and #RRGGBB in any case', () => {
    expect(parseColor('#F00')).toEqual({ r: 255, g: 0, b: 0 });
    expect(parseColor('#0a0B0c')).toEqual({ r: 10, g: 11, b: 12 });
    expect(parseColor('#abc')).toEqual(parseColor('#AABBCC'));
    expect(formatColor(parseColor('#abc'))).toBe('#AABBCC');
  });

  it('names the field in its error', () => {
    const error = validationError(() => parseColor('blue', 'design_data.text_color'));
    expect({ code: error.code, field: error.field }).toEqual({ code: 'INVALID_COLOR', field: 'design_data.text_color' });
  });

  it('computes WCAG relative luminance and contrast', () => {
    expect(relativeLuminance(WHITE)).toBe(1);
    expect(relativeLuminance(BLACK)).toBe(0);
    expect(contrastRatio(WHITE, BLACK)).toBe(21);
    expect(contrastRatio(BLACK, WHITE)).toBe(21);
    // The WCAG reference value for #777 on white.
    expect(contrastRatio(parseColor('#777777'), WHITE)).toBeCloseTo(4.48, 2);
  });

  it.each([
    ['#000000', WHITE],
    ['#112233', WHITE],
    ['#0000FF', WHITE],
    ['#FFFFFF', BLACK],
    ['#EEEEEE', BLACK],
    ['#FFFF00', BLACK],
    // Pure red contrasts more with black (5.25) than with white (4.0).
    ['#FF0000', BLACK],
  ])('picks the text colour that contrasts more with %s', (background, expected) => {
    expect(contrastingTextColor(parseColor(background))).toEqual(expected);
  });
});

const ASSETS_FONTS = fileURLToPath(new URL('../../assets/fonts/', import.meta.url));

describe('fonts', () => {
  it('offers at least six families, sorted, the seed’s Bebas-Bold among them', () => {
    expect(FONT_NAMES.length).toBeGreaterThanOrEqual(6);
    expect([...FONT_NAMES].sort()).toEqual(FONT_NAMES);
    expect(FONT_NAMES).toContain('Bebas-Bold');
  });

  it.each(FONT_NAMES)('resolves %s to a TTF shipped in assets/fonts, with its fallbacks', (name) => {
    const font = resolveFont(name);
    expect(font.name).toBe(name);
    expect(isAbsolute(font.file)).toBe(true);
    // Inside this package, not inside another package's internal layout.
    expect(font.file).toBe(path.join(ASSETS_FONTS, path.basename(font.file)));
    expect(font.file).toMatch(/\.ttf$/);
    expect(font.faces[0]?.file).toBe(font.file);
    for (const face of font.faces) expect(existsSync(face.file)).toBe(true);
    // Pango tries the families in this order: the font's own, then every fallback.
    expect(font.pango.startsWith(`${font.faces.map((face) => face.family).join(',')},`)).toBe(true);
  });

  it('rejects an unknown font with the list of available fonts', () => {
    const error = validationError(() => resolveFont('Helvetica'));
    expect({ code: error.code, field: error.field }).toEqual({ code: 'UNKNOWN_FONT', field: 'design_data.font' });
    expect(error.message).toBe(`Unknown font "Helvetica". Available fonts: ${FONT_NAMES.join(', ')}.`);
  });
});
