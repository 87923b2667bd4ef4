import { contrastingTextColor, parseColor, type Rgb } from './colors.js';
import type { DesignSpec } from './design-spec.js';

/**
 * What an image shows, as plain data: a canvas size, a background (a colour, or transparent)
 * and layers painted in order over it. A scene holds no pixels of its own except the encoded
 * images it places; scene-renderer.ts turns it into raw pixels or an encoded image. Designs,
 * and later watermarks, print files and renditions, are all built as scenes, so they all
 * take the same rendering path.
 */
export interface Scene {
  readonly width: number;
  readonly height: number;
  readonly background: Rgb | 'transparent';
  /** Painted first to last: a later layer covers an earlier one where it is opaque. */
  readonly layers: readonly Layer[];
}

/**
 * Every layer may be an overlay: `opacity` (0 to 1, default 1) scales its alpha, so a
 * semi-transparent image or text on top is a layer like any other.
 */
export type Layer = TextLayer | ImageLayer;

/** A rectangle in canvas pixels; it may reach past the canvas, whose edges then cut it. */
export interface Rect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Text wrapped to the box's width (word wrap, lines centred), as large as `fontSize` and
 * shrunk until it fits the box, never cut off; centred on its ink in the box.
 */
export interface TextLayer {
  readonly kind: 'text';
  readonly text: string;
  /** A bundled font's public name (`Roboto-Bold`), resolved when the scene is rendered. */
  readonly font: string;
  /** Plain glyphs take this colour; colour glyphs (emoji) keep theirs. */
  readonly color: Rgb;
  readonly box: Rect;
  /** In pixels: the size to start at, and the smallest before the laid-out text is scaled down instead. */
  readonly fontSize: number;
  readonly minFontSize: number;
  readonly opacity?: number;
}

/**
 * How an image fills its rectangle (sharp's fit modes): `cover` fills it and crops what
 * overflows, centred; `contain` shows all of it, centred, transparent around; `fill`
 * stretches it to the rectangle's shape.
 */
export const FIT_MODES = ['cover', 'contain', 'fill'] as const;
export type FitMode = (typeof FIT_MODES)[number];

/** An encoded image (PNG, JPEG, WebP, AVIF, GIF, TIFF, SVG: what sharp decodes) placed at `rect`. */
export interface ImageLayer {
  readonly kind: 'image';
  readonly input: Buffer;
  readonly rect: Rect;
  readonly fit: FitMode;
  readonly opacity?: number;
}

/** The seed's layout on a 600 px canvas, scaled with the canvas so every size looks the same. */
const REFERENCE_SIZE = 600;
/** The largest text size: text is drawn as large as fits the canvas, up to this. */
const FONT_SIZE = 200;
const MIN_FONT_SIZE = 8;
const MARGIN = 40;

/**
 * The scene of a design on a `size` × `size` canvas: its colour as background and its text,
 * in `text_color` or whichever of white and black contrasts more, in a box that leaves a
 * margin all round. Throws ValidationError INVALID_COLOR for a colour that does not parse.
 */
export function designScene(spec: DesignSpec, size: number): Scene {
  const { text, font, color, text_color: textColor } = spec.design_data;
  const background = parseColor(color, 'design_data.color');
  const ink = textColor === undefined ? contrastingTextColor(background) : parseColor(textColor, 'design_data.text_color');
  const scale = size / REFERENCE_SIZE;
  const margin = Math.round(MARGIN * scale);
  const inner = size - 2 * margin;
  return {
    width: size,
    height: size,
    background,
    layers: [
      {
        kind: 'text',
        text,
        font,
        color: ink,
        box: { left: margin, top: margin, width: inner, height: inner },
        fontSize: FONT_SIZE * scale,
        minFontSize: MIN_FONT_SIZE * scale,
      },
    ],
  };
}

/** The preview's layout rules in units of its 600 px reference canvas, for scenes of other shapes (print files scale them to their trim box). */
export const DESIGN_LAYOUT = Object.freeze({ referenceSize: REFERENCE_SIZE, fontSize: FONT_SIZE, minFontSize: MIN_FONT_SIZE, margin: MARGIN });

/**
 * A design's background colour and the colour its text is drawn in (text_color, or white or
 * black, whichever contrasts more), as designScene paints them.
 * Throws ValidationError INVALID_COLOR for a colour that does not parse.
 */
export function designColors(spec: DesignSpec): { background: Rgb; ink: Rgb } {
  const { color, text_color: textColor } = spec.design_data;
  const background = parseColor(color, 'design_data.color');
  return { background, ink: textColor === undefined ? contrastingTextColor(background) : parseColor(textColor, 'design_data.text_color') };
}
