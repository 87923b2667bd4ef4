/**
 * Print files benchmark (issue #12), one core (both pinned to CPU 0 with taskset), medians of
 * RUNS alternating runs:
 * - print.png for a t-shirt (3600x4800 RGBA, transparent) against Pillow drawing the same
 *   lines in the same font and size and saving a PNG (bench/pillow_print.py), in the same run;
 *   target: at least 2x Pillow's files per second.
 * - print.pdf for a one-line design: time per file and size; target: under 50 ms and 100 KB.
 * - peak RSS growth of one process making 20 print sets (print.png and print.pdf) with the
 *   defaults, RUNS times (a fresh process each; the spread is reported); target: 250 MB.
 *   Also, for information, 20 sets of a design with a photo behind its text (twice at most:
 *   a minute or two each).
 *   npx tsx bench/print.bench.ts [--runs 5] [--n 5]
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { BenchReport } from './lib/report.js';
import { loadAverages } from './lib/machine.js';
import { fixed, median, table } from './lib/stats.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';

interface FlowResult { n: number; seconds: number; bytes: number; cpu_seconds?: number; peak_rss_growth_mb?: number }

async function json<T>(argv: string[]): Promise<T> {
  const pinned = ['taskset', '-c', '0', ...argv];
  const { stdout } = await run(pinned[0]!, pinned.slice(1), { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

const ours = (args: string[]) => json<FlowResult>([process.execPath, '--import', 'tsx', path.join(here, 'print-flow.ts'), ...args]);

export async function runPrintBench(options: { runs?: number; n?: number } = {}): Promise<BenchReport> {
  const runs = options.runs ?? 5;
  const n = options.n ?? 5;
  const layout = await json<{ lines: string; size: number; font: string }>([process.execPath, '--import', 'tsx', path.join(here, 'print-flow.ts'), '--describe']);
  const pillowArgs = [PYTHON, path.join(here, 'pillow_print.py'), '--n', String(n), '--font', layout.font, '--size', String(layout.size), '--lines', layout.lines];
  const png: number[] = [];
  const pillow: number[] = [];
  const pdfMs: number[] = [];
  const pdfCpuMs: number[] = [];
  let pngBytes = 0;
  let pillowBytes = 0;
  let pdfBytes = 0;
  for (let r = 0; r < runs; r++) {
    const p = await json<FlowResult>(pillowArgs);
    const o = await ours(['--n', String(n)]);
    const d = await ours(['--kind', 'pdf', '--n', String(n * 10), '--text', 'Custom Print Text']);
    pillow.push(p.n / p.seconds);
    png.push(o.n / o.seconds);
    pdfMs.push((d.seconds * 1000) / d.n);
    pdfCpuMs.push(((d.cpu_seconds ?? d.seconds) * 1000) / d.n);
    pillowBytes = p.bytes;
    pngBytes = o.bytes;
    pdfBytes = d.bytes;
  }
  const ratio = median(png) / median(pillow);
  const textSets: number[] = [];
  const photoSets: number[] = [];
  let setSeconds = 0;
  for (let r = 0; r < runs; r++) {
    const sets = await ours(['--kind', 'set', '--n', '20']);
    textSets.push(sets.peak_rss_growth_mb ?? Number.NaN);
    setSeconds = sets.seconds;
    if (r < 2) photoSets.push((await ours(['--kind', 'set', '--n', '20', '--image'])).peak_rss_growth_mb ?? Number.NaN);
  }
  const rss = median(textSets);
  const spread = (values: number[]) => `${fixed(Math.min(...values), 0)}-${fixed(Math.max(...values), 0)}`;
  const markdown = [
    `### Print files, one core (${runs} runs, medians; ${n} PNGs and ${n * 10} PDFs per run; text ${JSON.stringify(layout.lines)} at ${layout.size} px)`,
    '',
    table(
      ['flow', 'files/s', 'ms per file', 'bytes'],
      [
        ['Pillow: 3600x4800 RGBA, draw text, save PNG', fixed(median(pillow)), fixed(1000 / median(pillow), 0), pillowBytes],
        ['ours: t-shirt print.png (layout, Pango, paint, PNG + pHYs)', fixed(median(png)), fixed(1000 / median(png), 0), pngBytes],
        ['ours: one-line print.pdf (layout, subset font, output intent)', fixed(1000 / median(pdfMs)), `${fixed(median(pdfMs), 1)} (CPU ${fixed(median(pdfCpuMs), 1)})`, pdfBytes],
      ],
    ),
    '',
    `20 print sets (t-shirt print.png and print.pdf) in one process, ${runs} processes: peak RSS growth median ${fixed(rss, 0)} MB (${spread(textSets)}), ${fixed(setSeconds, 1)} s the last. ` +
      `With a photo behind the text (2400x3200 JPEG, composited at 3600x4800): median ${fixed(median(photoSets), 0)} MB (${spread(photoSets)}).`,
    '',
    `print.png is ${fixed(ratio)}x Pillow's speed on one core. print.pdf: ${fixed(median(pdfMs), 1)} ms wall, ${fixed(median(pdfCpuMs), 1)} ms CPU per file (load average now ${loadAverages()}).`,
  ].join('\n');
  return {
    markdown,
    targets: [
      { benchmark: 'print.png vs Pillow, per core', target: '>= 2x', measured: `${fixed(ratio)}x`, met: ratio >= 2 },
      { benchmark: 'print.pdf, one line: time (wall)', target: '< 50 ms', measured: `${fixed(median(pdfMs), 1)} ms (CPU ${fixed(median(pdfCpuMs), 1)} ms)`, met: median(pdfMs) < 50 },
      { benchmark: 'peak RSS growth, 20 print sets', target: '<= 250 MB', measured: `${fixed(rss, 0)} MB (median; ${spread(textSets)} over ${runs} runs)`, met: rss <= 250 },
      { benchmark: 'print.pdf, one line: size', target: '< 100 KB', measured: `${(pdfBytes / 1024).toFixed(1)} KB`, met: pdfBytes < 100 * 1024 },
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, n: { type: 'string', default: '5' } } });
  console.log((await runPrintBench({ runs: Number(values.runs), n: Number(values.n) })).markdown);
}
