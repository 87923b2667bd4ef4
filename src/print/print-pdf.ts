import { createHash } from 'node:crypto';
import sharp from 'sharp';
import {
  beginText,
  clip,
  concatTransformationMatrix,
  drawObject,
  endPath,
  endText,
  PDFArray,
  PDFDocument,
  PDFHexString,
  PDFName,
  PDFNumber,
  PDFOperator,
  PDFOperatorNames,
  PDFString,
  popGraphicsState,
  pushGraphicsState,
  rectangle,
  rgb,
  setFillingRgbColor,
  setFontAndSize,
  setLineJoin,
  setLineWidth,
  LineJoinStyle,
  setStrokingRgbColor,
  setTextMatrix,
  setTextRenderingMode,
  setTextRise,
  TextRenderingMode,
  type PDFFont,
  type PDFPage,
  type PDFRef,
} from 'pdf-lib';
import { AppError } from '../errors.js';
import type { Rgb } from '../rendering/colors.js';
import { resolveFont, type FontFace } from '../rendering/fonts.js';
import { cachedFontkit, fontBytes, fontkitFont, type ShapedRun } from './print-layout.js';
import type { PrintDesign } from './print-scene.js';
import { POINTS_PER_INCH } from './print-specs.js';
import { pdfImage } from './print-image.js';
import { fixFontkitSubsetPadding } from './fontkit-subset-fix.js';

/**
 * print.pdf with pdf-lib: one page whose MediaBox and BleedBox are the trim plus the bleed
 * and whose TrimBox is the trim; the background (paper goods only) as one rectangle over
 * the whole page; the text as real text in the bundled faces, embedded as subsets, placed
 * from the same layout as print.png (print-layout.ts): same lines, same size, each glyph
 * at its shaped advance (a TJ array carries kerning and other GPOS adjustments), the block
 * centred on its ink in the text box as the scene renderer centres it; the design's image,
 * under the text, as an embedded JPEG or PNG at print.png's rectangle. Colours are the
 * design's sRGB values in DeviceRGB, with an sRGB output intent saying so. No transparency.
 */

export const PDF_PRODUCER = 'Customify Assets';

export interface PrintPdfOptions {
  /** The document title: the design's id. */
  readonly title: string;
  /** Default now. */
  readonly creationDate?: Date;
}

/** Renders print.pdf. Throws what pdf-lib and fontkit throw for a damaged font file. */
export async function renderPrintPdf(print: PrintDesign, options: PrintPdfOptions): Promise<Buffer> {
  const { geometry } = print;
  fixFontkitSubsetPadding(fontFile(print));
  const doc = await PDFDocument.create({ updateMetadata: false });
  doc.registerFontkit(cachedFontkit);
  const date = options.creationDate ?? new Date();
  doc.setTitle(options.title);
  doc.setProducer(PDF_PRODUCER);
  doc.setCreator(PDF_PRODUCER);
  doc.setCreationDate(date);
  doc.setModificationDate(date);
  await addSrgbOutputIntent(doc);

  const pageWidth = geometry.trimWidthPt + 2 * geometry.bleedPt;
  const pageHeight = geometry.trimHeightPt + 2 * geometry.bleedPt;
  const page = doc.addPage([pageWidth, pageHeight]);
  page.setMediaBox(0, 0, pageWidth, pageHeight);
  page.setBleedBox(0, 0, pageWidth, pageHeight);
  page.setTrimBox(geometry.bleedPt, geometry.bleedPt, geometry.trimWidthPt, geometry.trimHeightPt);
  if (print.spec.printBackground) {
    page.drawRectangle({ x: 0, y: 0, width: pageWidth, height: pageHeight, color: pdfColor(print.background) });
  }
  await drawImage(doc, page, print, pageHeight);
  await drawText(doc, page, print, pageHeight);
  // Plain objects, no object streams: older RIPs and preflight tools read PDF 1.4-style files best.
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

/** A TrueType file of the design, to find fontkit's subset class by. */
function fontFile(print: PrintDesign): string {
  return print.layout?.lines.flatMap((line) => line.runs)[0]?.face.file ?? resolveFont('Roboto-Regular').file;
}

function pdfColor({ r, g, b }: Rgb) {
  return rgb(r / 255, g / 255, b / 255);
}

/**
 * The design's image (pdfImage: the original's printed pixels, flattened onto the background
 * on paper) as an image XObject over the same rectangle print.png has it in; a `cover` image
 * is clipped to its area with a clipping path (not a soft mask: no transparency).
 */
async function drawImage(doc: PDFDocument, page: PDFPage, print: PrintDesign, pageHeight: number): Promise<void> {
  const image = await pdfImage(print);
  if (!image) return;
  const points = POINTS_PER_INCH / print.spec.dpi;
  const ref = image.kind === 'jpg' ? (await doc.embedJpg(image.bytes)).ref : embedPngData(doc, image.rgb, image.alpha);
  const key = page.node.newXObject('Image', ref);
  const { box, clip: area } = image;
  const operators = [pushGraphicsState()];
  if (area) operators.push(rectangle(area.left * points, pageHeight - (area.top + area.height) * points, area.width * points, area.height * points), clip(), endPath());
  operators.push(concatTransformationMatrix(box.width * points, 0, 0, box.height * points, box.left * points, pageHeight - (box.top + box.height) * points), drawObject(key), popGraphicsState());
  page.pushOperators(...operators);
}

/**
 * An image XObject from PNGs sharp wrote (8-bit, not interlaced): their IDAT data is a zlib
 * stream with PNG row filters, which PDF reads as FlateDecode with the PNG predictor (ISO
 * 32000 7.4.4.4), so the pixels are compressed once, natively, instead of decoded and
 * deflated again in JavaScript (pdf-lib's embedPng: seconds for a large image). The alpha,
 * when there is one, becomes the image's soft mask.
 */
function embedPngData(doc: PDFDocument, rgb: Buffer, alpha: Buffer | undefined): PDFRef {
  const stream = (png: Buffer, colors: 1 | 3, extra: Record<string, PDFRef> = {}) => {
    const { width, height, data } = pngData(png, colors);
    return doc.context.register(
      doc.context.stream(data, {
        Type: 'XObject',
        Subtype: 'Image',
        Width: width,
        Height: height,
        ColorSpace: colors === 3 ? 'DeviceRGB' : 'DeviceGray',
        BitsPerComponent: 8,
        Filter: 'FlateDecode',
        DecodeParms: { Predictor: 15, Colors: colors, BitsPerComponent: 8, Columns: width },
        ...extra,
      }),
    );
  };
  return stream(rgb, 3, alpha ? { SMask: stream(alpha, 1) } : {});
}

/** The size and the concatenated IDAT data of an 8-bit, non-interlaced grey (colors 1) or RGB (colors 3) PNG. */
function pngData(png: Buffer, colors: 1 | 3): { width: number; height: number; data: Buffer } {
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const [bitDepth, colorType, , , interlace] = png.subarray(24, 29);
  if (png.toString('latin1', 12, 16) !== 'IHDR' || bitDepth !== 8 || colorType !== (colors === 3 ? 2 : 0) || interlace !== 0) {
    throw new AppError('INVALID_IMAGE', `Expected an 8-bit ${colors === 3 ? 'RGB' : 'grey'} PNG for print.pdf, got bit depth ${bitDepth}, colour type ${colorType}, interlace ${interlace}.`);
  }
  const parts: Buffer[] = [];
  for (let offset = 8; offset < png.length; ) {
    const length = png.readUInt32BE(offset);
    if (png.toString('latin1', offset + 4, offset + 8) === 'IDAT') parts.push(png.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  return { width, height, data: Buffer.concat(parts) };
}

/** The lines of print.layout, each glyph at its shaped position, in the scene's text box. */
async function drawText(doc: PDFDocument, page: PDFPage, print: PrintDesign, pageHeight: number): Promise<void> {
  const { layout, textBox, spec } = print;
  if (!layout || !textBox) return;
  const points = POINTS_PER_INCH / spec.dpi;
  const fontSizePt = layout.fontSize * points;
  const fonts = new Map<FontFace, PDFFont>();
  // The ink box centred in the text box, as the scene renderer centres Pango's ink-cropped mask.
  const inkLeft = textBox.left + (textBox.width - layout.ink.width) / 2;
  const inkTop = textBox.top + (textBox.height - layout.ink.height) / 2;
  const ink = [print.ink.r / 255, print.ink.g / 255, print.ink.b / 255] as const;
  const operators: PDFOperator[] = [pushGraphicsState(), setFillingRgbColor(...ink), setStrokingRgbColor(...ink), beginText()];
  for (const [index, line] of layout.lines.entries()) {
    if (line.runs.length === 0) continue;
    const xPx = inkLeft - layout.ink.left - line.width / 2;
    const baselinePx = inkTop - layout.ink.top + layout.baselines[index]!;
    operators.push(setTextMatrix(1, 0, 0, 1, xPx * points, pageHeight - baselinePx * points));
    for (const run of line.runs) {
      let font = fonts.get(run.face);
      if (!font) {
        font = await doc.embedFont(fontBytes(run.face), { subset: true, customName: subsetName(run.face, layout.lines.map((l) => l.text).join('\n')) });
        fonts.set(run.face, font);
      }
      const key = page.node.newFontDictionary(font.name, font.ref);
      // A face Pango draws emboldened: filled and stroked in the ink, the stroke as wide as the outline grows.
      if (run.embolden > 0) operators.push(setTextRenderingMode(TextRenderingMode.FillAndOutline), setLineWidth((run.embolden / run.unitsPerEm) * fontSizePt), setLineJoin(LineJoinStyle.Round));
      // A run Pango raises off the line's baseline (a line that starts with ideographs), and an
      // emboldened run by half its growth (its stroke grows it downward by as much).
      // Glyphs GPOS moves up or down (stacked marks) are shown on their own, each at its rise.
      operators.push(setFontAndSize(key, fontSizePt));
      let risen = 0;
      for (const { yOffset, array } of adjustedText(doc, font, run)) {
        const rise = run.rise + run.embolden / 2 + yOffset;
        if (rise !== risen) operators.push(setTextRise((rise / run.unitsPerEm) * fontSizePt));
        risen = rise;
        operators.push(PDFOperator.of(PDFOperatorNames.ShowTextAdjusted, [array]));
      }
      if (risen !== 0) operators.push(setTextRise(0));
      if (run.embolden > 0) operators.push(setTextRenderingMode(TextRenderingMode.Fill));
    }
  }
  operators.push(endText(), popGraphicsState());
  page.pushOperators(...operators);
}

/**
 * The name of a subset font as PDF readers expect it (ISO 32000 9.6.4): six capital letters,
 * a plus, the PostScript name. The tag is taken from the face and the text, so the same
 * design gives the same file, and different subsets of a face get different tags.
 */
function subsetName(face: FontFace, text: string): string {
  const digest = createHash('sha256').update(face.file).update('\0').update(text).digest();
  const tag = Array.from(digest.subarray(0, 6), (byte) => String.fromCharCode(65 + (byte % 26))).join('');
  return `${tag}+${(fontkitFont(face).postscriptName ?? face.family).replace(/[^\x21-\x7e]|[()<>[\]{}/%]/g, '')}`;
}

/**
 * The subset's codes of `run`'s own glyphs, in its order. pdf-lib encodes a text by shaping it
 * again with fontkit's defaults: the direction of its first letter's script, no mirroring, so
 * a right-to-left run with Latin in it came out reversed ("TXET") and brackets backwards. It
 * shapes with the face's fontkit font, which cachedFontkit shares with the layout: for that
 * one synchronous call, the font's layout answers with the run's glyphs; were pdf-lib ever to
 * parse a font of its own, this throws rather than draw glyphs in another order.
 */
function encodeRun(font: PDFFont, run: ShapedRun): string {
  const shaper = fontkitFont(run.face);
  const own = Object.getOwnPropertyDescriptor(shaper, 'layout');
  let asked = false;
  shaper.layout = () => {
    asked = true;
    return { glyphs: [...run.glyphs], positions: [...run.positions] } as unknown as ReturnType<typeof shaper.layout>;
  };
  try {
    const hex = font.encodeText(run.text).asString();
    // pdf-lib shaped with a font of its own: its glyphs could be in another order than drawn.
    if (!asked) throw new AppError('TEXT_RENDER_FAILED', `print.pdf could not place the glyphs of ${run.face.family}: pdf-lib did not use the layout's font. This is a bug; report it.`);
    return hex;
  } finally {
    if (own) Object.defineProperty(shaper, 'layout', own);
    else delete (shaper as { layout?: unknown }).layout;
  }
}

/**
 * TJ arrays for `run`, one per stretch of glyphs at the same vertical offset (TJ moves only
 * across; GPOS lifts stacked marks, as the acute of "ắ" over the breve: drawText shows each
 * stretch at its text rise): each glyph's code (the subset's glyph id, from pdf-lib, which also
 * adds the glyph and its ToUnicode entry to the subset), with the difference between the
 * glyph's own width and its shaped advance (kerning) and offsets between glyphs, in
 * thousandths of an em as TJ counts them.
 */
function adjustedText(doc: PDFDocument, font: PDFFont, run: ShapedRun): Array<{ yOffset: number; array: PDFArray }> {
  const hex = encodeRun(font, run);
  const codes = hex.match(/.{4}/g) ?? [];
  const perUnit = 1000 / run.unitsPerEm;
  const segments: Array<{ yOffset: number; array: PDFArray }> = [];
  for (const [i, code] of codes.entries()) {
    const glyph = run.glyphs[i]!;
    const position = run.positions[i]!;
    const next = run.positions[i + 1];
    let segment = segments.at(-1);
    if (!segment || segment.yOffset !== position.yOffset) {
      segment = { yOffset: position.yOffset, array: PDFArray.withContext(doc.context) };
      segments.push(segment);
    }
    segment.array.push(PDFHexString.of(code));
    // TJ subtracts: a positive number moves the next glyph left.
    const adjustment = (glyph.advanceWidth - position.xAdvance + position.xOffset - (next?.xOffset ?? 0)) * perUnit;
    if (Math.abs(adjustment) > 1e-6) segment.array.push(PDFNumber.of(Number(adjustment.toFixed(3))));
  }
  // The first glyph's own offset: shift the whole run by it. An emboldened run is stroked on
  // its outline (half the growth on every side): moved right by half as well, and back after
  // it, its ink grows to the right only, as FreeType's does (its rise lifts it likewise).
  const lead = (run.positions[0]?.xOffset ?? 0) + run.embolden / 2;
  if (lead !== 0) segments[0]?.array.insert(0, PDFNumber.of(Number((-lead * perUnit).toFixed(3))));
  if (run.embolden > 0) segments.at(-1)?.array.push(PDFNumber.of(Number(((run.embolden / 2) * perUnit).toFixed(3))));
  return segments;
}

let srgbProfile: Promise<Buffer> | undefined;

/** libvips' built-in sRGB ICC profile, taken from an image sharp tags with it (once per process). */
function srgbIccProfile(): Promise<Buffer> {
  srgbProfile ??= (async () => {
    const tagged = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000000' } }).withIccProfile('srgb').png().toBuffer();
    const { icc } = await sharp(tagged).metadata();
    if (!icc) throw new Error('sharp did not embed its sRGB profile');
    return icc;
  })();
  return srgbProfile;
}

/** An OutputIntents entry with the sRGB profile: the document's DeviceRGB colours are sRGB. */
async function addSrgbOutputIntent(doc: PDFDocument): Promise<void> {
  const profile = doc.context.flateStream(await srgbIccProfile(), { N: 3 });
  const profileRef = doc.context.register(profile);
  const intent = doc.context.obj({
    Type: 'OutputIntent',
    S: 'GTS_PDFX',
    OutputConditionIdentifier: PDFString.of('sRGB IEC61966-2.1'),
    RegistryName: PDFString.of('http://www.color.org'),
    Info: PDFString.of('sRGB IEC61966-2.1'),
    DestOutputProfile: profileRef,
  });
  doc.catalog.set(PDFName.of('OutputIntents'), doc.context.obj([intent]));
}
