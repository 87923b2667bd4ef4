import { AppError } from '../errors.js';
import type { DesignSpec } from '../rendering/design-spec.js';
import { resolveFont, type ResolvedFont } from '../rendering/fonts.js';
import { PREVIEW_SIZE } from '../rendering/render-design.js';
import { designColors, designFrame, designRegions, previewTrim, type DesignFrame, type ExactRect, type Layer, type Rect, type Scene } from '../rendering/scene.js';
import { renderTextLines } from '../rendering/text-layout.js';
import { sameInkLines } from './ink-lines.js';
import type { Rgb } from '../rendering/colors.js';
import { placePrintImage, type PlacedPrintImage, type PrintImage } from './print-image.js';
import { FIT_SLACK, layoutPrintText, wrapPrintText, type PrintTextLayout, type ShapeCache } from './print-layout.js';
import { layoutDesignText } from './preview-lines.js';
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
 * keeps the preview's lines and size (previewLayout; `options.preview`, from previewText, is
 * the size and the lines the preview's Pango drew, which renderPrintFiles passes).
 * The canvas is the trim plus the bleed; paper goods fill it with the design's
 * colour, apparel leaves it transparent (the garment is the colour). A `cover` image that
 * fills the trim continues into the bleed, as a full-bleed photo must.
 * The text is laid out once (PrintTextLayout) and handed to the scene as explicit lines at
 * one size, so print.png (through the preview's scene renderer) and print.pdf show the
 * same lines; `image` (readPrintImage of the original) is placed once for both files.
 * Throws ValidationError INVALID_COLOR, AppError PRINT_TEXT_TOO_LARGE, and AppError
 * PRINT_IMAGE_MISSING for a design with an image when `image` is not given.
 */
export function designPrintScene(design: DesignSpec, spec: PrintSpec, image?: PrintImage, options: { preview?: PreviewText } = {}): PrintDesign {
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
      (options.preview === undefined ? undefined : previewLayout(design, text, font, spec, textBox, legible, options.preview)) ??
      previewLayout(design, text, font, spec, textBox, legible, undefined) ??
      layoutPrintText(text, font, {
        maxWidth: textBox.width,
        maxHeight: textBox.height,
        fontSize: Math.max(minFontSize, frame.fontSize),
        minFontSize,
      });
    layers.push({
      kind: 'text',
      text: layout.pango.join('\n'),
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
 * The preview's text layout scaled to the print: the lines of the 600 px preview of this
 * product (`preview`, Pango's own, from previewText; without it, fontkit's run of the
 * preview's size search in the preview's text box), then the same lines at the preview's
 * size times the print's trim over the preview's, the largest whole pixel size whose ink fits
 * `textBox`. Laying out at the preview's scale is what makes the print keep the preview's
 * lines and size: sizes come from a 5 % ladder in whole pixels, so a search at the print's
 * own scale lands on another rung (up to 5 % larger or smaller) and may break lines elsewhere.
 * Undefined where the preview cannot be followed: its text does not fit at its smallest size
 * (the preview scales it down), or the scaled size is under the legible minimum (`legible`
 * px); the print then searches its own size, as large as fits, never smaller than legible.
 */
function previewLayout(design: DesignSpec, text: string, font: ResolvedFont, spec: PrintSpec, textBox: Rect, legible: number, preview: PreviewText | undefined): PrintTextLayout | undefined {
  const { trim, frame, box } = previewTextBox(design, spec);
  let shown = preview;
  if (!shown) {
    try {
      // The preview's Pango wraps and fits at the box's full width: no FIT_SLACK at this scale
      // (print.png's explicit lines are drawn in a widened box, so Pango wraps none of them).
      const laid = layoutPrintText(text, font, { maxWidth: box.width / FIT_SLACK, maxHeight: box.height, fontSize: frame.fontSize, minFontSize: frame.minFontSize });
      if (laid.ink.width === 0) return undefined;
      shown = { fontSize: laid.fontSize, lines: laid.lines.map((line) => line.text), pango: laid.pango };
    } catch (error) {
      if (error instanceof AppError && error.code === 'PRINT_TEXT_TOO_LARGE') return undefined;
      throw error;
    }
  }
  const lines = shown.lines.join('\n');
  const scale = printGeometry(spec).trimWidthPx / trim.width;
  let fontSize = Math.floor(shown.fontSize * scale);
  while (fontSize >= legible) {
    // The preview's lines as they are: a box no line reaches, so none is wrapped again.
    // Pango draws each line as it stands in the preview's paragraphs, not as it would alone.
    const laid = layoutPrintText(lines, font, { maxWidth: UNBOUNDED, maxHeight: UNBOUNDED, fontSize, minFontSize: fontSize }, shown.pango);
    const fit = Math.min(textBox.width / Math.ceil(laid.ink.width), textBox.height / Math.ceil(laid.ink.height));
    if (fit >= 1) return laid;
    // Whole-pixel rounding of the boxes may leave the scaled text a pixel or two too large.
    fontSize = Math.min(fontSize - 1, Math.floor(fontSize * fit));
  }
  return undefined;
}

/** The 600 px preview's trim of this product, its layout frame and its text box. */
export function previewTextBox(design: DesignSpec, spec: PrintSpec): { trim: ExactRect; frame: DesignFrame; box: Rect } {
  const trim = previewTrim(PREVIEW_SIZE, spec);
  const frame = designFrame(trim);
  return { trim, frame, box: designRegions(design, frame.area, frame.inner, frame.gap).text };
}

/** The text of a design's 600 px preview as its Pango drew it: the size, in whole pixels, and the lines. */
export interface PreviewText {
  readonly fontSize: number;
  readonly lines: readonly string[];
  /** The lines as Pango must be given them to draw them as they stand in their paragraphs (PrintTextLayout.pango). */
  readonly pango: readonly string[];
}

/**
 * Pixels added to Pango's wrap width, in turn, when fontkit's lines at that width are not
 * the ones Pango drew: fontkit and Pango measure a line a pixel or two apart (Pango rounds
 * hinted advances), so a line that just fits in one may not in the other.
 */
const WRAP_WIDTH_STEPS = [0, 1, -1, 2, -2, 3, -3, 4, -4, 6, -6, 8, -8];

/**
 * The text of the 600 px preview of `design` on this product, as its Pango drew it (the
 * size search the preview's scene renderer runs), or undefined for a design without text,
 * text with nothing to draw, or text the preview has to scale down.
 * Pango returns pixels only, never its lines, so the lines are fontkit's wrap of the text at
 * Pango's size and width, checked by having Pango draw them as explicit lines and comparing
 * the two masks line by line (sameInkLines); where they differ, fontkit wraps at widths a few
 * pixels either side until its lines draw as Pango's did. designPrintScene takes the result,
 * so print files show the preview's own lines at the preview's own size. Where no width
 * gives Pango's lines (not seen in the stress texts), fontkit's lines at Pango's width are kept.
 * Text the preview drew from fontkit's lines itself (layoutDesignText: right-to-left letters,
 * emoji, runs of spaces) needs no check: those lines are returned.
 * Throws what layoutText throws (TEXT_RENDER_FAILED, FONT_FILE_MISSING).
 */
export async function previewText(design: DesignSpec, spec: PrintSpec): Promise<PreviewText | undefined> {
  const { text } = design.design_data;
  if (text === undefined) return undefined;
  const { frame, box } = previewTextBox(design, spec);
  const font = resolveFont(design.design_data.font);
  const mask = await layoutDesignText(text, font, { fontSize: frame.fontSize, minFontSize: frame.minFontSize, maxWidth: box.width, maxHeight: box.height });
  if (!mask || !Number.isInteger(mask.fontSize)) return undefined;
  const { fontSize, wrap } = mask;
  // The preview drew the print layout's own lines: they are the preview's.
  if (mask.printed) return { fontSize, ...mask.printed };
  const tried = new Set<string>();
  const shaped: ShapeCache = new Map();
  let atPangoWidth: PreviewText | undefined;
  for (const step of wrap ? WRAP_WIDTH_STEPS : [0]) {
    const layout = wrapPrintText(text, font, fontSize, wrap && { ...wrap, width: wrap.width + step }, shaped);
    const shown = { fontSize, lines: layout.lines.map((line) => line.text), pango: layout.pango };
    atPangoWidth ??= shown;
    const key = shown.lines.join('\n');
    if (tried.has(key)) continue;
    tried.add(key);
    const drawn = await renderTextLines(layout.pango, font, fontSize);
    if (drawn && sameInkLines(mask, drawn)) return shown;
  }
  return atPangoWidth!;
}

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
