import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Settings } from '../config.js';
import { parseDesignRequest } from '../designs/design-service.js';
import { AppError, ValidationError, describeError } from '../errors.js';
import { loadWatermark, renderRenditions, type RenderedImage } from '../rendering/index.js';
import { plural } from './format.js';

type Values = Record<string, string | boolean | undefined>;

/** Where progress, failures and usage errors go: stderr, or a test's stand-in. */
export interface ProgressStream {
  write(text: string): unknown;
  /** A terminal gets one line redrawn in place; anything else a line every 10 %. */
  isTTY?: boolean;
}

/** The failures the summary line names; the rest were reported as they happened. */
const SUMMARY_FAILURES = 10;
const BAR_WIDTH = 10;

/** A line that could not be rendered, and why (the field at fault first). */
interface LineFailure {
  line: number;
  reason: string;
}

/**
 * `customify render-batch FILE.jsonl --out DIR`: each non-blank line of FILE is a design body
 * as POST /api/v1/designs takes it (watermark included), checked as the API checks it and
 * rendered locally, with no server, storage or database, into `DIR/<line number>/` with every
 * rendition the settings ask for (RENDITIONS x IMAGE_FORMATS). A line that fails (not JSON, an
 * invalid design, a design with an image, which needs the service's uploads) writes nothing and
 * does not stop the others. Progress goes to `progress` (stderr); the summary line to `print`.
 *
 * Returns 0 when every line was rendered, 1 when any failed, 2 for a usage error (no --out, a
 * FILE that cannot be read or has no designs, a DIR that cannot be created), with a message
 * that says what to do. Throws AppError OUT_NOT_WRITABLE if a line's files cannot be written
 * (its folder is removed first), and what loadWatermark throws for an unusable WATERMARK_IMAGE.
 */
export async function renderBatchCommand(
  settings: Readonly<Settings>,
  file: string,
  values: Values,
  print: (line: string) => void,
  progress: ProgressStream = process.stderr,
): Promise<number> {
  const usageError = (message: string): number => {
    progress.write(`customify render-batch: ${message}\nUsage: customify render-batch FILE.jsonl --out DIR\n`);
    return 2;
  };
  const out = typeof values.out === 'string' && values.out !== '' ? path.resolve(values.out) : undefined;
  if (!out) return usageError('--out DIR is required: the folder to write each design to, as DIR/<line number>/preview.png and its other renditions.');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return usageError(`cannot read ${file} (${describeError(error)}): give the path of a JSON Lines file, one design body per line.`);
  }
  const lines = text.split(/\r?\n/).map((body, i) => ({ line: i + 1, body })).filter(({ body }) => body.trim() !== '');
  if (lines.length === 0) return usageError(`${file} has no designs: write one design body per line, as POST /api/v1/designs takes it.`);
  try {
    await mkdir(out, { recursive: true });
  } catch (error) {
    return usageError(`--out ${out} is not a folder that can be created (${describeError(error)}): choose another path.`);
  }

  // As at the service's start: a watermark file that cannot be used stops the run here.
  const watermark = await loadWatermark(settings);
  const bar = progressBar(progress, lines.length);
  const failures: LineFailure[] = [];
  for (const [done, { line, body }] of lines.entries()) {
    let images: RenderedImage[];
    try {
      const { spec, watermark: flag } = parseDesignRequest(parseLine(body));
      if (spec.design_data.image) {
        throw new AppError('DESIGN_IMAGE_UNAVAILABLE', 'design_data.image: a design with an image needs the service\'s uploads; create it through POST /api/v1/designs instead.', { field: 'design_data.image' });
      }
      // As the API renders it: a watermarked design has none drawn while WATERMARK_TEXT/IMAGE are unset.
      const watermarked = flag ?? settings.watermarkDefault;
      images = await renderRenditions(spec, {
        compressionLevel: settings.pngCompressionLevel, printAreas: settings.printSpecs,
        renditions: settings.renditions, formats: settings.imageFormats, watermark, watermarked,
      });
    } catch (error) {
      const failure = { line, reason: reasonOf(error) };
      failures.push(failure);
      bar.note(`line ${failure.line}: ${failure.reason}`);
      bar.tick(done + 1);
      continue;
    }
    try {
      await writeLine(path.join(out, String(line)), images);
    } catch (error) {
      bar.end();
      throw error;
    }
    bar.tick(done + 1);
  }
  bar.end();

  const rendered = lines.length - failures.length;
  const named = failures.slice(0, SUMMARY_FAILURES).map((f) => `line ${f.line}: ${f.reason.replace(/\.$/, '')}`);
  if (failures.length > SUMMARY_FAILURES) named.push(`and ${failures.length - SUMMARY_FAILURES} more (listed above)`);
  print(`Rendered ${rendered} of ${plural(lines.length, 'design')} into ${out}${failures.length > 0 ? ` (${failures.length} failed: ${named.join('; ')})` : ''}`);
  return failures.length > 0 ? 1 : 0;
}

function parseLine(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (error) {
    throw new ValidationError('INVALID_JSON', `not valid JSON (${describeError(error)}): write one design body per line.`, 'line');
  }
}

/** The error's message, led by the field it names (`design_data.color must be ...`). */
function reasonOf(error: unknown): string {
  if (!(error instanceof AppError)) return describeError(error);
  const field = error.field;
  if (!field || field === 'line' || error.message.startsWith(field)) return error.message;
  return `${field}: ${error.message}`;
}

/**
 * Every file of one line into `dir`, or none of them: a failed write removes what this call
 * wrote (the folder too if it made it), and nothing that was there before.
 */
async function writeLine(dir: string, images: readonly RenderedImage[]): Promise<void> {
  let made: string | undefined;
  const written: string[] = [];
  try {
    made = await mkdir(dir, { recursive: true });
    for (const image of images) {
      const file = path.join(dir, `${image.name}.${image.format}`);
      written.push(file);
      await writeFile(file, image.data);
    }
  } catch (error) {
    await Promise.all(made ? [rm(made, { recursive: true, force: true })] : written.map((file) => rm(file, { force: true }))).catch(() => undefined);
    throw new AppError('OUT_NOT_WRITABLE', `Could not write to ${dir} (${describeError(error)}): make --out writable or choose another.`, { field: 'out', cause: error });
  }
}

/**
 * `[=====     ] 12/40`: redrawn in place on a terminal; elsewhere (a log, CI) a line each
 * time another tenth is done, so a log gets about ten lines whatever the file's length.
 */
function progressBar(stream: ProgressStream, total: number): { tick(done: number): void; note(line: string): void; end(): void } {
  const draw = (done: number) => {
    const filled = Math.round((done / total) * BAR_WIDTH);
    return `[${'='.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}] ${done}/${total}`;
  };
  const tty = stream.isTTY === true;
  let shown = 0;
  let tenth = 0;
  let drawn = false;
  if (tty) {
    stream.write(draw(0));
    drawn = true;
  }
  return {
    tick(done) {
      shown = done;
      if (tty) {
        stream.write(`\r${draw(done)}`);
        return;
      }
      const now = Math.floor((done / total) * 10);
      if (now > tenth || done === total) {
        tenth = now;
        stream.write(`${draw(done)}\n`);
      }
    },
    note(line) {
      // On a terminal the note takes the bar's line, and the bar is drawn again below it.
      stream.write(tty ? `\r\x1b[K${line}\n${draw(shown)}` : `${line}\n`);
    },
    end() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
