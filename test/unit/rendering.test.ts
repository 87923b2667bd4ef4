import { describe, expect, it } from 'vitest';
import { AppError, ValidationError } from '../../src/errors.js';
import { FONT_NAMES, renderDesign, type DesignSpec } from '../../src/rendering/index.js';
import { countPixels, decode, design, hex, inkBox, inkRowRuns, pixelAt, same, type Color, type Pixels } from '../fixtures/rendering/images.js';

const WHITE: Color = [255, 255, 255];
const BLACK: Color = [0, 0, 0];
/**
 * The fixture's product is a t-shirt, whose print area is 12 x 16 in: its 600 px preview
 * lays the design out in a 450 x 600 trim centred on the canvas (x 75..525), with the
 * margin scaled by that trim's shorter side (40 px per 600: 30), so text stays inside
 * INNER, and the largest text size is 200 x 450 / 600 = 150 px.
 */
const INNER = { left: 75 + 30, top: 30, right: 525 - 30, bottom: 600 - 30, width: 390, height: 540 };

async function render(data: Record<string, unknown> = {}, options?: Parameters<typeof renderDesign>[1]): Promise<Pixels> {
  return decode(await renderDesign(design(data), options));
}

function corners(image: Pixels): Color[] {
  const last = { x: image.width - 1, y: image.height - 1 };
  return [pixelAt(image, 0, 0), pixelAt(image, last.x, 0), pixelAt(image, 0, last.y), pixelAt(image, last.x, last.y)];
}

describe('renderDesign', () => {
  it('produces a 600x600 RGB PNG', async () => {
    const image = await render();
    expect({ format: image.format, width: image.width, height: image.height, channels: image.channels }).toEqual({
      format: 'png',
      width: 600,
      height: 600,
      channels: 3,
    });
  });

  it.each(['#FF0000', '#00ff7f', '#123', '#FFFFFF', '#000000'])('fills the background with %s', async (color) => {
    const image = await render({ color });
    const expected = hex(color.length === 4 ? `#${[...color.slice(1)].map((d) => d + d).join('')}` : color);
    for (const corner of corners(image)) expect(corner).toEqual(expected);
  });

  it('draws the text in text_color, centred', async () => {
    const image = await render({ text: 'HELLO', color: '#102030', text_color: '#FFCC00' });
    const box = inkBox(image, hex('#102030'));
    expect(box).not.toBeNull();
    if (!box) return;
    // Solid glyph interiors are exactly the text colour; edges are blends of the two.
    expect(countPixels(image, (c) => same(c, hex('#FFCC00')))).toBeGreaterThan(500);
    expect(Math.abs((box.left + box.right) / 2 - 300)).toBeLessThanOrEqual(1);
    expect(Math.abs((box.top + box.bottom) / 2 - 300)).toBeLessThanOrEqual(1);
  });

  it('writes white text on a dark background and black text on a light one', async () => {
    const dark = await render({ text: 'HELLO', color: '#112233' });
    expect(countPixels(dark, (c) => same(c, WHITE))).toBeGreaterThan(500);
    expect(countPixels(dark, (c) => same(c, BLACK))).toBe(0);
    const light = await render({ text: 'HELLO', color: '#EEEEEE' });
    expect(countPixels(light, (c) => same(c, BLACK))).toBeGreaterThan(500);
    expect(countPixels(light, (c) => same(c, WHITE))).toBe(0);
  });

  describe('text as large as fits', () => {
    const background = hex('#FF0000');

    it('draws short text large: "Hi" in Bebas Neue stands at least 90 px tall on a t-shirt, 120 px on a square product (it was 34 px)', async () => {
      const box = inkBox(await render({ text: 'Hi' }), background);
      // 150 px type, the t-shirt's largest size: Bebas Neue capitals are 0.7 em tall.
      expect(box && box.bottom - box.top).toBeGreaterThanOrEqual(90);
      expect(box && box.bottom - box.top).toBeLessThanOrEqual(112);
      // 200 px type on a hoodie, whose trim is the whole canvas.
      const square = inkBox(await decode(await renderDesign(design({ text: 'Hi' }, 'hoodie'))), background);
      expect(square && square.bottom - square.top).toBeGreaterThanOrEqual(120);
      expect(square && square.bottom - square.top).toBeLessThanOrEqual(150);
    });

    it.each(FONT_NAMES)('makes a two-word text in %s fill the width of the box', async (font) => {
      const box = inkBox(await render({ text: 'Custom Design', font }), background);
      expect(box).not.toBeNull();
      if (!box) return;
      // The widest word meets the margins within a few percent, or the text reached the largest size.
      const fill = Math.max((box.right - box.left) / INNER.width, (box.bottom - box.top) / INNER.height);
      expect(fill).toBeGreaterThan(0.6);
      expect(box.left).toBeGreaterThanOrEqual(INNER.left);
      expect(box.right).toBeLessThanOrEqual(INNER.right);
    });

    it('wraps between words, never inside a word that fits a line on its own', async () => {
      // "Custom" / "Text" / "123": a search that broke words would draw "Custo" / "m Text" and more rows.
      const image = await render({ text: 'Custom Text 123', font: 'Roboto-Bold' });
      expect(inkRowRuns(image, background)).toBe(3);
    });

    it('fills most of the box with a long sentence', async () => {
      const box = inkBox(await render({ text: 'The quick brown fox jumps over the lazy dog while the cat watches from the garden wall', font: 'Roboto-Bold' }), background);
      expect(box).not.toBeNull();
      if (!box) return;
      expect(((box.right - box.left) * (box.bottom - box.top)) / (INNER.width * INNER.height)).toBeGreaterThan(0.5);
    });
  });

  it('renders the same design to the same bytes', async () => {
    const spec = design({ text: 'Same\nbytes', font: 'Lobster-Regular' });
    expect((await renderDesign(spec)).equals(await renderDesign(spec))).toBe(true);
  });

  describe('user text is data, never markup', () => {
    const width = (image: Pixels) => {
      const box = inkBox(image, hex('#FF0000'));
      return box ? box.right - box.left : 0;
    };

    it('shows <b>x</b> literally: wider than x and with different pixels from a bold x', async () => {
      const [tagged, plain] = await Promise.all([render({ text: '<b>x</b>', font: 'Roboto-Regular' }), render({ text: 'x', font: 'Roboto-Regular' })]);
      expect(tagged.data.equals(plain.data)).toBe(false);
      // The tags are drawn: seven more glyphs than "x" alone.
      expect(width(tagged)).toBeGreaterThan(4 * width(plain));
      const boldX = await render({ text: 'x', font: 'Roboto-Bold' });
      expect(tagged.data.equals(boldX.data)).toBe(false);
    });

    it('does not colour text from a <span foreground> the user typed', async () => {
      const image = await render({ text: '<span foreground="red">x</span>', color: '#FFFFFF', text_color: '#000000' });
      // Only greys (black text antialiased on white): no red pixel anywhere.
      expect(countPixels(image, ([r, g, b]) => r !== g || g !== b)).toBe(0);
      expect(width(image)).toBeGreaterThan(300);
    });

    it.each([
      ['a & b', 'a  b'],
      ['&amp;', '&'],
      ['&lt;', '<'],
      ["it's \"quoted\"", 'its quoted'],
    ])('shows %j with every character, wider than %j', async (text, shorter) => {
      const [literal, other] = await Promise.all([render({ text }), render({ text: shorter })]);
      expect(width(literal)).toBeGreaterThan(width(other));
    });
  });

  describe('fonts', () => {
    it.each(FONT_NAMES)('renders %s', async (font) => {
      const image = await render({ font, text: 'Quick Brown Fox', color: '#FFFFFF' });
      expect(countPixels(image, (c) => !same(c, WHITE))).toBeGreaterThan(1000);
    });

    it('gives every font different pixels', async () => {
      const renders = await Promise.all(FONT_NAMES.map((font) => renderDesign(design({ font, text: 'Quick Brown Fox' }))));
      const distinct = new Set(renders.map((png) => png.toString('base64')));
      expect(distinct.size).toBe(FONT_NAMES.length);
    });
  });

  describe('text that does not fit on one line', () => {
    const background = hex('#FF0000');

    async function expectInsideMargins(text: string, font = 'Bebas-Bold'): Promise<Pixels> {
      const image = await render({ text, font });
      const box = inkBox(image, background);
      expect(box).not.toBeNull();
      expect(box?.left).toBeGreaterThanOrEqual(INNER.left);
      expect(box?.top).toBeGreaterThanOrEqual(INNER.top);
      expect(box?.right).toBeLessThanOrEqual(INNER.right);
      expect(box?.bottom).toBeLessThanOrEqual(INNER.bottom);
      return image;
    }

    it('wraps a long sentence onto centred lines', async () => {
      const image = await expectInsideMargins('The quick brown fox jumps over the lazy dog again and again');
      expect(inkRowRuns(image, background)).toBeGreaterThanOrEqual(2);
      const box = inkBox(image, background);
      expect(Math.abs(((box?.left ?? 0) + (box?.right ?? 0)) / 2 - 300)).toBeLessThanOrEqual(1);
    });

    it.each(FONT_NAMES)('keeps 200 characters of words in %s inside the margins', async (font) => {
      const words = 'Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua '.repeat(2);
      await expectInsideMargins(words.slice(0, 200), font);
    });

    it('breaks a single 200-character word and keeps it inside the margins', async () => {
      const image = await expectInsideMargins('W'.repeat(200), 'Pacifico-Regular');
      expect(inkRowRuns(image, background)).toBeGreaterThanOrEqual(5);
    });

    it('shrinks ten lines until all ten fit', async () => {
      const text = Array.from({ length: 10 }, (_, i) => `Line ${i + 1}`).join('\n');
      const image = await expectInsideMargins(text, 'Oswald-Bold');
      expect(inkRowRuns(image, background)).toBe(10);
    });

    it('shrinks 200 CJK characters to fit', async () => {
      await expectInsideMargins('你好世界'.repeat(50));
    });
  });

  it.each([
    ['emoji', '😀🎉 Party 👩‍👩‍👧'],
    ['Arabic', 'مرحبا بالعالم'],
    ['Hebrew', 'שלום עולם'],
    ['CJK', '你好，世界 こんにちは 안녕하세요'],
    ['Devanagari and Thai', 'नमस्ते สวัสดี'],
    ['mixed scripts', 'Hi مرحبا שלום 你好 😀'],
  ])('renders %s text, falling back to the bundled fonts for missing glyphs', async (_case, text) => {
    const image = await render({ text, color: '#FFFFFF' });
    expect(image.width).toBe(600);
    expect(countPixels(image, (c) => !same(c, WHITE))).toBeGreaterThan(100);
  });

  it('refuses text with nothing visible (a zero-width space) instead of publishing a blank design', async () => {
    const spec: DesignSpec = { product_type: 't-shirt', design_data: { text: '\u200b', font: 'Bebas-Bold', color: '#FF0000' } };
    const error = await renderDesign(spec).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect({ code: (error as ValidationError).code, field: (error as ValidationError).field }).toEqual({ code: 'TEXT_REQUIRED', field: 'design_data.text' });
  });

  describe('options', () => {
    it('honours the compression level: level 0 is bigger than level 9, with the same pixels', async () => {
      const spec = design({ text: 'Compression' });
      const [stored, smallest, byDefault, six] = await Promise.all([
        renderDesign(spec, { compressionLevel: 0 }),
        renderDesign(spec, { compressionLevel: 9 }),
        renderDesign(spec),
        renderDesign(spec, { compressionLevel: 6 }),
      ]);
      // Stored, not compressed: at least a byte per pixel (one text colour is a palette PNG, one byte each).
      expect(stored.length).toBeGreaterThan(600 * 600);
      expect(stored.length).toBeGreaterThan(smallest.length);
      expect(byDefault.equals(six)).toBe(true);
      expect((await decode(stored)).data.equals((await decode(smallest)).data)).toBe(true);
    });

    it('renders another size with the layout scaled', async () => {
      const [small, large] = await Promise.all([render({ text: 'HELLO' }, { size: 300 }), render({ text: 'HELLO' })]);
      expect([small.width, small.height]).toEqual([300, 300]);
      const smallBox = inkBox(small, hex('#FF0000'));
      const largeBox = inkBox(large, hex('#FF0000'));
      const height = (box: typeof smallBox) => (box ? box.bottom - box.top : 0);
      expect(Math.abs(height(smallBox) * 2 - height(largeBox))).toBeLessThanOrEqual(4);
    });

    it.each([
      [{ compressionLevel: 10 }, 'compressionLevel'],
      [{ compressionLevel: 1.5 }, 'compressionLevel'],
      [{ size: 0 }, 'size'],
      [{ size: 100_000 }, 'size'],
    ])('rejects %j', async (options, field) => {
      const error = await renderDesign(design(), options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect({ code: (error as AppError).code, field: (error as AppError).field }).toEqual({ code: 'INVALID_RENDER_OPTION', field });
    });
  });

  it('checks the design it is given', async () => {
    const spec = { product_type: 't-shirt', design_data: { text: 'x', font: 'Nope', color: '#fff' } } as unknown as DesignSpec;
    const error = await renderDesign(spec).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('UNKNOWN_FONT');
  });
});
