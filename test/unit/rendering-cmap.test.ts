import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { readCmap, readCmapFile } from '../../src/rendering/cmap.js';

const FONT_DIR = fileURLToPath(new URL('../../assets/fonts/', import.meta.url));
const FONT_FILES = readdirSync(FONT_DIR).filter((file) => file.endsWith('.ttf'));

function fontconfigCharset(file: string): Set<number> | undefined {
  let out: string;
  try {
    out = execFileSync('fc-scan', ['--format', '%{charset}', file], { encoding: 'utf8' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !process.env.CI) return undefined;
    throw error;
  }
  const codePoints = new Set<number>();
  for (const range of out.trim().split(/\s+/)) {
    const [start, end = start] = range.split('-').map((hex) => Number.parseInt(hex, 16));
    for (let c = start ?? 0; c <= (end ?? 0); c++) codePoints.add(c);
  }
  return codePoints;
}

describe('readCmap', () => {
  // fontconfig (which Pango uses to pick fonts) is the independent reference: the coverage
  // validation relies on must be the one the renderer sees.
  it.each(FONT_FILES)('reads the same code points from %s as fontconfig', (file) => {
    const reference = fontconfigCharset(FONT_DIR + file);
    if (!reference) return void console.warn('fc-scan is not installed: comparison skipped');
    const coverage = readCmap(readFileSync(FONT_DIR + file), file);
    const differences: string[] = [];
    for (const codePoint of reference) if (!coverage.has(codePoint)) differences.push(`-U+${codePoint.toString(16)}`);
    // fontconfig leaves C0 controls out of every charset; text with them is refused anyway.
    for (let codePoint = 0x20; codePoint < 0x110000; codePoint++) {
      if (coverage.has(codePoint) && !reference.has(codePoint)) differences.push(`+U+${codePoint.toString(16)}`);
    }
    expect(differences.slice(0, 20)).toEqual([]);
    expect(reference.size).toBeGreaterThan(400);
  });

  it('refuses bytes without a cmap table', () => {
    const header = Buffer.alloc(12);
    header.writeUInt32BE(0x00010000, 0);
    const error = (() => {
      try {
        readCmap(header, 'Nothing');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('FONT_UNREADABLE');
  });
});

describe('readCmapFile', () => {
  it.each(FONT_FILES)('reads the same coverage from %s as readCmap does from the whole file', (file) => {
    const path = FONT_DIR + file;
    expect(readCmapFile(path, file).ranges()).toEqual(readCmap(readFileSync(path), file).ranges());
  });

  it('names a missing file FONT_FILE_MISSING, and a file cut inside its cmap FONT_UNREADABLE', () => {
    const missing = (() => {
      try {
        readCmapFile(FONT_DIR + 'no-such-font.ttf', 'Nothing');
      } catch (error) {
        return error;
      }
    })();
    expect(missing).toBeInstanceOf(AppError);
    expect((missing as AppError).code).toBe('FONT_FILE_MISSING');

    const source = FONT_DIR + FONT_FILES[0]!;
    const whole = readFileSync(source);
    const dir = mkdtempSync(path.join(tmpdir(), 'cmap-'));
    try {
      // The table directory survives, the cmap table it points at does not.
      const cut = path.join(dir, 'cut.ttf');
      writeFileSync(cut, whole.subarray(0, cmapOffset(whole) + 8));
      expect(() => readCmapFile(cut, 'Cut')).toThrow(/font "Cut" cannot be used: it ends at byte/);
      expect(() => readCmapFile(cut, 'Cut')).toThrow(expect.objectContaining({ code: 'FONT_UNREADABLE' }));
      const tiny = path.join(dir, 'tiny.ttf');
      writeFileSync(tiny, whole.subarray(0, 6));
      expect(() => readCmapFile(tiny, 'Tiny')).toThrow(expect.objectContaining({ code: 'FONT_UNREADABLE' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function cmapOffset(font: Buffer): number {
  for (let i = 0; i < font.readUInt16BE(4); i++) {
    const record = 12 + i * 16;
    if (font.toString('latin1', record, record + 4) === 'cmap') return font.readUInt32BE(record + 8);
  }
  throw new Error('no cmap');
}
