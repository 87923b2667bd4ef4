import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { renderBatchCommand, type ProgressStream } from '../../src/cli/render-batch.js';
import { configFrom } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/** `customify render-batch FILE.jsonl --out DIR`: designs of a JSON Lines file rendered locally. */

let dir: string;
beforeEach(async () => {
  dir = await createTempDir('cli-render-batch');
});
afterEach(async () => {
  vi.restoreAllMocks();
  await removeTempDir(dir);
});

// Two sizes in two formats keep the renders cheap and still show "every rendition".
const settings = configFrom({ RENDITIONS: 'thumbnail:200,preview:600', IMAGE_FORMATS: 'png,webp', WATERMARK_TEXT: 'SAMPLE', WATERMARK_MIN_SIZE: '600' });
const FILES = ['preview.png', 'preview.webp', 'thumbnail.png', 'thumbnail.webp'];

const design = (text: string, extra: Record<string, unknown> = {}) => JSON.stringify({ product_type: 'mug', design_data: { text, font: 'Roboto-Bold', color: '#224466' }, ...extra });

/** A captured stderr: what was written, and whether it says it is a terminal. */
function stream(isTTY: boolean): ProgressStream & { text: () => string } {
  const chunks: string[] = [];
  return { isTTY, write: (chunk: string) => chunks.push(chunk), text: () => chunks.join('') };
}

async function run(lines: string[], options: { out?: string; tty?: boolean } = {}): Promise<{ code: number; stdout: string[]; stderr: string; out: string }> {
  const file = path.join(dir, 'designs.jsonl');
  await writeFile(file, lines.join('\n'));
  const out = options.out ?? path.join(dir, 'out');
  const stdout: string[] = [];
  const stderr = stream(options.tty ?? false);
  const code = await renderBatchCommand(settings, file, { out }, (line) => stdout.push(line), stderr);
  return { code, stdout, stderr: stderr.text(), out };
}

describe('customify render-batch', () => {
  it('renders every line into DIR/<line number>/ with every rendition, skips blank lines, exits 0 with a summary', async () => {
    const { code, stdout, out } = await run([design('One'), design('Two', { watermark: true }), '', '   ', design('Two'), '']);
    expect(code).toBe(0);
    expect(stdout).toEqual([`Rendered 3 of 3 designs into ${out}`]);
    expect((await readdir(out)).sort()).toEqual(['1', '2', '5']);
    for (const line of ['1', '2', '5']) {
      expect((await readdir(path.join(out, line))).sort()).toEqual(FILES);
      for (const name of FILES) {
        const meta = await sharp(path.join(out, line, name)).metadata();
        expect(meta).toMatchObject({ format: path.extname(name).slice(1), width: name.startsWith('preview') ? 600 : 200 });
      }
    }
    // The line's own watermark flag, as the API takes it: on the preview (600 >= WATERMARK_MIN_SIZE), not the thumbnail.
    const [marked, plain] = await Promise.all(['2', '5'].map((line) => readFile(path.join(out, line, 'preview.png'))));
    expect(marked!.equals(plain!)).toBe(false);
    const [markedThumb, plainThumb] = await Promise.all(['2', '5'].map((line) => readFile(path.join(out, line, 'thumbnail.png'))));
    expect(markedThumb!.equals(plainThumb!)).toBe(true);
  });

  it('reports each bad line by number and field, writes nothing for it, renders the others and exits 1', async () => {
    const lines = [
      design('Good'),
      '{"product_type": "mug", "design_data": ',
      JSON.stringify({ product_type: 'mug', design_data: { text: 'x', font: 'Roboto-Bold', color: 'red' } }),
      '"just a string"',
      design('Good too'),
      JSON.stringify({ product_type: 'mug', design_data: { font: 'Roboto-Bold', color: '#000000', image: { upload_id: '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b' } } }),
      design('Flag', { watermark: 'yes' }),
    ];
    const { code, stdout, stderr, out } = await run(lines);
    expect(code).toBe(1);
    expect(stdout).toHaveLength(1);
    const summary = stdout[0]!;
    expect(summary).toMatch(new RegExp(`^Rendered 2 of 7 designs into ${out.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(5 failed: line 2: not valid JSON .*\\)$`));
    expect(summary).toContain('; line 3: design_data.color must be a hex colour');
    expect(summary).toContain('; line 4: design must be an object');
    expect(summary).toContain('; line 6: design_data.image: a design with an image needs the service\'s uploads');
    expect(summary).toContain('; line 7: watermark must be true or false');
    // Each failure was also reported as it happened.
    for (const line of [2, 3, 4, 6, 7]) expect(stderr).toMatch(new RegExp(`^line ${line}: `, 'm'));
    expect((await readdir(out)).sort()).toEqual(['1', '5']);
  });

  it('usage errors exit 2 with what to do, and write nothing: a missing file, no --out, a file with no designs, no FILE', async () => {
    const out = path.join(dir, 'out');
    const missing = stream(false);
    expect(await renderBatchCommand(settings, path.join(dir, 'nope.jsonl'), { out }, () => {}, missing)).toBe(2);
    expect(missing.text()).toMatch(/^customify render-batch: cannot read .*nope\.jsonl \(ENOENT.*\): give the path of a JSON Lines file, one design body per line\.\nUsage: customify render-batch FILE\.jsonl --out DIR\n$/);

    const file = path.join(dir, 'designs.jsonl');
    await writeFile(file, `${design('One')}\n`);
    const noOut = stream(false);
    expect(await renderBatchCommand(settings, file, {}, () => {}, noOut)).toBe(2);
    expect(noOut.text()).toMatch(/--out DIR is required: the folder to write each design to/);

    const empty = path.join(dir, 'empty.jsonl');
    await writeFile(empty, '\n  \n');
    const none = stream(false);
    expect(await renderBatchCommand(settings, empty, { out }, () => {}, none)).toBe(2);
    expect(none.text()).toMatch(/has no designs: write one design body per line/);

    const aFile = path.join(dir, 'a-file');
    await writeFile(aFile, '');
    const notFolder = stream(false);
    expect(await renderBatchCommand(settings, file, { out: path.join(aFile, 'out') }, () => {}, notFolder)).toBe(2);
    expect(notFolder.text()).toMatch(/--out .* is not a folder that can be created .*: choose another path/);
    expect(existsSync(out)).toBe(false);

    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await main(['render-batch', '--out', out], () => {})).toBe(2);
    expect(errors).toHaveBeenCalledWith('Missing FILE.\nUsage: customify render-batch FILE.jsonl --out DIR');
  });

  it('stops when a line cannot be written (exit 1 through main), leaving what was there before and no half-written line', async () => {
    const out = path.join(dir, 'out');
    await mkdir(out);
    await writeFile(path.join(out, '2'), 'a file where line 2\'s folder would go');
    const error = await run([design('One'), design('Two'), design('Three')], { out }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'OUT_NOT_WRITABLE', message: expect.stringMatching(/make --out writable or choose another/) as unknown });
    expect((await readdir(out)).sort()).toEqual(['1', '2']);
    expect((await readdir(path.join(out, '1'))).sort()).toEqual(FILES);
    expect(await readFile(path.join(out, '2'), 'utf8')).toBe('a file where line 2\'s folder would go');
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await main(['render-batch', path.join(dir, 'designs.jsonl'), '--out', out], () => {})).toBe(1);
    expect(errors).toHaveBeenCalledWith(expect.stringMatching(/^customify render-batch: Could not write to .*2 .*: make --out writable or choose another\.$/));
  });

  it('shows progress as a line every tenth when stderr is not a terminal', async () => {
    // Lines that fail cost no render; they count as done all the same.
    const lines = [design('Only one rendered'), ...Array.from({ length: 19 }, (_, i) => `{"bad json ${i}"`)];
    const { code, stderr } = await run(lines);
    expect(code).toBe(1);
    const bars = stderr.split('\n').filter((line) => line.startsWith('['));
    expect(bars).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20].map((done) => `[${'='.repeat(done / 2)}${' '.repeat(10 - done / 2)}] ${done}/20`));
    expect(stderr).not.toContain('\r');
  });

  it('redraws one line in place when stderr is a terminal, failures printed above it', async () => {
    const { stderr } = await run([design('One'), '{', design('Three'), design('Four')], { tty: true });
    expect(stderr.startsWith('[          ] 0/4')).toBe(true);
    expect(stderr).toContain('\r[===       ] 1/4');
    // The failure takes the bar's line (cleared), then the bar is drawn below it.
    expect(stderr).toContain('\r\u001b[Kline 2: not valid JSON');
    expect(stderr).toContain('write one design body per line.\n[===       ] 1/4\r[=====     ] 2/4');
    expect(stderr.endsWith('\r[==========] 4/4\n')).toBe(true);
    expect(stderr.split('\n')).toHaveLength(3);
  });

  it('is a command of the customify CLI: its help names FILE, and it exits 1 when a line failed', async () => {
    const help: string[] = [];
    expect(await main(['render-batch', '--help'], (line) => help.push(line))).toBe(0);
    expect(help.join('\n')).toMatch(/^FILE: A JSON Lines file: one design body per line/m);
    const file = path.join(dir, 'designs.jsonl');
    await writeFile(file, `${design('One')}\nnot json\n`);
    const stdout: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await main(['render-batch', file, '--out', path.join(dir, 'out')], (line) => stdout.push(line))).toBe(1);
    expect(stdout).toEqual([expect.stringMatching(/^Rendered 1 of 2 designs into .* \(1 failed: line 2: not valid JSON/)]);
    expect(stderr.mock.calls.map(([chunk]) => String(chunk)).join('')).toContain('line 2: not valid JSON');
  });
});
