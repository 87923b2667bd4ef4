import { renderScene } from '../rendering/scene-renderer.js';
import { withPngDensity } from './png-density.js';
import type { PrintDesign } from './print-scene.js';

/**
 * print.png: the print scene through the preview's scene renderer, at full print size, with
 * its resolution recorded (pHYs). 8-bit RGB when the background is printed (the flat fast
 * path), 8-bit RGBA with a transparent background for apparel.
 * Throws what renderScene throws (TEXT_RENDER_FAILED, FONT_FILE_MISSING, INVALID_SCENE).
 */
export async function renderPrintPng(print: PrintDesign, options: { compressionLevel?: number } = {}): Promise<Buffer> {
  const png = await renderScene(print.scene, { format: 'png', compressionLevel: options.compressionLevel ?? 6 });
  return withPngDensity(png, print.spec.dpi);
}
