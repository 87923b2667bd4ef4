import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderCommand } from '../../src/cli/render.js';
import { configFrom } from '../../src/config.js';
import { ValidationError } from '../../src/errors.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

let dir: string;
beforeEach(async () => {
  dir = await createTempDir('cli-render');
});
afterEach(async () => {
  await removeTempDir(dir);
});

const settings = configFrom({});

async function render(values: Record<string, string | boolean>): Promise<string[]> {
  const lines: string[] = [];
  expect(await renderCommand(settings, values, (line) => lines.push(line))).toBe(0);
  return lines;
}

async function refusal(values: Record<string, string>): Promise<ValidationError> {
  const error = await renderCommand(settings, values, () => {}).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('customify render', () => {
  it('writes a 600x600 preview and a thumbnail within 200x200 to a new folder, and prints both paths', async () => {
    const out = path.join(dir, 'a', 'b');
    const lines = await render({ text: 'Hello\nWorld', font: 'Lobster-Regular', color: '#0A7', 'text-color': '#FFFF00', 'product-type': 'mug', out });
    // The seed's two first, then every other rendition (RENDITIONS x IMAGE_FORMATS, the web set by default).
    expect(lines).toEqual(['preview.png', 'thumbnail.png', 'thumbnail.webp', 'small.png', 'small.webp', 'preview.webp', 'large.png', 'large.webp'].map((name) => path.join(out, name)));
    const preview = await sharp(lines[0]).metadata();
    expect(preview).toMatchObject({ format: 'png', width: 600, height: 600 });
    const thumbnail = await sharp(lines[1]).metadata();
    expect(thumbnail.format).toBe('png');
    expect(thumbnail.width).toBeLessThanOrEqual(200);
    expect(thumbnail.height).toBeLessThanOrEqual(200);
    // The background is the requested colour.
    const { data } = await sharp(lines[0]).extract({ left: 2, top: 2, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
    expect([...data.subarray(0, 3)]).toEqual([0x00, 0xaa, 0x77]);
  });

  it('writes every rendition RENDITIONS and IMAGE_FORMATS ask for, the seed\'s two first; --watermark marks the large ones only', async () => {
    const web = configFrom({ RENDITIONS: 'thumbnail:200,small:400,preview:600,large:1200', IMAGE_FORMATS: 'png,webp', WATERMARK_TEXT: 'SAMPLE', WATERMARK_MIN_SIZE: '400' });
    const lines: string[] = [];
    const out = path.join(dir, 'web');
    expect(await renderCommand(web, { text: 'Web', out }, (line) => lines.push(line))).toBe(0);
    expect(lines.map((line) => path.basename(line))).toEqual(['preview.png', 'thumbnail.png', 'thumbnail.webp', 'small.png', 'small.webp', 'preview.webp', 'large.png', 'large.webp']);
    for (const line of lines) {
      const meta = await sharp(line).metadata();
      expect(meta.format).toBe(path.extname(line).slice(1));
      expect(meta.width).toBe({ thumbnail: 200, small: 400, preview: 600, large: 1200 }[path.basename(line).split('.')[0]!]);
    }
    const marked = path.join(dir, 'marked');
    expect(await renderCommand(web, { text: 'Web', out: marked, watermark: true }, () => {})).toBe(0);
    const same = async (name: string) => (await sharp(path.join(out, name)).raw().toBuffer()).equals(await sharp(path.join(marked, name)).raw().toBuffer());
    expect(await same('thumbnail.png')).toBe(true);
    expect(await same('preview.png')).toBe(false);
    expect(await same('large.png')).toBe(false);
  });

  it('--watermark without WATERMARK_TEXT or WATERMARK_IMAGE says what to set, writing nothing', async () => {
    const out = path.join(dir, 'nowm');
    const error = await renderCommand(settings, { text: 'Hi', out, watermark: true }, () => {}).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'WATERMARK_NOT_CONFIGURED', field: 'watermark' });
    expect(existsSync(out)).toBe(false);
  });

  it('renders text that hardly shows on its background, with a LOW_CONTRAST warning naming --text-color', async () => {
    const out = path.join(dir, 'low');
    const warnings: string[] = [];
    expect(await renderCommand(settings, { text: 'Hi', color: '#FF0000', 'text-color': '#f00', out }, () => {}, (line) => warnings.push(line))).toBe(0);
    expect(existsSync(path.join(out, 'preview.png'))).toBe(true);
    expect(warnings).toEqual([expect.stringMatching(/^Warning: design_data\.text_color #f00 on design_data\.color #FF0000 .* \(set with --text-color\)$/)]);
    const none: string[] = [];
    await renderCommand(settings, { text: 'Hi', color: '#FF0000', 'text-color': '#FFF', out }, () => {}, (line) => none.push(line));
    expect(none).toEqual([]);
  });

  it('uses the defaults the dispatcher documents when only --text and --out are given', async () => {
    const lines = await render({ text: 'Hi', out: dir });
    expect((await sharp(lines[0]).metadata()).width).toBe(600);
  });

  it('refuses a bad colour naming design_data.color and the option, writing nothing', async () => {
    const out = path.join(dir, 'never');
    const error = await refusal({ text: 'Hi', color: 'red', out });
    expect(error.field).toBe('design_data.color');
    expect(error.message).toMatch(/^design_data\.color must be a hex colour like #FF0000/);
    expect(error.message).toContain('--color');
    expect(existsSync(out)).toBe(false);
  });

  it('refuses an unknown font listing the available ones, a bad text colour, product type or text', async () => {
    expect((await refusal({ text: 'Hi', font: 'Comic-Sans', out: dir })).message).toMatch(/design_data\.font.*Unknown font "Comic-Sans"\. Available fonts: .*Bebas-Bold.*--font/);
    expect((await refusal({ text: 'Hi', 'text-color': '#12345', out: dir })).field).toBe('design_data.text_color');
    expect((await refusal({ text: 'Hi', 'product-type': 'boat', out: dir })).message).toMatch(/--product-type/);
    expect((await refusal({ text: '   ', out: dir })).field).toBe('design_data.text');
    expect((await refusal({ out: dir })).message).toMatch(/--text is required/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('requires --out', async () => {
    const error = await renderCommand(settings, { text: 'Hi' }, () => {}).then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toMatch(/--out DIR is required/);
  });

  it('--print also writes print.png at the product\'s print size and print.pdf titled with --design-id', async () => {
    const out = path.join(dir, 'print');
    const lines: string[] = [];
    const values = { text: 'Hello print', font: 'Roboto-Bold', color: '#222222', 'product-type': 'sticker', out, print: true, 'design-id': 'd-42' };
    expect(await renderCommand(settings, values, (line) => lines.push(line))).toBe(0);
    expect(lines).toEqual([...['preview.png', 'thumbnail.png', 'thumbnail.webp', 'small.png', 'small.webp', 'preview.webp', 'large.png', 'large.webp'], 'print.png', 'print.pdf'].map((name) => path.join(out, name)));
    // A sticker: 4 in plus a 1/8 in bleed each side at 300 DPI, the background printed.
    const printPng = lines.at(-2)!;
    const printPdf = lines.at(-1)!;
    expect(await sharp(printPng).metadata()).toMatchObject({ format: 'png', width: 1275, height: 1275, channels: 3, density: 300 });
    const { stdout } = await promisify(execFile)('pdfinfo', ['-box', printPdf]);
    expect(stdout).toMatch(/^Title:\s+d-42$/m);
    expect(stdout).toMatch(/^TrimBox:\s+9\.00\s+9\.00\s+297\.00\s+297\.00$/m);
    const { stdout: text } = await promisify(execFile)('pdftotext', [printPdf, '-']);
    expect(text.replace(/\f/g, '').trim().split('\n').join(' ')).toBe('Hello print');
  });

  it('--print uses PRINT_SPECS_FILE: a t-shirt made 10x10 in prints 3000x3000 with a transparent background', async () => {
    const specs = path.join(dir, 'specs.json');
    await writeFile(specs, JSON.stringify({ 't-shirt': { width: 10, height: 10 } }));
    const out = path.join(dir, 'custom');
    const lines: string[] = [];
    expect(await renderCommand(configFrom({ PRINT_SPECS_FILE: specs }), { text: 'Tee', out, print: true }, (line) => lines.push(line))).toBe(0);
    expect(await sharp(path.join(out, 'print.png')).metadata()).toMatchObject({ width: 3000, height: 3000, channels: 4, density: 300 });
  });

  it('without --print writes no print files', async () => {
    const out = path.join(dir, 'plain');
    await render({ text: 'Hi', out });
    expect((await readdir(out)).sort()).toEqual(['preview.png', 'thumbnail.png', 'thumbnail.webp', 'small.png', 'small.webp', 'preview.webp', 'large.png', 'large.webp'].sort());
  });
});
