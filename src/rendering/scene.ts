import { AppError } from '../errors.js';
import { DEFAULT_PRINT_SPECS } from '../print/print-specs.js';
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
  /**
   * The design's own text, which the print files draw too: where Pango may set it otherwise
   * as a paragraph, it is drawn from the print layout's lines (layoutDesignText). Watermarks
   * and the print's own explicit lines are drawn as they are.
   */
  readonly followsPrint?: boolean;
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

/** A print area's shape: its trim width and height, in any one unit (only their ratio counts). */
export interface PrintArea {
  readonly width: number;
  readonly height: number;
}

/**
 * The scene of a design on a `size` × `size` canvas, the whole canvas in its colour. The
 * design itself is laid out in the product's print area as the print files lay it out
 * (`printArea`: the trim's shape, the built-in print spec's unless given; see designFrame):
 * the largest rectangle of the trim's shape, centred on the canvas, is the preview's trim,
 * so a t-shirt's (12 x 16 in) is 450 × 600 at 600 px and a square product's is the whole
 * canvas. In it: the image (`image`: the bytes of the upload `design_data.image` names,
 * which the caller loaded) and the text, in `text_color` or whichever of white and black
 * contrasts more, in a box that leaves a margin all round. Placement (see designRegions):
 * `above` / `below` give the image a band of `size` × the inner height at the top / bottom
 * and the text the rest, so the two never overlap; `behind` puts a centred rectangle of
 * `size` × the area under the text, at 45% opacity over the background colour so the text
 * stays readable; without text the image is centred, `size` × the inner area.
 * Throws ValidationError INVALID_COLOR for a colour that does not parse, AppError
 * INVALID_SCENE when the design has an image and `image` is missing.
 */
export function designScene(spec: DesignSpec, size: number, image?: Buffer, printArea: PrintArea = DEFAULT_PRINT_SPECS[spec.product_type]): Scene {
  const { text, font } = spec.design_data;
  const { background, ink } = designColors(spec);
  const frame = designFrame(previewTrim(size, printArea));
  const regions = designRegions(spec, frame.area, frame.inner, frame.gap);
  const layers: Layer[] = [];
  if (regions.image) {
    if (!image) throw new AppError('INVALID_SCENE', 'The design has an image (design_data.image) but its bytes were not given to the renderer.', { field: 'design_data.image' });
    const { rect, fit, opacity } = regions.image;
    layers.push({ kind: 'image', input: image, rect, fit, ...(opacity < 1 ? { opacity } : {}) });
  }
  if (text !== undefined) {
    layers.push({ kind: 'text', text, font, color: ink, box: regions.text, fontSize: frame.fontSize, minFontSize: frame.minFontSize, followsPrint: true });
  }
  return { width: size, height: size, background, layers };
}

/** A rectangle whose edges may fall between pixels (a print's trim inside its bleed). */
export interface ExactRect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The largest rectangle of `printArea`'s shape centred in a `size` × `size` canvas: the
 * preview's trim. Its edges are exact (not rounded); designFrame rounds them as it rounds
 * a print's trim. Throws AppError INVALID_RENDER_OPTION for a print area that has no shape.
 */
export function previewTrim(size: number, printArea: PrintArea): ExactRect {
  const { width, height } = printArea;
  if (!(Number.isFinite(width) && Number.isFinite(height) && width > 0 && height > 0)) {
    throw new AppError('INVALID_RENDER_OPTION', `The render option printAreas needs a positive width and height for each product type, got ${width} x ${height}.`, { field: 'printAreas' });
  }
  // Square products take the exact canvas, with no floating-point residue.
  if (width === height) return { left: 0, top: 0, width: size, height: size };
  const trimWidth = width > height ? size : (size * width) / height;
  const trimHeight = width > height ? (size * height) / width : size;
  return { left: (size - trimWidth) / 2, top: (size - trimHeight) / 2, width: trimWidth, height: trimHeight };
}

/** A design's area on a canvas and the preview's layout rules scaled to it. */
export interface DesignFrame {
  /** The trim in whole pixels: each exact edge rounded. */
  readonly area: Rect;
  /** The trim less the margin, each exact edge rounded. */
  readonly inner: Rect;
  /** Between an image above or below and the text, whole pixels. */
  readonly gap: number;
  /** The largest and smallest text size, in pixels. */
  readonly fontSize: number;
  readonly minFontSize: number;
}

/**
 * The preview's layout rules (margin, gap, largest and smallest text size, in units of its
 * 600 px reference canvas) scaled to `trim` by its shorter side: one rule for the preview
 * (its trim from previewTrim) and the print files (the trim inside the bleed, in print
 * pixels), so that both place a design alike relative to the trim. Each edge is rounded to
 * the nearest pixel (not each width), as the print's trim edges inside a 37.5 px bleed are.
 */
export function designFrame(trim: ExactRect): DesignFrame {
  const scale = Math.min(trim.width, trim.height) / REFERENCE_SIZE;
  const margin = MARGIN * scale;
  const right = trim.left + trim.width;
  const bottom = trim.top + trim.height;
  return {
    area: snapped(trim.left, trim.top, right, bottom),
    inner: snapped(trim.left + margin, trim.top + margin, right - margin, bottom - margin),
    gap: Math.round(GAP * scale),
    fontSize: FONT_SIZE * scale,
    minFontSize: MIN_FONT_SIZE * scale,
  };
}

/** The whole-pixel rectangle between rounded exact edges. */
function snapped(left: number, top: number, right: number, bottom: number): Rect {
  const l = Math.round(left);
  const t = Math.round(top);
  return { left: l, top: t, width: Math.round(right) - l, height: Math.round(bottom) - t };
}

/** Where a design's image and text go (see designRegions). */
export interface DesignRegions {
  /** The text's box (the whole inner area when there is no image, or no text). */
  readonly text: Rect;
  /** The area the image is fitted into, how, and at which opacity; absent without design_data.image. */
  readonly image?: { readonly rect: Rect; readonly fit: ImageFit; readonly opacity: number };
}

/**
 * The placement rule of the preview and the print files, for an area of any shape (both
 * take area, inner and gap from designFrame): `area` is the whole design area (the
 * preview's trim in its square, a print's trim), `inner` that area less the margin, `gap` the space between an image above or below and the text, all in
 * whole pixels. `above` / `below`: a band of `size` × the inner height (at most 0.8 with
 * text) across the inner width, the text in the rest; `behind`: `size` × the area on each
 * axis, centred, at 45% opacity under text; without text, `size` × the inner area, centred.
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
