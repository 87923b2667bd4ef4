import { contrastingTextColor, parseColor, type Rgb } from './colors.js';
import type { DesignSpec } from './design-spec.js';
import { encodeFlatPng } from './flat-png.js';
import { resolveFont } from './fonts.js';
import { layoutText, type TextMask } from './text-layout.js';

/**
 * A design laid out on its square canvas: a background colour and, at most, one block of
 * text. Everything outside the text's box is background, which is what lets the encoder
 * and the thumbnail skip it. Pixels are only produced for the windows that need them.
 */
export interface Scene {
  readonly size: number;
  readonly background: Rgb;
  readonly ink: Rgb;
  /** Null when the text has nothing visible to draw. */
  readonly text: { readonly mask: TextMask; readonly left: number; readonly top: number } | null;
}

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The seed's layout on a 600 px canvas, scaled with the canvas so every size looks the same. */
const REFERENCE_SIZE = 600;
/** The largest text size: text is drawn as large as fits the canvas, up to this. */
const FONT_SIZE = 200;
const MIN_FONT_SIZE = 8;
const MARGIN = 40;

/** Lays `spec` out on a `size` × `size` canvas. Throws what parseColor, resolveFont and layoutText throw. */
export async function layoutScene(spec: DesignSpec, size: number): Promise<Scene> {
  const { text, font, color, text_color: textColor } = spec.design_data;
  const background = parseColor(color, 'design_data.color');
  const ink = textColor === undefined ? contrastingTextColor(background) : parseColor(textColor, 'design_data.text_color');
  const scale = size / REFERENCE_SIZE;
  const margin = Math.round(MARGIN * scale);
  const inner = size - 2 * margin;
  const mask = await layoutText(text, resolveFont(font), {
    fontSize: FONT_SIZE * scale,
    minFontSize: MIN_FONT_SIZE * scale,
    maxWidth: inner,
    maxHeight: inner,
  });
  if (!mask) return { size, background, ink, text: null };
  // Centred on the ink, not on line boxes, so the visible text sits in the middle.
  const left = Math.floor((size - mask.width) / 2);
  const top = Math.floor((size - mask.height) / 2);
  return { size, background, ink, text: { mask, left, top } };
}

/**
 * The scene's pixels inside `window` (which must lie within the canvas), raw RGB.
 * Text is blended over the background with its coverage as alpha, in the ink colour;
 * colour glyphs (emoji) keep their own colours.
 */
export function paintWindow(scene: Scene, window: Rect): Buffer {
  const { background: bg, ink } = scene;
  const pixels = Buffer.allocUnsafe(window.width * window.height * 3);
  pixels.fill(Buffer.from([bg.r, bg.g, bg.b]));
  if (!scene.text) return pixels;
  const { mask, left, top } = scene.text;
  const x0 = Math.max(left, window.left);
  const x1 = Math.min(left + mask.width, window.left + window.width);
  const y0 = Math.max(top, window.top);
  const y1 = Math.min(top + mask.height, window.top + window.height);
  const src = mask.data;
  // Plain glyph pixels differ only in alpha: look their colour up instead of blending each.
  const inkR = blendTable(bg.r, ink.r);
  const inkG = blendTable(bg.g, ink.g);
  const inkB = blendTable(bg.b, ink.b);
  for (let y = y0; y < y1; y++) {
    let i = ((y - top) * mask.width + (x0 - left)) * 4;
    let o = ((y - window.top) * window.width + (x0 - window.left)) * 3;
    for (let x = x0; x < x1; x++, i += 4, o += 3) {
      const alpha = src[i + 3] as number;
      if (alpha === 0) continue;
      const r = src[i] as number;
      const g = src[i + 1] as number;
      const b = src[i + 2] as number;
      if ((r | g | b) === 0) {
        // Pango draws plain glyphs black: those take the ink colour.
        pixels[o] = inkR[alpha] as number;
        pixels[o + 1] = inkG[alpha] as number;
        pixels[o + 2] = inkB[alpha] as number;
      } else {
        // Anything else came from a colour font (emoji) and keeps its colours.
        pixels[o] = blend(bg.r, r, alpha);
        pixels[o + 1] = blend(bg.g, g, alpha);
        pixels[o + 2] = blend(bg.b, b, alpha);
      }
    }
  }
  return pixels;
}

/** The whole scene as a PNG: only the rows that hold text are painted. */
export function encodeScene(scene: Scene, compressionLevel: number): Buffer {
  const { size, background, text } = scene;
  if (!text) return encodeFlatPng({ width: size, height: size, background }, compressionLevel);
  const band = { left: 0, top: text.top, width: size, height: text.mask.height };
  return encodeFlatPng({ width: size, height: size, background, band: { top: band.top, rows: paintWindow(scene, band) } }, compressionLevel);
}

function blendTable(under: number, over: number): Uint8Array {
  const table = new Uint8Array(256);
  for (let alpha = 0; alpha < 256; alpha++) table[alpha] = blend(under, over, alpha);
  return table;
}

/** `under` covered by `over` at `alpha`/255, rounded to nearest. */
function blend(under: number, over: number, alpha: number): number {
  return under + Math.round(((over - under) * alpha) / 255);
}
