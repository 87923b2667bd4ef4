import { AppError } from '../errors.js';
import { contrastingTextColor, parseColor, type Rgb } from './colors.js';
import { resolvePlacement, type DesignSpec, type ImageFit } from './design-spec.js';

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

/** With text beside an image, the image's share of the canvas is capped so the text keeps a fifth. */
const MAX_IMAGE_SHARE_BESIDE_TEXT = 0.8;
/** How much of a photo behind the text shows through the background colour. */
const BEHIND_TEXT_OPACITY = 0.45;
/** Between an image above or below and the text, on the 600 px reference canvas. */
const GAP = 20;

/**
 * The scene of a design on a `size` × `size` canvas: its colour as background, its image
 * (`image`: the bytes of the upload `design_data.image` names, which the caller loaded) and
 * its text, in `text_color` or whichever of white and black contrasts more, in a box that
 * leaves a margin all round. Placement (see resolvePlacement): `above` / `below` give the
 * image a band of `size` × the inner height at the top / bottom and the text the rest, so
 * the two never overlap; `behind` puts a centred square of `size` × the canvas under the
 * text, at 45% opacity over the background colour so the text stays readable; without text
 * the image is a centred square of `size` × the inner square.
 * Throws ValidationError INVALID_COLOR for a colour that does not parse, AppError
 * INVALID_SCENE when the design has an image and `image` is missing.
 */
export function designScene(spec: DesignSpec, size: number, image?: Buffer): Scene {
  const { text, font } = spec.design_data;
  const { background, ink } = designColors(spec);
  const scale = size / REFERENCE_SIZE;
  const margin = Math.round(MARGIN * scale);
  const inner = size - 2 * margin;
  const regions = designRegions(spec, { left: 0, top: 0, width: size, height: size }, { left: margin, top: margin, width: inner, height: inner }, Math.round(GAP * scale));
  const layers: Layer[] = [];
  if (regions.image) {
    if (!image) throw new AppError('INVALID_SCENE', 'The design has an image (design_data.image) but its bytes were not given to the renderer.', { field: 'design_data.image' });
    const { rect, fit, opacity } = regions.image;
    layers.push({ kind: 'image', input: image, rect, fit, ...(opacity < 1 ? { opacity } : {}) });
  }
  if (text !== undefined) {
    layers.push({ kind: 'text', text, font, color: ink, box: regions.text, fontSize: FONT_SIZE * scale, minFontSize: MIN_FONT_SIZE * scale });
  }
  return { width: size, height: size, background, layers };
}

/** Where a design's image and text go (see designRegions). */
export interface DesignRegions {
  /** The text's box (the whole inner area when there is no image, or no text). */
  readonly text: Rect;
  /** The area the image is fitted into, how, and at which opacity; absent without design_data.image. */
  readonly image?: { readonly rect: Rect; readonly fit: ImageFit; readonly opacity: number };
}

/**
 * The placement rule of designScene for an area of any shape, so that print files (whose
 * trim is rarely square) place a design's image and text by the same rule as the preview:
 * `area` is the whole design area (the preview's canvas, a print's trim), `inner` that area
 * less the margin, `gap` the space between an image above or below and the text, all in
 * whole pixels. `above` / `below`: a band of `size` × the inner height (at most 0.8 with
 * text) across the inner width, the text in the rest; `behind`: `size` × the area on each
 * axis, centred, at 45% opacity under text; without text, `size` × the inner area, centred.
 * On a square area this is exactly the preview's layout.
 */
export function designRegions(spec: DesignSpec, area: Rect, inner: Rect, gap: number): DesignRegions {
  const { text } = spec.design_data;
  if (!spec.design_data.image) return { text: inner };
  const { position, size: share, fit } = resolvePlacement(spec.design_data.image.placement);
  let rect: Rect;
  let textBox = inner;
  if (text === undefined) {
    rect = centredShare(inner, share);
  } else if (position === 'behind') {
    rect = centredShare(area, share);
  } else {
    const band = Math.max(1, Math.round(Math.min(share, MAX_IMAGE_SHARE_BESIDE_TEXT) * inner.height));
    const rest = Math.max(1, inner.height - band - gap);
    rect = { left: inner.left, top: position === 'above' ? inner.top : inner.top + inner.height - band, width: inner.width, height: band };
    textBox = { left: inner.left, top: position === 'above' ? inner.top + band + gap : inner.top, width: inner.width, height: rest };
  }
  // Behind the text the photo is toned down into the background colour, so that text in a
  // colour chosen against that background stays readable over any photo.
  const opacity = text !== undefined && position === 'behind' ? BEHIND_TEXT_OPACITY : 1;
  return { text: textBox, image: { rect, fit, opacity } };
}

/** `share` of `area` on each axis, centred in it. */
function centredShare(area: Rect, share: number): Rect {
  const width = Math.max(1, Math.round(area.width * share));
  const height = Math.max(1, Math.round(area.height * share));
  return { left: area.left + Math.floor((area.width - width) / 2), top: area.top + Math.floor((area.height - height) / 2), width, height };
}

/** The preview's layout rules in units of its 600 px reference canvas, for scenes of other shapes (print files scale them to their trim box). */
export const DESIGN_LAYOUT = Object.freeze({ referenceSize: REFERENCE_SIZE, fontSize: FONT_SIZE, minFontSize: MIN_FONT_SIZE, margin: MARGIN, gap: GAP });

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
