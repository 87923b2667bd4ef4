import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { DEFAULT_PRINT_SPECS, designPrintScene, previewText, printGeometry, readPrintImage, renderPrintFiles, renderPrintPng, type PrintImage, type PrintSpec } from '../../src/print/index.js';
import { previewTrim } from '../../src/rendering/scene.js';
import { PRODUCT_TYPES, renderDesign, validateDesignSpec, type DesignSpec, type ProductType, type TextLayer } from '../../src/rendering/index.js';
import { inkBands } from '../../src/print/ink-lines.js';
import { inkMask, lineDifferences, lineEdgesApart } from '../helpers/line-pixels.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * Print files read back with tools nobody here wrote: pngcheck, poppler (pdfinfo, pdffonts,
 * pdftotext), qpdf and Ghostscript (Debian's poppler-utils, pngcheck, qpdf, ghostscript).
 */

const run = promisify(execFile);

let dir: string;
const BACKGROUND = { r: 0x1e, g: 0x90, b: 0xff };
const INK = { r: 0xff, g: 0xd7, b: 0x00 };
const design = (productType: ProductType, text = 'Print Ready\nSoon', font = 'Roboto-Bold'): DesignSpec =>
  ({ product_type: productType, design_data: { text, font, color: '#1E90FF', text_color: '#FFD700' } }) as DesignSpec;

interface Made {
  png: string;
  pdf: string;
  /** print.pdf rendered by Ghostscript at the spec's DPI. */
  gsPng: string;
  gsOutput: string;
}
const made = new Map<ProductType, Made>();

/** The print layout renderPrintFiles draws both files from: at the size the preview's Pango chose. */
const printLayout = async (designed: DesignSpec, spec: PrintSpec, image?: PrintImage) =>
  designPrintScene(designed, spec, image, { preview: await previewText(designed, spec) });

beforeAll(async () => {
  dir = await createTempDir('print-files');
  for (const type of PRODUCT_TYPES) {
    const spec = DEFAULT_PRINT_SPECS[type];
    const files = await renderPrintFiles(design(type), spec, { title: `design-${type}`, creationDate: new Date('2026-01-02T03:04:05Z') });
    const png = path.join(dir, `${type}.png`);
    const pdf = path.join(dir, `${type}.pdf`);
    await writeFile(png, files.png!);
    await writeFile(pdf, files.pdf!);
    const gsPng = path.join(dir, `${type}-gs.png`);
    // -dPDFSTOPONWARNING: any warning fails the render (exit code and stderr are checked below).
    const gs = await run('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-dPDFSTOPONERROR', '-dPDFSTOPONWARNING', `-r${spec.dpi}`, '-dTextAlphaBits=4', '-dGraphicsAlphaBits=4',
      `-sDEVICE=${spec.printBackground ? 'png16m' : 'pngalpha'}`, `-sOutputFile=${gsPng}`, pdf]);
    made.set(type, { png, pdf, gsPng, gsOutput: gs.stdout + gs.stderr });
  }
}, 180_000);
afterAll(async () => {
  await removeTempDir(dir);
});

const apparel = PRODUCT_TYPES.filter((type) => !DEFAULT_PRINT_SPECS[type].printBackground);
const paper = PRODUCT_TYPES.filter((type) => DEFAULT_PRINT_SPECS[type].printBackground);

/** The box around pixels that differ from `background` (or, without it, that are mostly opaque). */
async function inkBox(file: string, background?: { r: number; g: number; b: number }) {
  const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  let left = Infinity;
  let right = -1;
  let top = Infinity;
  let bottom = -1;
  const rows: boolean[] = [];
  const rowExtents: Array<[number, number]> = [];
  for (let y = 0; y < info.height; y++) {
    let rowHasInk = false;
    let rowLeft = Infinity;
    let rowRight = -1;
    for (let x = 0; x < info.width; x++) {
      const o = (y * info.width + x) * 4;
      const ink = background
        ? Math.abs(data[o]! - background.r) + Math.abs(data[o + 1]! - background.g) + Math.abs(data[o + 2]! - background.b) > 192
        : data[o + 3]! >= 128;
      if (!ink) continue;
      rowHasInk = true;
      rowLeft = Math.min(rowLeft, x);
      rowRight = Math.max(rowRight, x);
      left = Math.min(left, x);
      right = Math.max(right, x);
      top = Math.min(top, y);
      bottom = Math.max(bottom, y);
    }
    rows.push(rowHasInk);
    rowExtents.push([rowLeft, rowRight]);
  }
  // Runs of rows with ink: one per line of text (the test text has no descenders that reach the next line).
  const bands: Array<[number, number]> = [];
  rows.forEach((ink, y) => {
    if (!ink) return;
    const last = bands.at(-1);
    if (last && last[1] === y - 1) last[1] = y;
    else bands.push([y, y]);
  });
  // Each line's ink box: its band's rows, from the leftmost to the rightmost ink among them.
  const lineBoxes = bands.map(([bandTop, bandBottom]) => {
    const extents = rowExtents.slice(bandTop, bandBottom + 1);
    return { top: bandTop, bottom: bandBottom, left: Math.min(...extents.map(([l]) => l)), right: Math.max(...extents.map(([, r]) => r)) };
  });
  return { left, right, top, bottom, bands, lineBoxes, width: info.width, height: info.height };
}

describe('print.png', () => {
  it.each(PRODUCT_TYPES)('%s: full print size (trim plus bleed at 300 DPI), 8-bit, RGBA for apparel and RGB for paper, pHYs 300 DPI', async (type) => {
    const spec = DEFAULT_PRINT_SPECS[type];
    const { widthPx, heightPx } = printGeometry(spec);
    const meta = await sharp(made.get(type)!.png).metadata();
    expect(meta).toMatchObject({ format: 'png', width: widthPx, height: heightPx, depth: 'uchar', channels: spec.printBackground ? 3 : 4, density: 300 });
    const { stdout } = await run('pngcheck', ['-v', made.get(type)!.png]);
    expect(stdout).toMatch(/pHYs .*: 11811x11811 pixels\/meter \(300 dpi\)/);
    expect(stdout).toMatch(new RegExp(`${widthPx} x ${heightPx} image, ${spec.printBackground ? '24-bit RGB' : '32-bit RGB\\+alpha'}`));
    expect(stdout).toMatch(/No errors detected/);
  });

  it('the t-shirt file is 3600x4800', async () => {
    expect(await sharp(made.get('t-shirt')!.png).metadata()).toMatchObject({ width: 3600, height: 4800 });
  });

  it.each(apparel)('%s: transparent corners and edges (the garment is the colour), opaque text in its colour', async (type) => {
    const { data, info } = await sharp(made.get(type)!.png).raw().toBuffer({ resolveWithObject: true });
    const alphaAt = (x: number, y: number) => data[(y * info.width + x) * 4 + 3];
    for (const [x, y] of [[0, 0], [info.width - 1, 0], [0, info.height - 1], [info.width - 1, info.height - 1], [info.width >> 1, 0], [0, info.height >> 1]] as const) {
      expect(alphaAt(x, y), `alpha at ${x},${y}`).toBe(0);
    }
    // Some fully opaque pixels are exactly the text colour.
    let opaqueInk = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 3] === 255 && data[i] === INK.r && data[i + 1] === INK.g && data[i + 2] === INK.b) opaqueInk++;
    expect(opaqueInk).toBeGreaterThan(1000);
  });

  it.each(paper)('%s: the background colour fills the bleed on every side', async (type) => {
    const spec = DEFAULT_PRINT_SPECS[type];
    const { bleedPx } = printGeometry(spec);
    expect(bleedPx).toBe(37.5);
    const { data, info } = await sharp(made.get(type)!.png).raw().toBuffer({ resolveWithObject: true });
    const colourAt = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const bleed = Math.floor(bleedPx);
    for (let i = 0; i < bleed; i += 6) {
      for (const [x, y] of [[i, info.height >> 1], [info.width - 1 - i, info.height >> 1], [info.width >> 1, i], [info.width >> 1, info.height - 1 - i], [i, i]] as const) {
        expect(colourAt(x, y), `pixel ${x},${y}`).toEqual([BACKGROUND.r, BACKGROUND.g, BACKGROUND.b]);
      }
    }
  });
});

/** pdfinfo -box's boxes, in points. */
async function boxes(pdf: string): Promise<Record<string, number[]>> {
  const { stdout } = await run('pdfinfo', ['-box', pdf]);
  const out: Record<string, number[]> = {};
  for (const match of stdout.matchAll(/^(MediaBox|CropBox|BleedBox|TrimBox|ArtBox):\s+([\d.\s-]+)$/gm)) out[match[1]!] = match[2]!.trim().split(/\s+/).map(Number);
  return out;
}

describe('print.pdf', () => {
  it.each(PRODUCT_TYPES)('%s: MediaBox and BleedBox are trim plus bleed, TrimBox the trim (pdfinfo -box, to 0.01 pt)', async (type) => {
    const spec = DEFAULT_PRINT_SPECS[type];
    const b = spec.bleed * 72;
    const w = spec.width * 72;
    const h = spec.height * 72;
    const found = await boxes(made.get(type)!.pdf);
    const near = (actual: number[] | undefined, expected: number[]) => {
      expect(actual).toHaveLength(4);
      actual!.forEach((value, i) => expect(Math.abs(value - expected[i]!), `${value} vs ${expected[i]}`).toBeLessThanOrEqual(0.005));
    };
    near(found.MediaBox, [0, 0, w + 2 * b, h + 2 * b]);
    near(found.BleedBox, [0, 0, w + 2 * b, h + 2 * b]);
    near(found.TrimBox, [b, b, b + w, b + h]);
  });

  it('the sticker: 4.25 in square page (306 pt) with a 4 in trim (9 pt in from each edge)', async () => {
    const found = await boxes(made.get('sticker')!.pdf);
    expect(found.MediaBox).toEqual([0, 0, 306, 306]);
    expect(found.TrimBox).toEqual([9, 9, 297, 297]);
  });

  it.each(PRODUCT_TYPES)('%s: one page, title = design id, producer Customify Assets, creation date', async (type) => {
    const { stdout } = await run('pdfinfo', ['-isodates', made.get(type)!.pdf]);
    expect(stdout).toMatch(new RegExp(`^Title:\\s+design-${type}$`, 'm'));
    expect(stdout).toMatch(/^Producer:\s+Customify Assets$/m);
    expect(stdout).toMatch(/^CreationDate:\s+2026-01-02T03:04:05Z$/m);
    expect(stdout).toMatch(/^Pages:\s+1$/m);
  });

  it.each(PRODUCT_TYPES)('%s: every font embedded as a subset (pdffonts), text is real text with the raster\'s lines (pdftotext)', async (type) => {
    const { stdout: fonts } = await run('pdffonts', [made.get(type)!.pdf]);
    const rows = fonts.split('\n').slice(2).filter((line) => line.trim() !== '');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toMatch(/^[A-Z]{6}\+Roboto-Bold\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes\s/);
    const { stdout: text } = await run('pdftotext', [made.get(type)!.pdf, '-']);
    const rasterLines = ((await printLayout(design(type), DEFAULT_PRINT_SPECS[type])).scene.layers[0] as { text: string }).text.split('\n');
    expect(text.replace(/\f/g, '').trim().split('\n')).toEqual(rasterLines);
    // As large as fits: "Print Ready" stays on one line only where the print area is wide (the mug's wrap).
    expect(rasterLines).toEqual(type === 'mug' ? ['Print Ready', 'Soon'] : ['Print', 'Ready', 'Soon']);
  });

  it.each(PRODUCT_TYPES)('%s: qpdf --check finds no errors; Ghostscript renders it without a warning', async (type) => {
    const { stdout } = await run('qpdf', ['--check', made.get(type)!.pdf]);
    expect(stdout).toMatch(/No syntax or stream encoding errors found/);
    expect(made.get(type)!.gsOutput).toBe('');
  });

  it.each(paper)('%s: the background is printed in the exact colour over the bleed; no transparency', async (type) => {
    const { data, info } = await sharp(made.get(type)!.gsPng).raw().toBuffer({ resolveWithObject: true });
    for (const [x, y] of [[0, 0], [info.width - 1, info.height - 1], [10, info.height >> 1]] as const) {
      const o = (y * info.width + x) * info.channels;
      expect([data[o], data[o + 1], data[o + 2]]).toEqual([BACKGROUND.r, BACKGROUND.g, BACKGROUND.b]);
    }
    const raw = (await readFile(made.get(type)!.pdf)).toString('latin1');
    expect(raw).not.toMatch(/\/Group|\/SMask|\/CA\s|\/ca\s/);
    expect(raw).toMatch(/\/OutputIntents/);
  });

  it.each(apparel)('%s: nothing but the text is printed: Ghostscript\'s render has transparent corners', async (type) => {
    const { data, info } = await sharp(made.get(type)!.gsPng).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    for (const [x, y] of [[0, 0], [info.width - 1, info.height - 1]] as const) expect(data[(y * info.width + x) * 4 + 3]).toBe(0);
  });
});

describe('one layout for every output', () => {
  it.each(PRODUCT_TYPES)('%s: the ink of Ghostscript\'s render of print.pdf and of print.png agree within 1 percent of the trim width, line by line', async (type) => {
    const spec = DEFAULT_PRINT_SPECS[type];
    const { trimWidthPx } = printGeometry(spec);
    const background = spec.printBackground ? BACKGROUND : undefined;
    const raster = await inkBox(made.get(type)!.png, background);
    const vector = await inkBox(made.get(type)!.gsPng, background);
    expect(vector.width).toBe(raster.width);
    const tolerance = trimWidthPx / 100;
    for (const edge of ['left', 'right', 'top', 'bottom'] as const) {
      expect(Math.abs(raster[edge] - vector[edge]), `${edge}: png ${raster[edge]}, pdf ${vector[edge]}`).toBeLessThanOrEqual(tolerance);
    }
    // The same lines in the same places: one band of ink rows per line.
    expect(raster.bands).toHaveLength((await printLayout(design(type), spec)).layout!.lines.length);
    expect(vector.bands).toHaveLength(raster.bands.length);
    raster.bands.forEach(([top, bottom], i) => {
      expect(Math.abs(top - vector.bands[i]![0])).toBeLessThanOrEqual(tolerance);
      expect(Math.abs(bottom - vector.bands[i]![1])).toBeLessThanOrEqual(tolerance);
    });
  });

  it.each(PRODUCT_TYPES)(
    '%s: the 600 px preview, print.png and Ghostscript\'s render of print.pdf have the same lines and the same ink, relative to the trim (the preview\'s: its print area in the square), within 1 percent of its width',
    async (type) => {
      // Apparel with its background printed, to find the ink against the same colour as in the preview.
      const spec = { ...DEFAULT_PRINT_SPECS[type], printBackground: true };
      const { bleedPx, trimWidthPx } = printGeometry(spec);
      const trim = previewTrim(600, spec);
      // The preview's trim is the print's shape: relative positions are measured in trim widths on both axes.
      expect(Math.abs(trim.height / trim.width - printGeometry(spec).trimHeightPx / trimWidthPx)).toBeLessThan(1e-9);
      for (const text of ['Print Ready\nSoon', 'Hello', 'A much longer design text that wraps']) {
        const designed = design(type, text);
        const name = `${type}-${text.length}`;
        const preview = path.join(dir, `${name}-preview.png`);
        const printed = path.join(dir, `${name}-print-bg.png`);
        const pdf = path.join(dir, `${name}-print-bg.pdf`);
        const gsPng = path.join(dir, `${name}-print-bg-gs.png`);
        const files = await renderPrintFiles(designed, spec, { title: 'preview-check' });
        await writeFile(preview, await renderDesign(designed));
        await writeFile(printed, files.png!);
        await writeFile(pdf, files.pdf!);
        await run('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-dPDFSTOPONWARNING', `-r${spec.dpi}`, '-dTextAlphaBits=4', '-dGraphicsAlphaBits=4', '-sDEVICE=png16m', `-sOutputFile=${gsPng}`, pdf]);
        const shown = await inkBox(preview, BACKGROUND);
        const relativePreview = (value: number, axis: 'x' | 'y') => (value - (axis === 'x' ? trim.left : trim.top)) / trim.width;
        const relativePrint = (value: number) => (value - bleedPx) / trimWidthPx;
        const lines = (await printLayout(designed, spec)).layout!.lines;
        if (text.includes(' ') && text.length > 20) expect(lines.length, `${JSON.stringify(text)} wraps`).toBeGreaterThan(1);
        for (const file of [printed, gsPng]) {
          const print = await inkBox(file, BACKGROUND);
          const what = `${type} ${JSON.stringify(text)} ${file === gsPng ? 'print.pdf' : 'print.png'}`;
          // The same line breaks: one band of ink rows per line, as many as the layout has, in the same places.
          expect(shown.bands, what).toHaveLength(lines.length);
          expect(print.bands, what).toHaveLength(lines.length);
          for (const edge of ['left', 'right', 'top', 'bottom'] as const) {
            const axis = edge === 'left' || edge === 'right' ? 'x' : 'y';
            expect(Math.abs(relativePreview(shown[edge], axis) - relativePrint(print[edge])), `${what} ${edge}: preview ${relativePreview(shown[edge], axis)}, print ${relativePrint(print[edge])}`).toBeLessThanOrEqual(0.01);
          }
          shown.lineBoxes.forEach((line, i) => {
            for (const edge of ['left', 'right', 'top', 'bottom'] as const) {
              const axis = edge === 'left' || edge === 'right' ? 'x' : 'y';
              expect(Math.abs(relativePreview(line[edge], axis) - relativePrint(print.lineBoxes[i]![edge])), `${what} line ${i} ${edge}`).toBeLessThanOrEqual(0.01);
            }
          });
        }
      }
    },
    120_000,
  );

  it('wrapped text in a script font with kerning and contextual forms keeps its lines and place in both files', async () => {
    const spec = DEFAULT_PRINT_SPECS.poster;
    const spec2 = design('poster', 'AVATAR Typography WAVE of wonder', 'Pacifico-Regular');
    const files = await renderPrintFiles(spec2, spec, { title: 'script' });
    const png = path.join(dir, 'script.png');
    const pdf = path.join(dir, 'script.pdf');
    const gsPng = path.join(dir, 'script-gs.png');
    await writeFile(png, files.png!);
    await writeFile(pdf, files.pdf!);
    const gs = await run('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-dPDFSTOPONWARNING', '-r300', '-sDEVICE=png16m', `-sOutputFile=${gsPng}`, pdf]);
    expect(gs.stdout + gs.stderr).toBe('');
    const lines = ((await printLayout(spec2, spec)).scene.layers[0] as { text: string }).text.split('\n');
    expect(lines.length).toBeGreaterThan(1);
    const { stdout: text } = await run('pdftotext', [pdf, '-']);
    expect(text.replace(/\f/g, '').trim().split('\n')).toEqual(lines);
    const raster = await inkBox(png, BACKGROUND);
    const vector = await inkBox(gsPng, BACKGROUND);
    const tolerance = printGeometry(spec).trimWidthPx / 100;
    for (const edge of ['left', 'right', 'top', 'bottom'] as const) expect(Math.abs(raster[edge] - vector[edge]), edge).toBeLessThanOrEqual(tolerance);
  });

  it('text the primary font lacks is drawn from the bundled fallbacks, each embedded as a subset', async () => {
    const files = await renderPrintFiles(design('sticker', 'Hello 世界\nשלום'), DEFAULT_PRINT_SPECS.sticker, { title: 'scripts' });
    const pdf = path.join(dir, 'scripts.pdf');
    await writeFile(pdf, files.pdf!);
    const { stdout: fonts } = await run('pdffonts', [pdf]);
    const rows = fonts.split('\n').slice(2).filter((line) => line.trim() !== '');
    expect(rows.map((row) => row.split(/\s+/)[0]!.replace(/^[A-Z]{6}\+/, '')).sort()).toEqual(['NotoSansHebrew-Bold', 'NotoSansSC-Bold', 'Roboto-Bold']);
    for (const row of rows) expect(row).toMatch(/\s+yes\s+yes\s+yes\s/);
    const { stdout: text } = await run('pdftotext', [pdf, '-']);
    const lines = (await printLayout(design('sticker', 'Hello 世界\nשלום'), DEFAULT_PRINT_SPECS.sticker)).layout!.lines.map((line) => line.text);
    // Lines may break between CJK ideographs, as Pango breaks them.
    expect(lines.join('').replace(/\s/g, '')).toBe('Hello世界שלום');
    expect(lines.at(-1)).toBe('שלום');
    // pdftotext marks the right-to-left line with embedding characters (U+202B … U+202C).
    expect(text.replace(/[\f\u202b\u202c]/g, '').trim().split('\n')).toEqual(lines);
  });

  it('Devanagari, shaped by fontkit\'s Indic shaper, makes its print files, drawn where the preview draws it', async () => {
    // Before src/print/fontkit-regenerator-fix.ts: "regeneratorRuntime is not defined", the print FAILED.
    const spec = DEFAULT_PRINT_SPECS.mug;
    const hindi = design('mug', 'नमस्ते दुनिया');
    const files = await renderPrintFiles(hindi, spec, { title: 'devanagari' });
    const [png, pdf, gsPng, preview] = ['devanagari.png', 'devanagari.pdf', 'devanagari-gs.png', 'devanagari-preview.png'].map((name) => path.join(dir, name)) as [string, string, string, string];
    await writeFile(png, files.png!);
    await writeFile(pdf, files.pdf!);
    await writeFile(preview, await renderDesign(hindi));
    const { stdout: fonts } = await run('pdffonts', [pdf]);
    const rows = fonts.split('\n').slice(2).filter((line) => line.trim() !== '');
    expect(rows.map((row) => row.split(/\s+/)[0]!.replace(/^[A-Z]{6}\+/, ''))).toEqual(['NotoSans-Bold']);
    expect(rows[0]).toMatch(/\s+yes\s+yes\s+yes\s/);
    const gs = await run('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-dPDFSTOPONWARNING', `-r${spec.dpi}`, '-sDEVICE=png16m', `-sOutputFile=${gsPng}`, pdf]);
    expect(gs.stdout + gs.stderr).toBe('');
    // The conjunct स्त and the vowel sign ि drawn before न: the same ink, to 1 % of the trim, in the preview, print.png and print.pdf.
    const { bleedPx, trimWidthPx } = printGeometry(spec);
    const trim = previewTrim(600, spec);
    const shown = await inkBox(preview, BACKGROUND);
    for (const file of [png, gsPng]) {
      const print = await inkBox(file, BACKGROUND);
      for (const edge of ['left', 'right', 'top', 'bottom'] as const) {
        const relativePreview = (shown[edge] - (edge === 'left' || edge === 'right' ? trim.left : trim.top)) / trim.width;
        expect(Math.abs(relativePreview - (print[edge] - bleedPx) / trimWidthPx), `${file} ${edge}`).toBeLessThanOrEqual(0.01);
      }
    }
  });
});

describe('limits', () => {
  it('a print.png whose text Pango laid out otherwise than the print layout is refused, not written', async () => {
    const print = designPrintScene(design('sticker', 'Print Ready'), DEFAULT_PRINT_SPECS.sticker);
    const layer = print.scene.layers[0] as TextLayer;
    // As if Pango had broken a line the layout kept whole: one line more.
    const drifted = { ...print, scene: { ...print.scene, layers: [{ ...layer, text: `${layer.text}\nmore` }] } };
    const error = await renderPrintPng(drifted).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'TEXT_RENDER_FAILED' });
    expect((error as Error).message).toMatch(/does not match the print layout/);
    await expect(renderPrintPng(print)).resolves.toBeInstanceOf(Buffer);
  });

  it('text that cannot fit the print area at 6 pt fails with PRINT_TEXT_TOO_LARGE naming the text', () => {
    const tiny: PrintSpec = { ...DEFAULT_PRINT_SPECS.sticker, width: 0.5, height: 0.5 };
    const text = 'A long line of text\nthat needs\nmany\nlines\nto\nfit\nanywhere\nat\nall\nreally';
    let error: unknown;
    try {
      designPrintScene(design('sticker', text), tiny);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'PRINT_TEXT_TOO_LARGE', field: 'design_data.text' });
    expect((error as Error).message).toMatch(/^The text "A long line of text\\nthat needs\\nmany\\nline…" does not fit the print area at the smallest legible size \(25 px\)/);
  });
});

describe('designs with an image (design_data.image)', () => {
  const UPLOAD = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';
  const RED = { r: 224, g: 48, b: 30 };
  const GREEN = { r: 32, g: 160, b: 64 };
  type Colour = typeof RED;
  /** As the preview tones an image behind text into the background (45 % opacity). */
  const toned = (c: Colour): Colour => ({ r: Math.round(BACKGROUND.r + (c.r - BACKGROUND.r) * 0.45), g: Math.round(BACKGROUND.g + (c.g - BACKGROUND.g) * 0.45), b: Math.round(BACKGROUND.b + (c.b - BACKGROUND.b) * 0.45) });
  const near = (data: Buffer, o: number, c: Colour) => Math.abs(data[o]! - c.r) + Math.abs(data[o + 1]! - c.g) + Math.abs(data[o + 2]! - c.b) <= 45;

  /** An 800 x 600 photo (JPEG, as normalised originals of photos are): left half red, right half green. */
  let photo: Buffer;
  let imageDir: string;

  interface Region {
    left: number;
    right: number;
    top: number;
    bottom: number;
    /** The first green column of the region: where the image's content is, not only its frame. */
    split: number;
  }

  /**
   * The box of the image's pixels (red or green; toned when `behind`; on a transparent
   * canvas, pixels with the image's alpha), and where its red half ends.
   */
  async function imageRegion(file: string, behind: boolean): Promise<Region> {
    const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const colours = behind ? [toned(RED), toned(GREEN)] : [RED, GREEN];
    const transparentCanvas = info.hasAlpha && data[3] === 0;
    const isImage = (o: number) => {
      if (transparentCanvas) {
        // Apparel: the image's own colours, at its opacity (0.45 x 255 behind text).
        const alpha = data[o + 3]!;
        return (behind ? Math.abs(alpha - 115) <= 12 : alpha >= 250) && (near(data, o, RED) || near(data, o, GREEN));
      }
      return colours.some((c) => near(data, o, c));
    };
    const box = { left: Infinity, right: -1, top: Infinity, bottom: -1, split: -1 };
    for (let y = 0; y < info.height; y++) {
      for (let x = 0; x < info.width; x++) {
        if (!isImage((y * info.width + x) * 4)) continue;
        box.left = Math.min(box.left, x);
        box.right = Math.max(box.right, x);
        box.top = Math.min(box.top, y);
        box.bottom = Math.max(box.bottom, y);
      }
    }
    // The leftmost green over all the region's rows: text drawn over the image can hide green
    // on some rows (a glyph crossing the image's top edge) but never shows it.
    const green = transparentCanvas || !behind ? GREEN : toned(GREEN);
    for (let y = box.top; y <= box.bottom; y++) {
      const end = box.split < 0 ? box.right : box.split - 1;
      for (let x = box.left; x <= end; x++) {
        if (near(data, (y * info.width + x) * 4, green)) {
          box.split = x;
          break;
        }
      }
    }
    expect(box.right, `no image pixels in ${file}`).toBeGreaterThan(0);
    return box;
  }

  /** A design with the photo and `text` (null: the image alone). */
  const withImage = (type: ProductType, placement: Record<string, unknown>, text: string | null = 'Photo') =>
    validateDesignSpec({ product_type: type, design_data: { ...(text === null ? {} : { text }), font: 'Roboto-Bold', color: '#1E90FF', text_color: '#FFD700', image: { upload_id: UPLOAD, placement } } });

  const PLACEMENTS = [
    ['above', { position: 'above' }, 'Photo'],
    ['below', { position: 'below', size: 0.4 }, 'Photo'],
    ['behind', { position: 'behind', size: 0.6, fit: 'contain' }, 'Photo'],
    ['alone', { size: 0.7 }, null],
    ['above, cover', { position: 'above', fit: 'cover' }, 'Photo'],
  ] as const;

  interface MadeWithImage extends Made {
    files: Awaited<ReturnType<typeof renderPrintFiles>>;
    print: ReturnType<typeof designPrintScene>;
  }
  const madeWithImage = new Map<string, MadeWithImage>();
  const key = (type: string, name: string) => `${type}/${name}`;

  beforeAll(async () => {
    imageDir = await createTempDir('print-files-image');
    photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: RED } })
      .composite([{ input: { create: { width: 400, height: 600, channels: 3, background: GREEN } }, left: 400, top: 0 }])
      .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
      .toBuffer();
    for (const type of ['sticker', 't-shirt'] as const) {
      const spec = DEFAULT_PRINT_SPECS[type];
      for (const [name, placement, text] of PLACEMENTS) {
        const designed = withImage(type, placement, text);
        const files = await renderPrintFiles(designed, spec, { title: `image-${name}`, loadImage: (id) => Promise.resolve(id === UPLOAD ? photo : Buffer.alloc(0)) });
        const base = path.join(imageDir, `${type}-${name.replace(/\W+/g, '-')}`);
        await writeFile(`${base}.png`, files.png!);
        await writeFile(`${base}.pdf`, files.pdf!);
        const gs = await run('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-dPDFSTOPONERROR', '-dPDFSTOPONWARNING', `-r${spec.dpi}`, `-sDEVICE=${spec.printBackground ? 'png16m' : 'pngalpha'}`, `-sOutputFile=${base}-gs.png`, `${base}.pdf`]);
        madeWithImage.set(key(type, name), { png: `${base}.png`, pdf: `${base}.pdf`, gsPng: `${base}-gs.png`, gsOutput: gs.stdout + gs.stderr, files, print: await printLayout(designed, spec, await readPrintImage(photo)) });
      }
    }
  }, 300_000);
  afterAll(async () => {
    await removeTempDir(imageDir);
  });

  it.each(PLACEMENTS.flatMap(([name, placement, text]) => (['hoodie', 'sticker', 't-shirt', 'mug'] as const).map((type) => [type, name, placement, text] as const)))(
    '%s, %s: print.png has the image where the 600 px preview has it, relative to the trim (the preview\'s: its print area in the square), within 1 percent of its width (frame and content)',
    async (type, name, placement, text) => {
      // Apparel with its background printed, to compare colours with the preview's.
      const spec = { ...DEFAULT_PRINT_SPECS[type], printBackground: true };
      const { bleedPx, trimWidthPx } = printGeometry(spec);
      const trim = previewTrim(600, spec);
      const designed = withImage(type, placement, text);
      const preview = path.join(imageDir, `${type}-${name.replace(/\W+/g, '-')}-preview.png`);
      await writeFile(preview, await renderDesign(designed, {}, photo));
      const printed = type === 'sticker' ? madeWithImage.get(key(type, name))!.png : path.join(imageDir, `${type}-${name.replace(/\W+/g, '-')}-print.png`);
      if (type !== 'sticker') await writeFile(printed, (await renderPrintFiles(designed, spec, { title: 'preview-check', loadImage: () => Promise.resolve(photo) })).png!);
      const behind = 'position' in placement && placement.position === 'behind';
      const a = await imageRegion(preview, behind);
      const b = await imageRegion(printed, behind);
      for (const edge of ['left', 'right', 'top', 'bottom', 'split'] as const) {
        const relativePreview = (a[edge] - (edge === 'top' || edge === 'bottom' ? trim.top : trim.left)) / trim.width;
        const relativePrint = (b[edge] - bleedPx) / trimWidthPx;
        expect(Math.abs(relativePreview - relativePrint), `${edge}: preview ${relativePreview}, print ${relativePrint}`).toBeLessThanOrEqual(0.01);
      }
    },
    60_000,
  );

  it.each(PLACEMENTS.flatMap(([name]) => (['sticker', 't-shirt'] as const).map((type) => [type, name] as const)))(
    '%s, %s: print.pdf embeds the image (pdfimages) at its printed resolution, qpdf finds no errors, and Ghostscript draws it where print.png has it',
    async (type, name) => {
      const made = madeWithImage.get(key(type, name))!;
      const spec = DEFAULT_PRINT_SPECS[type];
      const placed = made.print.image!;
      const { stdout } = await run('pdfimages', ['-list', made.pdf]);
      const rows = stdout.split('\n').slice(2).filter((line) => line.trim() !== '').map((line) => line.trim().split(/\s+/));
      const images = rows.filter((row) => row[2] === 'image');
      expect(images).toHaveLength(1);
      // page num type width height color comp bpc enc interp object ID x-ppi y-ppi size ratio
      const [width, height, encoding, xPpi, yPpi] = [3, 4, 8, 12, 13].map((column) => images[0]![column]!) as [string, string, string, string, string];
      // The visible part of the 800 x 600 original, at full resolution: all of it, or (cover) the rows the band shows.
      const visibleWidth = Math.min(800, placed.area.width / placed.scale);
      const visibleHeight = Math.min(600, placed.area.height / placed.scale);
      expect(Math.abs(Number(width) - visibleWidth), `width ${width}`).toBeLessThanOrEqual(2);
      expect(Math.abs(Number(height) - visibleHeight), `height ${height}`).toBeLessThanOrEqual(2);
      expect(encoding).toBe(placed.opacity === 1 || spec.printBackground ? 'jpeg' : 'image');
      const dpi = spec.dpi / placed.scale;
      expect(Math.abs(Number(xPpi) - dpi), `x-ppi ${xPpi}`).toBeLessThanOrEqual(1);
      expect(Math.abs(Number(yPpi) - dpi), `y-ppi ${yPpi}`).toBeLessThanOrEqual(1);
      // Behind text on a garment, the toned-down photo keeps its transparency as a soft mask; paper has none.
      expect(rows.filter((row) => row[2] === 'smask')).toHaveLength(!spec.printBackground && placed.opacity < 1 ? 1 : 0);
      const { stdout: check } = await run('qpdf', ['--check', made.pdf]);
      expect(check).toMatch(/No syntax or stream encoding errors found/);
      expect(made.gsOutput).toBe('');
      const behind = placed.opacity < 1;
      const raster = await imageRegion(made.png, behind);
      const vector = await imageRegion(made.gsPng, behind);
      const tolerance = printGeometry(spec).trimWidthPx / 100;
      for (const edge of ['left', 'right', 'top', 'bottom', 'split'] as const) {
        expect(Math.abs(raster[edge] - vector[edge]), `${edge}: png ${raster[edge]}, pdf ${vector[edge]}`).toBeLessThanOrEqual(tolerance);
      }
      if (spec.printBackground) {
        const raw = (await readFile(made.pdf)).toString('latin1');
        expect(raw).not.toMatch(/\/Group|\/SMask|\/CA\s|\/ca\s/);
      }
    },
    60_000,
  );

  it.each(['sticker', 't-shirt'] as const)('%s: print.png with an image is still the full print size, 8-bit RGB on paper and RGBA on a garment, pHYs 300 DPI (pngcheck)', async (type) => {
    const spec = DEFAULT_PRINT_SPECS[type];
    const { widthPx, heightPx } = printGeometry(spec);
    for (const [name] of PLACEMENTS) {
      const file = madeWithImage.get(key(type, name))!.png;
      expect(await sharp(file).metadata()).toMatchObject({ format: 'png', width: widthPx, height: heightPx, depth: 'uchar', channels: spec.printBackground ? 3 : 4, density: 300 });
      const { stdout } = await run('pngcheck', ['-v', file]);
      expect(stdout).toMatch(/pHYs .*: 11811x11811 pixels\/meter \(300 dpi\)/);
      expect(stdout).toMatch(/No errors detected/);
    }
  });

  it('the text stays real text next to the image; an image alone has no font and no text', async () => {
    const { stdout: text } = await run('pdftotext', [madeWithImage.get(key('t-shirt', 'above'))!.pdf, '-']);
    expect(text.replace(/\f/g, '').trim()).toBe('Photo');
    const alone = madeWithImage.get(key('t-shirt', 'alone'))!;
    const { stdout: fonts } = await run('pdffonts', [alone.pdf]);
    expect(fonts.split('\n').slice(2).filter((line) => line.trim() !== '')).toEqual([]);
    const { stdout: none } = await run('pdftotext', [alone.pdf, '-']);
    expect(none.replace(/\f/g, '').trim()).toBe('');
    expect(alone.print.scene.layers.map((layer) => layer.kind)).toEqual(['image']);
    // Apparel: still transparent around the image, in both files.
    for (const file of [alone.png, alone.gsPng]) {
      const { data } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      expect(data[3], file).toBe(0);
    }
  });

  it('the 800 x 600 photo above the text on a sticker (a 1040 x 520 px band) prints at 346 DPI: no warning; on a t-shirt (3120 x 2160 px) at 83 DPI: a warning', () => {
    expect(madeWithImage.get(key('sticker', 'above'))!.files.warnings).toEqual([]);
    expect(madeWithImage.get(key('t-shirt', 'above'))!.files.warnings).toMatchObject([{ code: 'LOW_RESOLUTION', field: 'design_data.image', dpi: 83 }]);
  });

  it.each([
    [300, 300, 42],
    [1000, 1000, 139],
  ])('a %dx%d image above the text on a t-shirt (a 2160 px band) prints under 150 DPI: a LOW_RESOLUTION warning with its DPI and what to do', async (width, height, dpi) => {
    const small = await sharp({ create: { width, height, channels: 3, background: RED } }).jpeg().toBuffer();
    const files = await renderPrintFiles(withImage('t-shirt', {}), DEFAULT_PRINT_SPECS['t-shirt'], { title: 'small', loadImage: () => Promise.resolve(small) });
    expect(files.warnings).toHaveLength(1);
    expect(files.warnings[0]).toMatchObject({ code: 'LOW_RESOLUTION', field: 'design_data.image', dpi });
    expect(files.warnings[0]!.message).toMatch(new RegExp(`^The image \\(${width}x${height} px\\) prints at about ${dpi} DPI over 7\\.2 x 7\\.2 in, under the 150 DPI`));
    expect(files.warnings[0]!.message).toMatch(/Upload a larger version \(at least 1080x1080 px\) or make it smaller on the design \(design_data\.image\.placement\.size\)/);
    expect(files.png).toBeInstanceOf(Buffer);
    expect(files.pdf).toBeInstanceOf(Buffer);
  });

  it('a 3000 x 3000 image on a t-shirt (416 DPI) gets no warning', async () => {
    const large = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: RED } }).jpeg().toBuffer();
    const files = await renderPrintFiles(withImage('t-shirt', {}), DEFAULT_PRINT_SPECS['t-shirt'], { title: 'large', loadImage: () => Promise.resolve(large) });
    expect(files.warnings).toEqual([]);
  }, 60_000);

  it('a logo with transparency: flattened onto the background on paper (no soft mask, no transparency), kept transparent on a garment (soft mask)', async () => {
    const logo = await sharp({ create: { width: 600, height: 600, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .composite([{ input: { create: { width: 300, height: 300, channels: 4, background: { ...RED, alpha: 1 } } }, left: 150, top: 150 }])
      .png()
      .toBuffer();
    for (const type of ['sticker', 'hoodie'] as const) {
      const spec = DEFAULT_PRINT_SPECS[type];
      const files = await renderPrintFiles(withImage(type, { size: 0.5 }, null), spec, { title: 'logo', loadImage: () => Promise.resolve(logo) });
      const pdf = path.join(imageDir, `logo-${type}.pdf`);
      await writeFile(pdf, files.pdf!);
      const { stdout } = await run('pdfimages', ['-list', pdf]);
      const kinds = stdout.split('\n').slice(2).filter((line) => line.trim() !== '').map((line) => line.trim().split(/\s+/).slice(2, 5).join(' '));
      const raw = (await readFile(pdf)).toString('latin1');
      if (spec.printBackground) {
        expect(kinds).toEqual(['image 600 600']);
        expect(raw).not.toMatch(/\/Group|\/SMask|\/CA\s|\/ca\s/);
      } else {
        expect(kinds).toEqual(['image 600 600', 'smask 600 600']);
      }
      const gsPng = path.join(imageDir, `logo-${type}-gs.png`);
      const gs = await run('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-dPDFSTOPONWARNING', '-r300', `-sDEVICE=${spec.printBackground ? 'png16m' : 'pngalpha'}`, `-sOutputFile=${gsPng}`, pdf]);
      expect(gs.stdout + gs.stderr).toBe('');
      const png = path.join(imageDir, `logo-${type}.png`);
      await writeFile(png, files.png!);
      // The red square only (its transparent surround shows the background, or nothing), the same in both files.
      const raster = await imageRegion(png, false);
      const vector = await imageRegion(gsPng, false);
      for (const edge of ['left', 'right', 'top', 'bottom'] as const) expect(Math.abs(raster[edge] - vector[edge]), `${type} ${edge}`).toBeLessThanOrEqual(printGeometry(spec).trimWidthPx / 100);
      // Half of 0.5 x the inner area: a quarter of the inner side.
      expect((raster.right - raster.left + 1) / printGeometry(spec).trimWidthPx).toBeCloseTo((0.5 * 0.5 * 520) / 600, 2);
    }
  }, 120_000);

  it('without options.loadImage a design with an image fails with PRINT_IMAGE_MISSING naming design_data.image', async () => {
    const error = await renderPrintFiles(withImage('poster', {}), DEFAULT_PRINT_SPECS.poster, { title: 'no-loader' }).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'PRINT_IMAGE_MISSING', field: 'design_data.image' });
    expect((error as Error).message).toMatch(/pass a loader/);
  });

  it('an image that cannot be decoded fails with INVALID_IMAGE naming design_data.image; the loader\'s own failure comes through as it was', async () => {
    const error = await renderPrintFiles(withImage('poster', {}), DEFAULT_PRINT_SPECS.poster, { title: 'bad', loadImage: () => Promise.resolve(Buffer.from('not an image')) }).then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'INVALID_IMAGE', field: 'design_data.image' });
    const gone = new Error('storage is down');
    await expect(renderPrintFiles(withImage('poster', {}), DEFAULT_PRINT_SPECS.poster, { title: 'gone', loadImage: () => Promise.reject(gone) })).rejects.toBe(gone);
  });
});

describe('text in both directions, in fallback faces, with blank lines', () => {
  // print.pdf used to draw runs in the order typed, and pdf-lib shaped each run again in the
  // direction of its first letter's script: "עולם TEXT" in Open Sans (which has both scripts)
  // was printed "TXET" right of the Hebrew word, and "(1)" as ")1(". And the files of the
  // texts from "עולם, תודה naïve:" down were refused (TEXT_RENDER_FAILED: print.png's text did
  // not match the print layout): the layout's line boxes, baselines and ink box were not Pango's.
  it.each([
    ['עולם TEXT', 'OpenSans-Bold', 'mug'],
    ['שלום (1) world, 2026!', 'OpenSans-Bold', 'mug'],
    ['Hello עולם (2) world', 'OpenSans-Bold', 'poster'],
    ['مرحبا TEXT', 'Roboto-Bold', 'mug'],
    // A line only in Noto Sans Hebrew is as tall as that face's line, not the design font's.
    ['עולם, תודה naïve:', 'Oswald-Bold', 't-shirt'],
    ['עולם עולם naïve بالعالم', 'Pacifico-Regular', 't-shirt'],
    // A space after Arabic and before an emoji, at another bidi level: not in the emoji's face.
    // And Noto Emoji, a regular face, drawn emboldened in a Bold design, as Pango draws it.
    ['façade, 🎉! תודה! بالعالم 🎉 Custom', 'Oswald-Bold', 't-shirt'],
    // A line that starts with ideographs: Pango aligns the Latin run on their ideographic
    // baseline, 57 px higher at 300 px in Pacifico (the files were refused, the lines taller).
    ['中文 aaaaa', 'Pacifico-Regular', 'mug'],
    ['こんにちは Hello', 'Oswald-Bold', 'poster'],
    // Spaces after an emoji and between two are in the text's face, not Noto Emoji's (1.27 em):
    // "Anna 🎉 " stood 100 px left of print.png's at 200 px.
    ['Happy birthday\nAnna 🎉 ', 'Roboto-Bold', 'mug'],
    ['🎉 🎉 🎉', 'Roboto-Bold', 'poster'],
    // "ắ", which Bebas Neue has not, is drawn by Pango from its "ă" and combining acute, and GPOS
    // stacks the acute over the breve (the files were refused; print.pdf dropped the lift).
    ['Bắc Ninh ắ\nViệt Nam', 'Bebas-Bold', 'mug'],
    // Lines with nothing to draw at the end and at the start count in the ink box as Pango counts them.
    ['Hello\n', 'Montserrat-Bold', 'mug'],
    ['\nבוקר טוב 2026', 'Roboto-Bold', 'poster'],
  ] as const)('%j in %s on a %s: made, and Ghostscript\'s render of print.pdf draws every line as print.png does, word for word', async (text, font, type) => {
    const spec: PrintSpec = { ...DEFAULT_PRINT_SPECS[type], dpi: 100, printBackground: true };
    const files = await renderPrintFiles(design(type, text, font), spec, { title: 'bidi' });
    const name = path.join(dir, `mixed-${type}-${font}-${text.length}`);
    await writeFile(`${name}.pdf`, files.pdf!);
    const gs = await run('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-dPDFSTOPONWARNING', `-r${spec.dpi}`, '-dTextAlphaBits=4', '-dGraphicsAlphaBits=4', '-sDEVICE=png16m', `-sOutputFile=${name}-gs.png`, `${name}.pdf`]);
    expect(gs.stdout + gs.stderr).toBe('');
    const png = await inkMask(files.png!, BACKGROUND);
    const pdf = await inkMask(`${name}-gs.png`, BACKGROUND);
    // The same bands of ink (a line each, or two where a diaeresis stands apart) in both, in the same places.
    expect(inkBands(pdf)).toHaveLength(inkBands(png).length);
    // Pango rounds each glyph's advance to a pixel, print.pdf does not: a few px on a long line.
    expect(lineEdgesApart(png, pdf), 'px between a line of print.png and of print.pdf').toBeLessThanOrEqual(Math.max(2, 0.005 * png.width));
    const shares = lineDifferences(png, pdf);
    // Two renderers draw a glyph's edges a pixel apart: 0.4-2 % of a line's pixels, 5.4 % for
    // the line with an emboldened emoji (the stroke's corners are not FreeType's). A word on the
    // other side, brackets turned or the emoji not emboldened: 9-46 %.
    for (const [i, share] of shares.entries()) expect(share, `line ${i + 1}: ${shares.map((s) => s.toFixed(3)).join(', ')}`).toBeLessThan(0.07);
  });
});
