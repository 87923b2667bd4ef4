/**
 * Web renditions benchmark (issue #13): what WebP and AVIF cost and save on the pixels our
 * renderer paints, to choose their quality and effort by measurement.
 *
 * Inputs: flat text designs (three: short and multi-word text, three fonts, four colours) and
 * designs with a photo (behind the text, and above it with `cover`), painted by the production
 * renderer at 600 and 1200 (rendered at that size), and 200 / 400 (Lanczos-3 from the 600 pixels).
 * The photo is made here (multi-octave value noise, hard-edged shapes and grain, JPEG q90:
 * photo-like spectrum without shipping a photo), or the JPEG given with --photo.
 *
 * Encoders, each timed from the raw pixels already painted, on one libvips thread
 * (sharp.concurrency(1)), one encode at a time; CPU ms of the process (process.cpuUsage), median
 * of the repeats, the configurations interleaved so machine noise hits all alike:
 * - ours: encodeScene, the production PNG (the flat fast path for text; sharp for a photo,
 *   painting included), the baseline (1.00x); at 200 / 400 sharp's PNG level 6 (makeThumbnail's);
 * - sharp's PNG level 6 of the same pixels; WebP lossy quality x effort (and smartSubsample);
 *   WebP lossless / nearLossless (text only); AVIF quality x effort.
 * PSNR (RGB, against the painted pixels) says what the bytes cost in fidelity.
 *
 * Then the default set (RENDITIONS thumbnail 200, small 400, preview 600, large 1200;
 * IMAGE_FORMATS png,webp) at the recommended WebP settings, against the seed's set (renderDesignAssets)
 * and the seed's Pillow flow (bench/pillow_flow.py), render + encode + store, in the same run.
 *   npx tsx bench/renditions.bench.ts [--repeats 5] [--photo some.jpg] [--designs 40]
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import sharp, { type AvifOptions, type WebpOptions } from 'sharp';
import { silentLogger } from '../src/logger.js';
import { designScene, encodeScene, prepareScene, renderDesignAssets, validateDesignSpec, type DesignSpec, type PreparedScene, type RawImage } from '../src/rendering/index.js';
import { isFlat, paintCanvas } from '../src/rendering/scene-renderer.js';
import { sceneThumbnail } from '../src/rendering/thumbnail.js';
import { ObjectStorage } from '../src/storage/index.js';
import { LocalDriver } from '../src/storage/local.driver.js';
import { describeMachine, loadAverages } from './lib/machine.js';
import { isEntryPoint, type BenchReport, type TargetCheck } from './lib/report.js';
import { fixed, median, table } from './lib/stats.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';
const PHOTO_ID = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';

/**
 * The defaults this benchmark argues for (BENCHMARKS.md, "Web renditions"): lossless WebP for a
 * flat scene (text on a colour: it finds the palette from effort 1 and is smaller than our
 * palette PNG), lossy WebP for anything with an image.
 */
export const RECOMMENDED_WEBP: WebpOptions = { quality: 80, effort: 2 };
export const RECOMMENDED_WEBP_FLAT: WebpOptions = { lossless: true, effort: 1 };
export const RECOMMENDED_AVIF: AvifOptions = { quality: 50, effort: 0 };

type Kind = 'text' | 'photo';
interface Input { kind: Kind; label: string; spec: DesignSpec }

const TEXT_DESIGNS: Input[] = [
  { kind: 'text', label: 'Hello World, Roboto-Bold, white on red t-shirt', spec: spec('t-shirt', { text: 'Hello World', font: 'Roboto-Bold', color: '#FF0000', text_color: '#FFFFFF' }) },
  { kind: 'text', label: 'multi-word, Pacifico, yellow on navy mug', spec: spec('mug', { text: 'Best Dad in the Whole Wide World since 1985', font: 'Pacifico-Regular', color: '#0B1F4B', text_color: '#FFD700' }) },
  { kind: 'text', label: 'two lines, Oswald-Bold, black on white poster', spec: spec('poster', { text: 'Keep Calm\nand Carry On', font: 'Oswald-Bold', color: '#FFFFFF' }) },
];
const PHOTO_DESIGNS: Input[] = [
  { kind: 'photo', label: 'photo behind text (t-shirt)', spec: spec('t-shirt', { text: 'Summer 2026', font: 'Montserrat-Bold', color: '#222222', text_color: '#FFD700', image: { upload_id: PHOTO_ID, placement: { position: 'behind' } } }) },
  { kind: 'photo', label: 'photo above text, cover (poster)', spec: spec('poster', { text: 'Family Trip', font: 'Roboto-Bold', color: '#FFFFFF', image: { upload_id: PHOTO_ID, placement: { position: 'above', size: 0.7, fit: 'cover' } } }) },
];

function spec(productType: string, designData: Record<string, unknown>): DesignSpec {
  return validateDesignSpec({ product_type: productType, design_data: designData });
}

/**
 * A photo-like JPEG, 1600 x 1200: value noise summed over octaves (amplitude halving as the
 * detail doubles, roughly a photo's 1/f spectrum), a few hard-edged shapes (edges that ring
 * in lossy codecs) and fine grain, saved as an upload's normalised original (JPEG q90).
 */
export async function syntheticPhoto(): Promise<Buffer> {
  const width = 1600;
  const height = 1200;
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
  const sum = new Float32Array(width * height * 3);
  let amplitude = 1;
  for (const cells of [3, 6, 12, 24, 48, 96, 192, 384]) {
    const w = Math.ceil((cells * width) / height);
    const small = Buffer.alloc(w * cells * 3);
    for (let i = 0; i < small.length; i++) small[i] = Math.floor(random() * 256);
    const big = await sharp(small, { raw: { width: w, height: cells, channels: 3 } }).resize(width, height, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
    for (let i = 0; i < sum.length; i++) sum[i]! += (big[i]! - 128) * amplitude;
    amplitude /= 1.9;
  }
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < sum.length; i++) pixels[i] = Math.max(0, Math.min(255, 128 + sum[i]! * 0.9 + (random() - 0.5) * 10));
  const shapes = Array.from({ length: 14 }, (_, i) => {
    const x = Math.floor(random() * width);
    const y = Math.floor(random() * height);
    const r = 30 + Math.floor(random() * 160);
    const fill = `rgb(${Math.floor(random() * 256)},${Math.floor(random() * 256)},${Math.floor(random() * 256)})`;
    return i % 2 ? `<circle cx="${x}" cy="${y}" r="${r}" fill="${fill}" fill-opacity="0.85"/>` : `<rect x="${x}" y="${y}" width="${r * 2}" height="${r}" fill="${fill}" fill-opacity="0.85" transform="rotate(${Math.floor(random() * 40) - 20} ${x} ${y})"/>`;
  });
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`);
  return sharp(pixels, { raw: { width, height, channels: 3 } }).composite([{ input: svg }]).jpeg({ quality: 90 }).toBuffer();
}

/** One way of encoding raw pixels; `ours` encodes the prepared scene itself (the production PNG). */
interface Encoder {
  name: string;
  group: 'png' | 'webp' | 'webp-lossless' | 'avif';
  /** Only for these inputs (lossless WebP is tried on flat text only). */
  only?: Kind;
  encode: (job: Job) => Promise<Buffer>;
}

/** One image to encode: its pixels, and at a rendered size the prepared scene for our PNG path. */
interface Job { input: Input; size: number; pixels: RawImage; scene?: PreparedScene }

const fromPixels = (pixels: RawImage) => sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: pixels.channels } });

function encoders(full: boolean): Encoder[] {
  const list: Encoder[] = [
    { name: 'ours: PNG (encodeScene)', group: 'png', encode: (j) => (j.scene ? encodeScene(j.scene) : fromPixels(j.pixels).png({ compressionLevel: 6 }).toBuffer()) },
    { name: 'sharp PNG level 6', group: 'png', encode: (j) => fromPixels(j.pixels).png({ compressionLevel: 6 }).toBuffer() },
  ];
  const webp = (options: WebpOptions, name: string, group: Encoder['group'] = 'webp', only?: Kind) => list.push({ name, group, ...(only ? { only } : {}), encode: (j) => fromPixels(j.pixels).webp(options).toBuffer() });
  const avif = (options: AvifOptions) => list.push({ name: `AVIF q${options.quality} e${options.effort}`, group: 'avif', encode: (j) => fromPixels(j.pixels).avif(options).toBuffer() });
  const qualities = full ? [60, 75, 80, 90] : [75, 80];
  const efforts = full ? [0, 1, 2, 4] : [0, 2, 4];
  for (const quality of qualities) for (const effort of efforts) webp({ quality, effort }, `WebP q${quality} e${effort}`);
  if (full) for (const effort of [0, 4]) webp({ quality: 80, effort, smartSubsample: true }, `WebP q80 e${effort} smartSubsample`);
  for (const effort of full ? [0, 1, 2] : [0, 1]) webp({ lossless: true, effort }, `WebP lossless e${effort}`, 'webp-lossless', 'text');
  if (full) for (const effort of [0, 2]) webp({ nearLossless: true, quality: 60, effort }, `WebP nearLossless q60 e${effort}`, 'webp-lossless', 'text');
  for (const quality of full ? [40, 50, 60] : [50]) for (const effort of full ? [0, 2, 4] : [0, 2]) avif({ quality, effort });
  return list;
}

/** PSNR (dB) of `encoded` against `pixels` over the RGB channels; Infinity when identical. */
async function psnr(encoded: Buffer, pixels: RawImage): Promise<number> {
  const decoded = await sharp(encoded).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const a = pixels.data;
  const b = decoded.data;
  const channels = pixels.channels;
  let sum = 0;
  let count = 0;
  for (let p = 0, q = 0; p < a.length; p += channels, q += decoded.info.channels) {
    for (let c = 0; c < 3; c++) {
      const d = a[p + c]! - b[q + c]!;
      sum += d * d;
    }
    count += 3;
  }
  return sum === 0 ? Infinity : 10 * Math.log10((255 * 255) / (sum / count));
}

function describeWebp(options: WebpOptions): string {
  return options.lossless ? `lossless e${options.effort}` : `q${options.quality} e${options.effort}`;
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** CPU ms of `work`, run alone. */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = cpuMs();
  const value = await work();
  return { ms: cpuMs() - start, value };
}

async function prepare(input: Input, size: number, photo: Buffer): Promise<PreparedScene> {
  return prepareScene(designScene(input.spec, size, input.kind === 'photo' ? photo : undefined));
}

async function lanczos(pixels: RawImage, size: number): Promise<RawImage> {
  const { data, info } = await fromPixels(pixels).resize(size, size, { fit: 'inside', kernel: 'lanczos3' }).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

interface Cell { ms: number[]; bytes: number; psnr: number; minPsnr: number }

/** The encoder matrix for one rendition size: per (kind, encoder), CPU ms and bytes summed over the kind's designs. */
async function matrix(jobs: Job[], list: Encoder[], repeats: number): Promise<Map<string, Cell>> {
  const cells = new Map<string, Cell>();
  const key = (kind: Kind, name: string) => `${kind}|${name}`;
  for (const kind of ['text', 'photo'] as const) {
    for (const encoder of list) {
      if (encoder.only && encoder.only !== kind) continue;
      let bytes = 0;
      const scores: number[] = [];
      for (const job of jobs.filter((j) => j.input.kind === kind)) {
        const out = await encoder.encode(job);
        bytes += out.length;
        scores.push(await psnr(out, job.pixels));
      }
      const finite = scores.map((s) => Math.min(s, 99));
      cells.set(key(kind, encoder.name), { ms: [], bytes, psnr: finite.reduce((a, b) => a + b, 0) / finite.length, minPsnr: Math.min(...scores) });
    }
  }
  for (let r = 0; r < repeats; r++) {
    for (const encoder of list) {
      for (const kind of ['text', 'photo'] as const) {
        const cell = cells.get(key(kind, encoder.name));
        if (!cell) continue;
        let ms = 0;
        for (const job of jobs.filter((j) => j.input.kind === kind)) ms += (await timed(() => encoder.encode(job))).ms;
        cell.ms.push(ms);
      }
    }
  }
  return cells;
}

function matrixTable(size: number, cells: Map<string, Cell>, list: Encoder[], counts: Record<Kind, number>): string {
  const rows: Array<Array<string | number>> = [];
  for (const kind of ['text', 'photo'] as const) {
    const base = cells.get(`${kind}|${list[0]!.name}`)!;
    for (const encoder of list) {
      const cell = cells.get(`${kind}|${encoder.name}`);
      if (!cell) continue;
      const ms = median(cell.ms) / counts[kind];
      const quality = cell.minPsnr === Infinity ? 'lossless' : `${fixed(cell.psnr, 1)} (min ${fixed(cell.minPsnr, 1)})`;
      rows.push([`${kind} x${counts[kind]}`, encoder.name, fixed(ms, 2), `${fixed(median(cell.ms) / median(base.ms))}x`, Math.round(cell.bytes / counts[kind]), `${fixed((100 * cell.bytes) / base.bytes, 1)} %`, quality]);
    }
  }
  return [`#### ${size} px`, '', table(['designs', 'encoder', 'CPU ms / image', 'time vs ours PNG', 'bytes / image', 'bytes vs ours PNG', 'PSNR dB (mean, min)'], rows), ''].join('\n');
}

/** CPU ms per step of the default set, summed over the designs of a flow (see renditionSet). */
type Steps = Map<string, number>;

/**
 * The files of one design's rendition set, in the production order of work (one thread, no
 * overlap): the seed's (renderDesignAssets), or the default set, whose steps' CPU ms go to `steps`.
 */
async function renditionSet(input: Input, photo: Buffer, withDefaults: boolean, steps?: Steps): Promise<Array<{ name: string; body: Buffer; type: string }>> {
  const image = input.kind === 'photo' ? photo : undefined;
  if (!withDefaults) {
    const { preview, thumbnail } = await renderDesignAssets(input.spec, {}, image);
    return [{ name: 'preview.png', body: preview, type: 'image/png' }, { name: 'thumbnail.png', body: thumbnail, type: 'image/png' }];
  }
  const step = async <T>(name: string, work: () => Promise<T> | T): Promise<T> => {
    const start = cpuMs();
    const value = await work();
    steps?.set(name, (steps.get(name) ?? 0) + cpuMs() - start);
    return value;
  };
  const files: Array<{ name: string; body: Buffer; type: string }> = [];
  const add = (name: string, body: Buffer) => files.push({ name, body, type: name.endsWith('.png') ? 'image/png' : 'image/webp' });
  const scene600 = await step('600: lay out (Pango, photo fit)', () => prepare(input, 600, photo));
  const webp = (pixels: RawImage) => fromPixels(pixels).webp(isFlat(scene600) ? RECOMMENDED_WEBP_FLAT : RECOMMENDED_WEBP).toBuffer();
  add('preview.png', await step('600: png (seed)', () => encodeScene(scene600)));
  add('thumbnail.png', await step('200: png (seed)', () => sceneThumbnail(scene600)));
  const pixels600 = await step('600: paint canvas', () => paintCanvas(scene600));
  add('preview.webp', await step('600: webp', () => webp(pixels600)));
  const pixels400 = await step('400: Lanczos from 600', () => lanczos(pixels600, 400));
  add('small.png', await step('400: png', () => fromPixels(pixels400).png({ compressionLevel: 6 }).toBuffer()));
  add('small.webp', await step('400: webp', () => webp(pixels400)));
  const pixels200 = await step('200: Lanczos from 600', () => lanczos(pixels600, 200));
  add('thumbnail.webp', await step('200: webp', () => webp(pixels200)));
  const scene1200 = await step('1200: lay out', () => prepare(input, 1200, photo));
  add('large.png', await step('1200: png', () => encodeScene(scene1200)));
  const pixels1200 = await step('1200: paint canvas', () => paintCanvas(scene1200));
  add('large.webp', await step('1200: webp', () => webp(pixels1200)));
  return files;
}

/** The render flow's designs (bench/render-flow.ts): what bench/pillow_flow.py draws too. */
const RENDER_FLOW_COLORS = ['#FF0000', '#0055AA', '#FFFFFF', '#222222', '#33CC66'];
const renderFlowDesign = (i: number): Input => ({ kind: 'text', label: 'render flow', spec: spec('t-shirt', { text: `Custom Text ${i}`, font: 'Roboto-Bold', color: RENDER_FLOW_COLORS[i % RENDER_FLOW_COLORS.length] }) });

/** ms per design (wall, one thread: sharp.concurrency(1), one design at a time), and CPU ms, of `n` designs rendered (and stored). */
async function oursFlow(n: number, withDefaults: boolean, store: boolean, photo: Buffer, design: (i: number) => Input, steps?: Steps): Promise<{ wallMs: number; cpuMs: number; bytes: number }> {
  const root = store ? mkdtempSync(path.join(tmpdir(), 'bench-renditions-')) : undefined;
  const storage = root ? new ObjectStorage(new LocalDriver({ root, publicBaseUrl: 'http://localhost:8000', durable: true }), silentLogger) : undefined;
  try {
    await renditionSet(design(0), photo, withDefaults);
    let bytes = 0;
    const cpu0 = cpuMs();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const files = await renditionSet(design(i), photo, withDefaults, steps);
      bytes += files.reduce((a, f) => a + f.body.length, 0);
      if (storage) {
        const id = randomUUID();
        await Promise.all(files.map((f) => storage.put(`designs/${id}/${f.name}`, f.body, { contentType: f.type })));
      }
    }
    return { wallMs: (performance.now() - t0) / n, cpuMs: (cpuMs() - cpu0) / n, bytes: bytes / n };
  } finally {
    if (root) rmSync(root, { recursive: true, force: true });
  }
}

async function pillowFlow(n: number, store: boolean): Promise<number> {
  const out = store ? mkdtempSync(path.join(tmpdir(), 'bench-renditions-pillow-')) : undefined;
  try {
    const { stdout } = await run(PYTHON, [path.join(here, 'pillow_flow.py'), '--n', String(n), ...(out ? ['--store', out] : [])], { maxBuffer: 1 << 20 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { n: number; seconds: number };
    return (result.seconds * 1000) / result.n;
  } finally {
    if (out) rmSync(out, { recursive: true, force: true });
  }
}

export interface RenditionsBenchOptions {
  /** Timed repeats of every encoder (medians). Default 5. */
  repeats?: number;
  /** Designs per run of the default-set flows. Default 40. */
  designs?: number;
  /** Runs of the default-set flows (medians). Default 5. */
  runs?: number;
  /** Every quality and effort at every size (default), or a short list for a smoke run. */
  full?: boolean;
  /** A JPEG to use as the designs' photo instead of the synthetic one. */
  photo?: string;
}

export async function runRenditionsBench(options: RenditionsBenchOptions = {}): Promise<BenchReport> {
  const repeats = options.repeats ?? 5;
  const designs = options.designs ?? 40;
  const runs = options.runs ?? 5;
  const full = options.full ?? true;
  const previousConcurrency = sharp.concurrency();
  sharp.concurrency(1);
  try {
    const photo = options.photo ? readFileSync(options.photo) : await syntheticPhoto();
    const inputs = [...TEXT_DESIGNS, ...PHOTO_DESIGNS];
    const counts: Record<Kind, number> = { text: TEXT_DESIGNS.length, photo: PHOTO_DESIGNS.length };
    const load = loadAverages();
    const started = new Date().toISOString();

    const jobs600: Job[] = [];
    const jobs1200: Job[] = [];
    for (const input of inputs) {
      const scene600 = await prepare(input, 600, photo);
      jobs600.push({ input, size: 600, pixels: paintCanvas(scene600), scene: scene600 });
      const scene1200 = await prepare(input, 1200, photo);
      jobs1200.push({ input, size: 1200, pixels: paintCanvas(scene1200), scene: scene1200 });
    }
    const resized = async (size: number) => Promise.all(jobs600.map(async (j) => ({ input: j.input, size, pixels: await lanczos(j.pixels, size) })));
    const sections: string[] = [];
    const cells600 = await matrix(jobs600, encoders(full), repeats);
    sections.push(matrixTable(600, cells600, encoders(full), counts));
    const short = encoders(false);
    for (const [size, jobs] of [[1200, jobs1200], [400, await resized(400)], [200, await resized(200)]] as const) {
      sections.push(matrixTable(size, await matrix(jobs, short, repeats), short, counts));
    }

    // The default set against the seed's set and Pillow, alternating, medians of `runs`.
    const flows = { pillow: [] as number[], pillowStore: [] as number[], seed: [] as number[], seedCpu: [] as number[], set: [] as number[], setCpu: [] as number[], seedStore: [] as number[], setStore: [] as number[], photoSeed: [] as number[], photoSet: [] as number[] };
    const stepRuns = { text: new Map<string, number[]>(), photo: new Map<string, number[]>() };
    const collect = (into: Map<string, number[]>, steps: Steps, n: number) => {
      for (const [name, ms] of steps) into.set(name, [...(into.get(name) ?? []), ms / n]);
    };
    const photoDesigns = Math.max(3, Math.round(designs / 8));
    let seedBytes = 0;
    let setBytes = 0;
    for (let r = 0; r < runs; r++) {
      flows.pillow.push(await pillowFlow(designs, false));
      const seed = await oursFlow(designs, false, false, photo, renderFlowDesign);
      const textSteps: Steps = new Map();
      const set = await oursFlow(designs, true, false, photo, renderFlowDesign, textSteps);
      collect(stepRuns.text, textSteps, designs);
      flows.pillowStore.push(await pillowFlow(designs, true));
      const seedStore = await oursFlow(designs, false, true, photo, renderFlowDesign);
      const setStore = await oursFlow(designs, true, true, photo, renderFlowDesign);
      const photoDesign = () => PHOTO_DESIGNS[0]!;
      const photoSeed = await oursFlow(photoDesigns, false, false, photo, photoDesign);
      const photoSteps: Steps = new Map();
      const photoSet = await oursFlow(photoDesigns, true, false, photo, photoDesign, photoSteps);
      collect(stepRuns.photo, photoSteps, photoDesigns);
      flows.seed.push(seed.wallMs);
      flows.seedCpu.push(seed.cpuMs);
      flows.set.push(set.wallMs);
      flows.setCpu.push(set.cpuMs);
      flows.seedStore.push(seedStore.wallMs);
      flows.setStore.push(setStore.wallMs);
      flows.photoSeed.push(photoSeed.cpuMs);
      flows.photoSet.push(photoSet.cpuMs);
      seedBytes = seed.bytes;
      setBytes = set.bytes;
    }
    const m = (values: number[]) => median(values);
    const flowRows = [
      ['Pillow (seed): preview + thumbnail PNG', fixed(m(flows.pillow)), '', fixed(m(flows.pillowStore)), '1.00x', '1.00x'],
      ['ours, seed set: preview + thumbnail PNG', fixed(m(flows.seed)), fixed(m(flows.seedCpu)), fixed(m(flows.seedStore)), `${fixed(m(flows.pillow) / m(flows.seed))}x`, `${fixed(m(flows.pillowStore) / m(flows.seedStore))}x`],
      ['ours, default set: png 200/400/600/1200 + webp 200/400/600/1200', fixed(m(flows.set)), fixed(m(flows.setCpu)), fixed(m(flows.setStore)), `${fixed(m(flows.pillow) / m(flows.set))}x`, `${fixed(m(flows.pillowStore) / m(flows.setStore))}x`],
    ];

    const stepRows = [...stepRuns.text.keys()].map((name) => [name, fixed(m(stepRuns.text.get(name)!)), fixed(m(stepRuns.photo.get(name) ?? []))]);
    const stepTotal = (kind: 'text' | 'photo') => [...stepRuns[kind].values()].reduce((a, v) => a + m(v), 0);
    stepRows.push(['total (sum of the steps\' medians)', fixed(stepTotal('text')), fixed(stepTotal('photo'))]);
    const targets: TargetCheck[] = [];
    const photoPreview: string[] = [];
    let worstPhotoRatio = 0;
    for (const d of PHOTO_DESIGNS) {
      const png = jobs600.find((j) => j.input === d)!;
      const pngBytes = (await encodeScene(png.scene!)).length;
      const webpBytes = (await fromPixels(png.pixels).webp(RECOMMENDED_WEBP).toBuffer()).length;
      worstPhotoRatio = Math.max(worstPhotoRatio, webpBytes / pngBytes);
      photoPreview.push(`${d.label}: ${webpBytes} / ${pngBytes} bytes = ${fixed((100 * webpBytes) / pngBytes, 1)} %`);
    }
    const perCore = m(flows.pillowStore) / m(flows.setStore);
    targets.push({ benchmark: 'renditions', target: 'default renditions (png,webp x 4 sizes): render + encode + store per core >= 1.0x Pillow\'s PNG-only flow', measured: `${fixed(perCore)}x`, met: perCore >= 1 });
    targets.push({ benchmark: 'renditions', target: `photo design: WebP preview (${describeWebp(RECOMMENDED_WEBP)}) <= 40 % of the PNG's bytes`, measured: `${fixed(100 * worstPhotoRatio, 1)} % (worst of ${PHOTO_DESIGNS.length})`, met: worstPhotoRatio <= 0.4 });

    const machine = describeMachine();
    const markdown = [
      `### Web renditions: encoder settings (${started}, load average ${load} at start)`,
      '',
      `${machine.cores} cores, ${machine.cpu}; node ${machine.node}; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, libwebp ${sharp.versions.webp ?? '?'}, libaom ${sharp.versions.aom ?? '?'}.`,
      `One libvips thread (sharp.concurrency(1)), one encode at a time, CPU ms of the process (process.cpuUsage), median of ${repeats} repeats; bytes and PSNR per image, averaged over the kind's designs.`,
      `Text designs: ${TEXT_DESIGNS.map((d) => d.label).join('; ')}. Photo designs: ${PHOTO_DESIGNS.map((d) => d.label).join('; ')}; the photo is ${options.photo ? `\`${options.photo}\`` : 'synthetic (multi-octave value noise, shapes, grain; 1600x1200 JPEG q90)'}.`,
      '"ours: PNG" is encodeScene from the prepared scene (painting included: the flat path paints only the text band); every other encoder starts from the painted pixels. 200 and 400 are Lanczos-3 from the 600 pixels; "ours" there is sharp\'s PNG level 6 (what makeThumbnail writes).',
      '',
      ...sections,
      `#### Default set per design (render flow's text designs, ${designs} per run, ${runs} runs, medians; WebP ${describeWebp(RECOMMENDED_WEBP_FLAT)} for flat scenes, ${describeWebp(RECOMMENDED_WEBP)} otherwise)`,
      '',
      table(['flow', 'ms / design', 'CPU ms / design', 'ms / design with store (fsync)', 'speed vs Pillow', 'with store vs Pillow'], flowRows),
      '',
      'CPU ms per step of the default set (the seed\'s two PNGs included), per design: the render flow\'s text designs, and the photo behind text:',
      '',
      table(['step', 'text CPU ms', 'photo CPU ms'], stepRows),
      '',
      `Bytes per design: seed set ${Math.round(seedBytes)}, default set ${Math.round(setBytes)}. Extra CPU of the default set per text design: ${fixed(m(flows.setCpu) - m(flows.seedCpu))} ms (${fixed(m(flows.setCpu) / m(flows.seedCpu))}x the seed set's); per photo design (behind the text): ${fixed(m(flows.photoSet) - m(flows.photoSeed))} ms (${fixed(m(flows.photoSet) / m(flows.photoSeed))}x, seed set ${fixed(m(flows.photoSeed))} ms).`,
      `Photo previews, WebP ${describeWebp(RECOMMENDED_WEBP)} vs our PNG: ${photoPreview.join('; ')}.`,
      '',
    ].join('\n');
    return { markdown, targets };
  } finally {
    sharp.concurrency(previousConcurrency);
  }
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { repeats: { type: 'string', default: '5' }, designs: { type: 'string', default: '40' }, runs: { type: 'string', default: '5' }, quick: { type: 'boolean', default: false }, photo: { type: 'string' } } });
  const report = await runRenditionsBench({ repeats: Number(values.repeats), designs: Number(values.designs), runs: Number(values.runs), full: !values.quick, ...(values.photo ? { photo: values.photo } : {}) });
  console.log(report.markdown);
  console.log(report.targets.map((t) => `- ${t.target}: ${t.measured} (${t.met ? 'met' : 'NOT met'})`).join('\n'));
}
