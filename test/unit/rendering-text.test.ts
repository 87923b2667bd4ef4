import { describe, expect, it } from 'vitest';
import { FONT_NAMES, parseColor, resolveFont } from '../../src/rendering/index.js';
import { paintWindow, type PreparedScene } from '../../src/rendering/scene-renderer.js';
import { escapeMarkup, layoutText, type TextBox } from '../../src/rendering/text-layout.js';

const BOX: TextBox = { fontSize: 48, minFontSize: 8, maxWidth: 520, maxHeight: 520 };

describe('escapeMarkup', () => {
  it('escapes the five characters Pango markup gives meaning to', () => {
    expect(escapeMarkup(`<b a="1" b='2'>&amp;</b>`)).toBe('&lt;b a=&quot;1&quot; b=&apos;2&apos;&gt;&amp;amp;&lt;/b&gt;');
    expect(escapeMarkup('plain text, 你好 😀')).toBe('plain text, 你好 😀');
  });
});

describe('layoutText', () => {
  it('keeps short text at the requested size', async () => {
    const mask = await layoutText('Hello', resolveFont('Roboto-Bold'), BOX);
    expect(mask?.fontSize).toBe(48);
    expect(mask?.width).toBeLessThan(520);
  });

  it.each([
    ['ten lines', Array.from({ length: 10 }, (_, i) => `Line number ${i}`).join('\n')],
    ['200 letters', 'abcdefghij'.repeat(20)],
    ['200 wide glyphs', 'W'.repeat(200)],
    ['200 CJK characters', '你好世界'.repeat(50)],
  ])('shrinks %s until the block fits the box', async (_case, text) => {
    const mask = await layoutText(text, resolveFont('Pacifico-Regular'), BOX);
    expect(mask).not.toBeNull();
    expect(mask?.fontSize).toBeLessThan(48);
    expect(mask?.fontSize).toBeGreaterThanOrEqual(8);
    expect(mask?.width).toBeLessThanOrEqual(520);
    expect(mask?.height).toBeLessThanOrEqual(520);
    expect(mask?.data.length).toBe((mask?.width ?? 0) * (mask?.height ?? 0) * 4);
  });

  it('scales the drawn text down when even the smallest size does not fit', async () => {
    const mask = await layoutText('Too big', resolveFont('Roboto-Bold'), { fontSize: 48, minFontSize: 48, maxWidth: 60, maxHeight: 20 });
    expect(mask?.width).toBeLessThanOrEqual(60);
    expect(mask?.height).toBeLessThanOrEqual(20);
  });

  it('returns null for text with nothing to draw', async () => {
    expect(await layoutText('\u200b\u200b', resolveFont('Roboto-Bold'), BOX)).toBeNull();
  });

  it.each(FONT_NAMES)('draws %s from its bundled file, not from a system fallback', async (name) => {
    const font = resolveFont(name);
    const text = 'Quick Brown Fox 123';
    const own = await layoutText(text, font, BOX);
    // The same file with a family name nobody declares: Pango falls back to a system font.
    const fallback = await layoutText(text, { ...font, pango: 'No Such Family,' }, BOX);
    expect(own && fallback).toBeTruthy();
    expect(own?.data.equals(fallback?.data ?? Buffer.alloc(0))).toBe(false);
  });

  it('tells the bold and regular weights of a family apart', async () => {
    const [regular, bold] = await Promise.all([
      layoutText('Weight', resolveFont('Roboto-Regular'), BOX),
      layoutText('Weight', resolveFont('Roboto-Bold'), BOX),
    ]);
    // Bold glyphs cover more pixels.
    const coverage = (data: Buffer | undefined) => (data ?? Buffer.alloc(0)).reduce((sum, value, i) => (i % 4 === 3 ? sum + value : sum), 0);
    expect(coverage(bold?.data)).toBeGreaterThan(coverage(regular?.data) * 1.2);
  });
});

describe('paintWindow', () => {
  // A 2x1 text mask: a half-covered plain glyph pixel, then an opaque colour-glyph pixel.
  const scene: PreparedScene = {
    width: 4,
    height: 4,
    background: parseColor('#204060'),
    layers: [{ kind: 'text', rect: { left: 1, top: 2, width: 2, height: 1 }, data: Buffer.from([0, 0, 0, 128, 200, 100, 50, 255]), ink: parseColor('#FFFFFF') }],
  };

  it('blends plain glyphs in the ink colour and keeps colour glyphs (emoji) in theirs', () => {
    const pixels = paintWindow(scene, { left: 0, top: 2, width: 4, height: 1 });
    expect([...pixels]).toEqual([0x20, 0x40, 0x60, 144, 160, 176, 200, 100, 50, 0x20, 0x40, 0x60]);
  });

  it('paints only the window asked for', () => {
    expect([...paintWindow(scene, { left: 2, top: 1, width: 1, height: 2 })]).toEqual([0x20, 0x40, 0x60, 200, 100, 50]);
  });
});
