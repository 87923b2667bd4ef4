import { AppError } from '../errors.js';
import type { DesignSpec } from '../rendering/design-spec.js';
import { resolveFont, type ResolvedFont } from '../rendering/fonts.js';
import { PREVIEW_SIZE } from '../rendering/render-design.js';
import { designColors, designFrame, designRegions, previewTrim, type DesignFrame, type ExactRect, type Layer, type Rect, type Scene } from '../rendering/scene.js';
import { layoutText } from '../rendering/text-layout.js';
import type { Rgb } from '../rendering/colors.js';
import { placePrintImage, type PlacedPrintImage, type PrintImage } from './print-image.js';
import { FIT_SLACK, layoutPrintText, type PrintTextLayout } from './print-layout.js';
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
 * A design at a product's print size, laid out as its preview is: the preview's layout rules
 * (designFrame: margin, gap, largest and smallest text size, scaled by the trim's shorter
 * side) and placement of text and image (designRegions) applied to the trim box, which is
 * what the preview does in its own trim (the largest rectangle of the trim's shape in its
 * square), so everything sits where the preview has it, relative to the trim. The text
 * keeps the preview's lines and size (previewLayout; `options.previewFontSize`, from
 * previewTextSize, is the size the preview's Pango chose, which renderPrintFiles passes).
 * The canvas is the trim plus the bleed; paper goods fill it with the design's
 * colour, apparel leaves it transparent (the garment is the colour). A `cover` image that
 * fills the trim continues into the bleed, as a full-bleed photo must.
 * The text is laid out once (PrintTextLayout) and handed to the scene as explicit lines at
 * one size, so print.png (through the preview's scene renderer) and print.pdf show the
 * same lines; `image` (readPrintImage of the original) is placed once for both files.
 * Throws ValidationError INVALID_COLOR, AppError PRINT_TEXT_TOO_LARGE, and AppError
 * PRINT_IMAGE_MISSING for a design with an image when `image` is not given.
 */
export function designPrintScene(design: DesignSpec, spec: PrintSpec, image?: PrintImage, options: { previewFontSize?: number } = {}): PrintDesign {
  const { text } = design.design_data;
  const geometry = printGeometry(spec);
  const { background, ink } = designColors(design);
  const frame = designFrame({ left: geometry.bleedPx, top: geometry.bleedPx, width: geometry.trimWidthPx, height: geometry.trimHeightPx });
  const trim = frame.area;
  const regions = designRegions(design, trim, frame.inner, frame.gap);
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
    const legible = (MIN_LEGIBLE_POINTS / POINTS_PER_INCH) * spec.dpi;
    const minFontSize = Math.max(frame.minFontSize, legible);
    const font = resolveFont(design.design_data.font);
    layout =
      (options.previewFontSize === undefined ? undefined : previewLayout(design, text, font, spec, textBox, legible, options.previewFontSize)) ??
      previewLayout(design, text, font, spec, textBox, legible, undefined) ??
      layoutPrintText(text, font, {
        maxWidth: textBox.width,
        maxHeight: textBox.height,
        fontSize: Math.max(minFontSize, frame.fontSize),
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

/**
 * The preview's text layout scaled to the print: `text` laid out in the text box the
 * 600 px preview of this product has (its trim's shape, PREVIEW_SIZE), then the same
 * lines at that size times the print's trim over the preview's, the largest whole pixel
 * size whose ink fits `textBox`. Laying out at the preview's scale is what makes the
 * print keep the preview's lines and size: sizes come from a 5 % ladder in whole pixels,
 * so a search at the print's own scale lands on another rung (up to 5 % larger or
 * smaller) and may break lines elsewhere.
 * Undefined where the preview cannot be followed: its text does not fit at its smallest
 * size (the preview scales it down) or at `previewFontSize`, or the scaled size is under the legible minimum
 * (`legible` px); the print then searches its own size, as large as fits, never smaller
 * than legible.
 */
function previewLayout(design: DesignSpec, text: string, font: ResolvedFont, spec: PrintSpec, textBox: Rect, legible: number, previewFontSize: number | undefined): PrintTextLayout | undefined {
  // With previewFontSize: the preview's lines at its own size (fontkit wraps as Pango does,
  // at the box's width), kept though fontkit finds the block a pixel or two taller than
  // Pango's mask. Without: fontkit's run of the preview's size search at the preview's scale.
  const { trim, frame, box } = previewTextBox(design, spec);
  let preview: PrintTextLayout;
  const size = previewFontSize ?? frame.fontSize;
  try {
    // The preview's Pango wraps and fits at the box's full width: no FIT_SLACK at this scale
    // (print.png's explicit lines are drawn in a widened box, so Pango wraps none of them).
    preview = layoutPrintText(text, font, { maxWidth: box.width / FIT_SLACK, maxHeight: previewFontSize === undefined ? box.height : box.height + PANGO_INK_SLACK, fontSize: size, minFontSize: previewFontSize ?? frame.minFontSize });
  } catch (error) {
    if (error instanceof AppError && error.code === 'PRINT_TEXT_TOO_LARGE') return undefined;
    throw error;
  }
  if (preview.ink.width === 0) return undefined;
  const lines = preview.lines.map((line) => line.text).join('\n');
  const scale = printGeometry(spec).trimWidthPx / trim.width;
  let fontSize = Math.floor(preview.fontSize * scale);
  while (fontSize >= legible) {
    // The preview's lines as they are: a box no line reaches, so none is wrapped again.
    const laid = layoutPrintText(lines, font, { maxWidth: UNBOUNDED, maxHeight: UNBOUNDED, fontSize, minFontSize: fontSize });
    const fit = Math.min(textBox.width / Math.ceil(laid.ink.width), textBox.height / Math.ceil(laid.ink.height));
    if (fit >= 1) return laid;
    // Whole-pixel rounding of the boxes may leave the scaled text a pixel or two too large.
    fontSize = Math.min(fontSize - 1, Math.floor(fontSize * fit));
  }
  return undefined;
}

/** The 600 px preview's trim of this product, its layout frame and its text box. */
function previewTextBox(design: DesignSpec, spec: PrintSpec): { trim: ExactRect; frame: DesignFrame; box: Rect } {
  const trim = previewTrim(PREVIEW_SIZE, spec);
  const frame = designFrame(trim);
  return { trim, frame, box: designRegions(design, frame.area, frame.inner, frame.gap).text };
}

/**
 * The text size, in whole pixels, the 600 px preview of `design` on this product draws its
 * text at (Pango's size search, as the preview's scene renderer runs it), or undefined for
 * a design without text, text with nothing to draw, or text the preview has to scale down.
 * designPrintScene takes it so the print's lines and size are the preview's own: fontkit's
 * measures differ from Pango's by a pixel here and there, enough for the same search to
 * stop on the next size of the ladder for some texts.
 * Throws what layoutText throws (TEXT_RENDER_FAILED, FONT_FILE_MISSING).
 */
export async function previewTextSize(design: DesignSpec, spec: PrintSpec): Promise<number | undefined> {
  const { text } = design.design_data;
  if (text === undefined) return undefined;
  const { frame, box } = previewTextBox(design, spec);
  const mask = await layoutText(text, resolveFont(design.design_data.font), { fontSize: frame.fontSize, minFontSize: frame.minFontSize, maxWidth: box.width, maxHeight: box.height });
  return mask && Number.isInteger(mask.fontSize) ? mask.fontSize : undefined;
}

/** Pango's ink-cropped mask and fontkit's ink box differ by a pixel or two: the preview's size is kept though fontkit finds its text that much taller. */
const PANGO_INK_SLACK = 2;

/** Wider and taller than any canvas: layoutPrintText wraps no line in it. */
const UNBOUNDED = 1e9;

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
