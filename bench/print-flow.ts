/**
 * Our print flow, the counterpart of bench/pillow_print.py: N t-shirt print.png files (layout,
 * Pango, paint, PNG with pHYs) or N one-line print.pdf files. With --describe, prints the
 * layout (lines, size, font file) for the Pillow baseline to draw. With --image, the design
 * has a photo behind its text (a 2400x3200 JPEG made here, as an upload's normalised original
 * would be), which print.png composites at print size. Prints one JSON line.
 */
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DEFAULT_PRINT_SPECS, designPrintScene, previewText, readPrintImage, renderPrintPdf, renderPrintPng, type PrintImage } from '../src/print/index.js';
import { validateDesignSpec } from '../src/rendering/index.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '5' },
    kind: { type: 'string', default: 'png' },
    text: { type: 'string', default: 'Custom Print Text' },
    describe: { type: 'boolean', default: false },
    image: { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
const UPLOAD = '0b5c4a4e-8a8f-4c1e-9d55-3f7c1c2a9b10';
const spec = (i: number) =>
  validateDesignSpec({
    product_type: 't-shirt',
    design_data: { text: values.text, font: 'Roboto-Bold', color: i % 2 ? '#222222' : '#0055AA', text_color: '#FFD700', ...(values.image ? { image: { upload_id: UPLOAD, placement: { position: 'behind' } } } : {}) },
  });
const printSpec = DEFAULT_PRINT_SPECS['t-shirt'];

/** A photo-like JPEG (gradients and noise, so it neither compresses away nor is pure noise). */
async function photo(): Promise<PrintImage> {
  const width = 2400;
  const height = 3200;
  const pixels = Buffer.alloc(width * height * 3);
  let seed = 1;
  for (let y = 0, o = 0; y < height; y++) {
    for (let x = 0; x < width; x++, o += 3) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const grain = (seed >>> 28) - 8;
      pixels[o] = Math.max(0, Math.min(255, ((x * 255) / width + grain) | 0));
      pixels[o + 1] = Math.max(0, Math.min(255, ((y * 255) / height + grain) | 0));
      pixels[o + 2] = Math.max(0, Math.min(255, 128 + ((((x >> 6) + (y >> 6)) & 1) * 60) + grain));
    }
  }
  return readPrintImage(await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
}
const image = values.image ? await photo() : undefined;
/** The print of design i as renderPrintFiles lays it out: at the size the preview's Pango search chose. */
const printOf = async (i: number) => designPrintScene(spec(i), printSpec, image, { preview: await previewText(spec(i), printSpec) });

if (values.describe) {
  const { layout } = await printOf(0);
  if (!layout) throw new Error('the benchmark design has text');
  console.log(JSON.stringify({ lines: layout.lines.map((line) => line.text).join('\n'), size: layout.fontSize, font: layout.lines[0]!.runs[0]!.face.file }));
} else if (values.kind === 'set') {
  // Peak RSS growth over making N print sets (print.png and print.pdf) with the defaults, as a worker would.
  const baseline = process.memoryUsage().rss;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const print = await printOf(i);
    await Promise.all([renderPrintPng(print), renderPrintPdf(print, { title: `bench-${i}` })]);
  }
  const seconds = (performance.now() - start) / 1000;
  // maxRSS is in KiB.
  const peakGrowth = process.resourceUsage().maxRSS * 1024 - baseline;
  console.log(JSON.stringify({ n, seconds, bytes: 0, peak_rss_growth_mb: peakGrowth / 1024 ** 2 }));
} else {
  const once = async (i: number) => {
    const print = await printOf(i);
    return values.kind === 'pdf' ? renderPrintPdf(print, { title: `bench-${i}` }) : renderPrintPng(print);
  };
  await once(0);
  let bytes = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < n; i++) bytes = (await once(i)).length;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  // CPU time too: on a shared machine the wall clock also counts time spent waiting for the core.
  console.log(JSON.stringify({ n, seconds, cpu_seconds: (cpu.user + cpu.system) / 1e6, bytes }));
}
