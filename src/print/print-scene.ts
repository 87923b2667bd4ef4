import { AppError } from '../errors.js';
import type { DesignSpec } from '../rendering/design-spec.js';
import { resolveFont } from '../rendering/fonts.js';
import { DESIGN_LAYOUT, designColors, designRegions, type Layer, type Rect, type Scene } from '../rendering/scene.js';
import type { Rgb } from '../rendering/colors.js';
import { placePrintImage, type PlacedPrintImage, type PrintImage } from './print-image.js';
import { layoutPrintText, type PrintTextLayout } from './print-layout.js';
import { POINTS_PER_INCH, printGeometry, type PrintGeometry, type PrintSpec } from './print-specs.js';

/** The smallest text a print may have, in points: below it text is refused (PRINT_TEXT_TOO_LARGE). */
export const MIN_LEGIBLE_POINTS = 6;

/** Everything both print files are drawn from: one layout, one geometry. */
export interface PrintDesign {
  readonly spec: PrintSpec;
  readonly geometry: PrintGeometry;
  /** The background colour; printed only when spec.printBackground. */
  readonly background: Rgb;
  readonly ink: Rgb;
  /** The text box in canvas pixels (the trim less the preview's margin, scaled, less the image's band); absent without text. */
  readonly textBox?: Rect;
  /** The text's one layout; absent for a design that is only an image. */
  readonly layout?: PrintTextLayout;
  /** The design's image where the preview's rule places it; absent without design_data.image. */
  readonly image?: PlacedPrintImage;
  /** The scene print.png is rendered from. */
  readonly scene: Scene;
}

/**
 * A design at a product's print size: the preview's layout rules (margin, gap, largest and
 * smallest text size, in units of its 600 px canvas) scaled to the trim box by its shorter
 * side, and the preview's placement of text and image (designRegions) applied to the trim
 * box, so that on a square product everything sits where the preview has it, relative to
 * the trim. The canvas is the trim plus the bleed; paper goods fill it with the design's
 * colour, apparel leaves it transparent (the garment is the colour). A `cover` image that
 * fills the trim continues into the bleed, as a full-bleed photo must.
 * The text is laid out once (layoutPrintText) and handed to the scene as explicit lines at
 * one size, so print.png (through the preview's scene renderer) and print.pdf show the
 * same lines; `image` (readPrintImage of the original) is placed once for both files.
 * Throws ValidationError INVALID_COLOR, AppError PRINT_TEXT_TOO_LARGE, and AppError
 * PRINT_IMAGE_MISSING for a design with an image when `image` is not given.
 */
export function designPrintScene(design: DesignSpec, spec: PrintSpec, image?: PrintImage): PrintDesign {
  const { text } = design.design_data;
  const geometry = printGeometry(spec);
  const { background, ink } = designColors(design);
  const scale = Math.min(geometry.trimWidthPx, geometry.trimHeightPx) / DESIGN_LAYOUT.referenceSize;
  const margin = DESIGN_LAYOUT.margin * scale;
  const trimLeft = Math.round(geometry.bleedPx);
  const trimTop = Math.round(geometry.bleedPx);
  const trim: Rect = {
    left: trimLeft,
    top: trimTop,
    width: Math.round(geometry.bleedPx + geometry.trimWidthPx) - trimLeft,
    height: Math.round(geometry.bleedPx + geometry.trimHeightPx) - trimTop,
  };
  const left = Math.round(geometry.bleedPx + margin);
  const top = Math.round(geometry.bleedPx + margin);
  const inner: Rect = {
    left,
    top,
    width: Math.round(geometry.bleedPx + geometry.trimWidthPx - margin) - left,
    height: Math.round(geometry.bleedPx + geometry.trimHeightPx - margin) - top,
  };
  const regions = designRegions(design, trim, inner, Math.round(DESIGN_LAYOUT.gap * scale));
  const layers: Layer[] = [];
  let placed: PlacedPrintImage | undefined;
  if (regions.image) {
    if (!image) {
      throw new AppError('PRINT_IMAGE_MISSING', 'The design has an image (design_data.image) but print files were asked for without it: pass options.loadImage to renderPrintFiles.', { field: 'design_data.image' });
    }
    const { fit, opacity } = regions.image;
    const area = fit === 'cover' ? intoBleed(regions.image.rect, trim, geometry) : regions.image.rect;
    placed = placePrintImage(image, area, fit, opacity);
    layers.push({ kind: 'image', input: image.input, rect: area, fit, ...(opacity < 1 ? { opacity } : {}) });
  }
  let layout: PrintTextLayout | undefined;
  const textBox = text === undefined ? undefined : regions.text;
  if (text !== undefined && textBox) {
    const minFontSize = Math.max(DESIGN_LAYOUT.minFontSize * scale, (MIN_LEGIBLE_POINTS / POINTS_PER_INCH) * spec.dpi);
    const font = resolveFont(design.design_data.font);
    layout = layoutPrintText(text, font, {
      maxWidth: textBox.width,
      maxHeight: textBox.height,
      fontSize: Math.max(minFontSize, DESIGN_LAYOUT.fontSize * scale),
      minFontSize,
    });
    layers.push({
      kind: 'text',
      text: layout.lines.map((line) => line.text).join('\n'),
      font: font.name,
      color: ink,
      // The lines are explicit and fit the text box: Pango must wrap none of them. It wraps
      // at the box's width by the lines' logical width, which can pass the width the layout
      // measured (a single word breaking, "Pho / to", when a tall box lets words break), so
      // it gets the text box widened by half on the same centre: where the scene renderer
      // centres the ink does not move.
      box: widened(textBox),
      // One size, the layout's: the renderer neither grows nor shrinks it.
      fontSize: layout.fontSize,
      minFontSize: layout.fontSize,
    });
  }
  const scene: Scene = { width: geometry.widthPx, height: geometry.heightPx, background: spec.printBackground ? background : 'transparent', layers };
  return { spec, geometry, background, ink, ...(textBox ? { textBox } : {}), ...(layout ? { layout } : {}), ...(placed ? { image: placed } : {}), scene };
}

/** `box` a quarter of its width wider on each side, on the same centre. */
function widened(box: Rect): Rect {
  const pad = Math.round(box.width / 4);
  return { ...box, left: box.left - pad, width: box.width + 2 * pad };
}

/** `rect` with each side that reaches the trim's edge moved out to the canvas's edge (through the bleed). */
function intoBleed(rect: Rect, trim: Rect, geometry: PrintGeometry): Rect {
  const left = rect.left <= trim.left ? 0 : rect.left;
  const top = rect.top <= trim.top ? 0 : rect.top;
  const right = rect.left + rect.width >= trim.left + trim.width ? geometry.widthPx : rect.left + rect.width;
  const bottom = rect.top + rect.height >= trim.top + trim.height ? geometry.heightPx : rect.top + rect.height;
  return { left, top, width: right - left, height: bottom - top };
}
