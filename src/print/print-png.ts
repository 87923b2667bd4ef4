import { AppError } from '../errors.js';
import { encodeBandedScene, prepareScene } from '../rendering/scene-renderer.js';
import type { PrintDesign } from './print-scene.js';

/**
 * How far Pango's ink box may be from the print layout's (a share of the text box, plus a few
 * pixels of antialiasing and whole-pixel rounding): a line Pango wrapped on its own adds a
 * whole line pitch, far more.
 */
const INK_TOLERANCE = 0.02;

/**
 * print.png: the print scene through the preview's scene renderer, at full print size, with
 * its resolution recorded (pHYs); a design's image is one of its layers, resampled from the
 * original (Lanczos-3) to its place, as the preview's is. 8-bit RGB when the background is
 * printed, 8-bit RGBA with a transparent background for apparel; never a palette image
 * (print workflows expect truecolour), with the resolution in pHYs. Encoded by the scene
 * renderer's band encoder, which gives the general path's pixels (test/unit/rendering-banded-png.test.ts):
 * only the rows the text and image span are painted, a strip at a time, and the file is
 * written once, so a text-only print never holds the whole canvas (69 MB for a t-shirt's
 * RGBA); an image layer is still resampled whole to its place, up to the canvas's size.
 * Before encoding, the text Pango drew is checked against the print layout print.pdf is drawn
 * from: if their ink boxes disagree (Pango broke a line the layout kept), the files would not
 * match, so it throws AppError TEXT_RENDER_FAILED instead. Also throws what prepareScene throws.
 */
export async function renderPrintPng(print: PrintDesign, options: { compressionLevel?: number } = {}): Promise<Buffer> {
  const prepared = await prepareScene(print.scene);
  const text = prepared.layers.find((layer) => layer.kind === 'text');
  const { layout, textBox } = print;
  if (text && layout && textBox && layout.ink.width > 0) {
    const { ink } = layout;
    const off = (drawn: number, laid: number, box: number) => Math.abs(drawn - laid) > box * INK_TOLERANCE + 4;
    if (off(text.rect.width, ink.width, textBox.width) || off(text.rect.height, ink.height, textBox.height)) {
      throw new AppError(
        'TEXT_RENDER_FAILED',
        `print.png's text (${text.rect.width}x${text.rect.height} px) does not match the print layout (${Math.ceil(ink.width)}x${Math.ceil(ink.height)} px, lines ${JSON.stringify(layout.lines.map((line) => line.text))}): the PNG and the PDF would differ.`,
      );
    }
  }
  return encodeBandedScene(prepared, options.compressionLevel ?? 6, { dpi: print.spec.dpi });
}
