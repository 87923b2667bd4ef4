import { AppError } from '../errors.js';
import type { DesignSpec } from '../rendering/design-spec.js';
import { resolveFont } from '../rendering/fonts.js';
import { DESIGN_LAYOUT, designColors, type Rect, type Scene } from '../rendering/scene.js';
import type { Rgb } from '../rendering/colors.js';
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
  /** The text box in canvas pixels: the trim less the preview's margin, scaled. */
  readonly textBox: Rect;
  readonly layout: PrintTextLayout;
  /** The scene print.png is rendered from. */
  readonly scene: Scene;
}

/**
 * A design at a product's print size: the preview's layout rules (margin, largest and
 * smallest text size, in units of its 600 px canvas) scaled to the trim box by its shorter
 * side, the text centred in the trim box. The canvas is the trim plus the bleed; paper goods
 * fill it with the design's colour, apparel leaves it transparent (the garment is the colour).
 * The text is laid out once (layoutPrintText) and handed to the scene as explicit lines at
 * one size, so print.png (through the preview's scene renderer) and print.pdf show the
 * same lines. Throws ValidationError INVALID_COLOR and AppError PRINT_TEXT_TOO_LARGE.
 */
export function designPrintScene(design: DesignSpec, spec: PrintSpec): PrintDesign {
  const { text, image } = design.design_data;
  // Placing the upload at full resolution (and print_warnings for its DPI) is the next step of issue #12.
  if (text === undefined || image !== undefined) {
    throw new AppError('PRINT_IMAGE_UNSUPPORTED', 'This design has an image: print files are made for text designs only so far. Its preview and thumbnail are made as usual.', { field: 'design_data.image' });
  }
  const geometry = printGeometry(spec);
  const { background, ink } = designColors(design);
  const scale = Math.min(geometry.trimWidthPx, geometry.trimHeightPx) / DESIGN_LAYOUT.referenceSize;
  const margin = DESIGN_LAYOUT.margin * scale;
  const left = Math.round(geometry.bleedPx + margin);
  const top = Math.round(geometry.bleedPx + margin);
  const textBox: Rect = {
    left,
    top,
    width: Math.round(geometry.bleedPx + geometry.trimWidthPx - margin) - left,
    height: Math.round(geometry.bleedPx + geometry.trimHeightPx - margin) - top,
  };
  const minFontSize = Math.max(DESIGN_LAYOUT.minFontSize * scale, (MIN_LEGIBLE_POINTS / POINTS_PER_INCH) * spec.dpi);
  const font = resolveFont(design.design_data.font);
  const layout = layoutPrintText(text, font, {
    maxWidth: textBox.width,
    maxHeight: textBox.height,
    fontSize: Math.max(minFontSize, DESIGN_LAYOUT.fontSize * scale),
    minFontSize,
  });
  const scene: Scene = {
    width: geometry.widthPx,
    height: geometry.heightPx,
    background: spec.printBackground ? background : 'transparent',
    layers: [
      {
        kind: 'text',
        text: layout.lines.map((line) => line.text).join('\n'),
        font: font.name,
        color: ink,
        box: textBox,
        // One size, the layout's: the renderer neither grows nor shrinks it, and the lines fit the box with room to spare, so Pango wraps none.
        fontSize: layout.fontSize,
        minFontSize: layout.fontSize,
      },
    ],
  };
  return { spec, geometry, background, ink, textBox, layout, scene };
}
