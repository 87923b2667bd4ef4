import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_PRINT_SPECS, printGeometry } from '../../src/print/index.js';
import { PRODUCT_TYPES } from '../../src/rendering/index.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

let dir: string;
beforeAll(async () => {
  dir = await createTempDir('print-specs');
});
afterAll(async () => {
  await removeTempDir(dir);
});

let fileCount = 0;
/** PRINT_SPECS_FILE holding `content` (a value to write as JSON, or raw text). */
async function specsFile(content: unknown): Promise<string> {
  const file = path.join(dir, `specs-${(fileCount += 1)}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The ConfigError that loading `content` as PRINT_SPECS_FILE throws. */
async function refusal(content: unknown): Promise<ConfigError> {
  const file = await specsFile(content);
  try {
    configFrom({ PRINT_SPECS_FILE: file });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('PRINT_SPECS_FILE');
    expect((error as ConfigError).message).toContain(file);
    return error as ConfigError;
  }
  throw new Error('expected PRINT_SPECS_FILE to be refused');
}

describe('print specs', () => {
  it('the built-in table: apparel transparent at its print area, paper goods with a 1/8 in bleed, 300 DPI, for every product type', () => {
    expect(Object.keys(DEFAULT_PRINT_SPECS).sort()).toEqual([...PRODUCT_TYPES].sort());
    const sizes = Object.fromEntries(
      PRODUCT_TYPES.map((type) => {
        const spec = DEFAULT_PRINT_SPECS[type];
        const { widthPx, heightPx } = printGeometry(spec);
        return [type, { inches: `${spec.width}x${spec.height}`, px: `${widthPx}x${heightPx}`, bleed: spec.bleed, background: spec.printBackground, dpi: spec.dpi }];
      }),
    );
    expect(sizes).toEqual({
      't-shirt': { inches: '12x16', px: '3600x4800', bleed: 0, background: false, dpi: 300 },
      hoodie: { inches: '12x12', px: '3600x3600', bleed: 0, background: false, dpi: 300 },
      'tote-bag': { inches: '14x14', px: '4200x4200', bleed: 0, background: false, dpi: 300 },
      mug: { inches: '9x3.5', px: '2775x1125', bleed: 0.125, background: true, dpi: 300 },
      poster: { inches: '18x24', px: '5475x7275', bleed: 0.125, background: true, dpi: 300 },
      sticker: { inches: '4x4', px: '1275x1275', bleed: 0.125, background: true, dpi: 300 },
    });
  });

  it('without PRINT_SPECS_FILE the settings hold the built-in table, and PRINT_CONCURRENCY is 1', () => {
    const settings = configFrom({});
    expect(settings.printSpecs).toEqual(DEFAULT_PRINT_SPECS);
    expect(settings.printConcurrency).toBe(1);
    expect(configFrom({ PRINT_CONCURRENCY: '3' }).printConcurrency).toBe(3);
  });

  it('PRINT_CONCURRENCY below 1 or not a number stops the process naming it', () => {
    for (const value of ['0', 'two', '-1']) {
      expect(() => configFrom({ PRINT_CONCURRENCY: value })).toThrow(/PRINT_CONCURRENCY must be a whole number from 1 to 64/);
    }
  });

  it('PRINT_SPECS_FILE overrides the fields it names and keeps the rest, in inches or millimetres', async () => {
    const file = await specsFile({ poster: { width: 24, height: 36 }, mug: { width: 230, height: 90, bleed: 3, unit: 'mm' }, hoodie: { print_background: true } });
    const { printSpecs } = configFrom({ PRINT_SPECS_FILE: file });
    expect(printSpecs.poster).toEqual({ ...DEFAULT_PRINT_SPECS.poster, width: 24, height: 36 });
    expect(printGeometry(printSpecs.poster)).toMatchObject({ widthPx: 7275, heightPx: 10875 });
    expect(printGeometry(printSpecs.mug)).toMatchObject({ widthPx: Math.round(((230 + 6) / 25.4) * 300), trimWidthPt: (230 / 25.4) * 72 });
    expect(printSpecs.hoodie.printBackground).toBe(true);
    expect(printSpecs['t-shirt']).toEqual(DEFAULT_PRINT_SPECS['t-shirt']);
  });

  it('an unknown product type is refused, naming the entry and the known types', async () => {
    const error = await refusal({ 'baseball-cap': { width: 4, height: 2 } });
    expect(error.message).toMatch(/entry "baseball-cap" is not a product type \(known: t-shirt, hoodie, mug, poster, tote-bag, sticker\)/);
  });

  it('a field out of range, of the wrong type or unknown is refused, naming the entry and field', async () => {
    expect((await refusal({ poster: { width: -18 } })).message).toMatch(/entry "poster" field "width" /);
    expect((await refusal({ poster: { height: '24in' } })).message).toMatch(/entry "poster" field "height" /);
    expect((await refusal({ sticker: { bleed: -0.1 } })).message).toMatch(/entry "sticker" field "bleed" /);
    expect((await refusal({ mug: { dpi: 299.5 } })).message).toMatch(/entry "mug" field "dpi" /);
    expect((await refusal({ mug: { dpi: 10 } })).message).toMatch(/entry "mug" field "dpi" /);
    expect((await refusal({ mug: { unit: 'cm' } })).message).toMatch(/entry "mug" field "unit" /);
    expect((await refusal({ mug: { files: ['svg'] } })).message).toMatch(/entry "mug" field "files.0" /);
    expect((await refusal({ mug: { files: [] } })).message).toMatch(/entry "mug" field "files" /);
    expect((await refusal({ 't-shirt': { colour: 'red' } })).message).toMatch(/entry "t-shirt" field "colour" is not a known field/);
    expect((await refusal({ poster: 'big' })).message).toMatch(/entry "poster" field "" |entry "poster" /);
  });

  it('changing the unit without giving the lengths in it is refused (lengths are not converted)', async () => {
    expect((await refusal({ poster: { unit: 'mm', width: 457 } })).message).toMatch(/entry "poster" field "height" is required when unit changes to mm/);
  });

  it('a canvas over 20000 px on a side is refused at start, naming the entry and the side', async () => {
    // 66.67 in at 300 DPI is 20001 px.
    const error = await refusal({ poster: { width: 66.67, height: 10, bleed: 0 } });
    expect(error.message).toMatch(/entry "poster" field "width" makes a canvas of 20001x3000 px at 300 DPI \(bleed included\), over the limit of 20000 px on a side/);
    const tall = await refusal({ poster: { width: 10, height: 20, dpi: 1200, bleed: 0 } });
    expect(tall.message).toMatch(/entry "poster" field "height" makes a canvas of 12000x24000 px/);
    // Exactly 20000 px is allowed.
    const file = await specsFile({ poster: { width: 200 / 3, height: 5, bleed: 0 } });
    expect(printGeometry(configFrom({ PRINT_SPECS_FILE: file }).printSpecs.poster).widthPx).toBe(20000);
  });

  it('a canvas over 100 megapixels is refused at start, though each side is within the limit', async () => {
    const error = await refusal({ poster: { width: 40, height: 40, bleed: 0 } });
    expect(error.message).toMatch(/entry "poster" field "dpi" makes a canvas of 12000x12000 px \(144\.0 megapixels\), over the limit of 100 megapixels/);
  });

  it('a file that is not JSON, not an object, or cannot be read is refused, naming the file', async () => {
    expect((await refusal('{ "poster": ')).message).toMatch(/is not valid JSON/);
    expect((await refusal('[1, 2]')).message).toMatch(/must be a JSON object whose keys are product types/);
    const missing = path.join(dir, 'missing.json');
    expect(() => configFrom({ PRINT_SPECS_FILE: missing })).toThrow(new RegExp(`PRINT_SPECS_FILE "${missing}" cannot be read \\(ENOENT\\)`));
  });

  it('every bad entry is reported at once', async () => {
    const error = await refusal({ poster: { width: 0 }, mug: { dpi: 5 }, hat: {} });
    expect(error.message).toMatch(/3 problems/);
    expect(error.message).toMatch(/entry "poster" field "width"/);
    expect(error.message).toMatch(/entry "mug" field "dpi"/);
    expect(error.message).toMatch(/entry "hat" is not a product type/);
  });
});
