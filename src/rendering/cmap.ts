import { closeSync, openSync, readSync } from 'node:fs';
import { AppError } from '../errors.js';

/**
 * Which code points a TrueType/OpenType font maps to a glyph, read from its `cmap` table.
 * Validation uses it to refuse text the bundled fonts cannot draw, instead of letting
 * Pango fall back to whatever fonts the machine has (or draw hex boxes, "tofu").
 */
export interface CodePointSet {
  has(codePoint: number): boolean;
  /** The covered code points as sorted, non-overlapping, non-adjacent [first, last] ranges. */
  ranges(): ReadonlyArray<readonly [number, number]>;
}

/** Sorted, non-overlapping [start, end] ranges, searched by bisection. */
class RangeSet implements CodePointSet {
  constructor(
    private readonly starts: Uint32Array,
    private readonly ends: Uint32Array,
  ) {}

  has(codePoint: number): boolean {
    let low = 0;
    let high = this.starts.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (codePoint < (this.starts[mid] as number)) high = mid - 1;
      else if (codePoint > (this.ends[mid] as number)) low = mid + 1;
      else return true;
    }
    return false;
  }

  ranges(): ReadonlyArray<readonly [number, number]> {
    return Array.from(this.starts, (start, i) => [start, this.ends[i] as number] as const);
  }
}

/**
 * The code points `font` (the bytes of a TTF/OTF file) has a glyph for, from its Unicode
 * cmap subtable: format 12 (full Unicode) when present, else format 4 (the BMP).
 * Throws AppError FONT_UNREADABLE (not retryable) for a file without either.
 */
export function readCmap(font: Buffer, name: string): CodePointSet {
  const { offset, length } = cmapLocation(font, name);
  return parseCmap(font.subarray(offset, offset + length), name);
}

/**
 * readCmap for a font file, reading only its table directory and its cmap table. A bundled
 * CJK fallback face is 6-10 MB; reading it whole and letting it go made glibc raise its
 * mmap threshold (and with it the trim threshold, to twice that) for the rest of the
 * process, so every thread's malloc arena kept up to 20 MB of freed memory: most of the
 * server's growth in the memory benchmark. A cmap table is tens of kilobytes.
 * Throws AppError FONT_FILE_MISSING when the file cannot be read, FONT_UNREADABLE as readCmap.
 */
export function readCmapFile(file: string, name: string): CodePointSet {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new AppError('FONT_FILE_MISSING', `The font file ${file} (${name}) is missing: reinstall the package.`, { cause: error });
  }
  try {
    const read = (position: number, length: number): Buffer => {
      const bytes = Buffer.alloc(length);
      const got = readSync(fd, bytes, 0, length, position);
      if (got !== length) throw unreadable(name, `it ends at byte ${position + got}, inside a table it lists`);
      return bytes;
    };
    const count = tableCount(read(0, TABLE_DIRECTORY), name);
    const { offset, length } = cmapLocation(read(0, TABLE_DIRECTORY + 16 * count), name);
    return parseCmap(read(offset, length), name);
  } finally {
    closeSync(fd);
  }
}

/** The offset table before the table records: sfnt version, table count and search hints. */
const TABLE_DIRECTORY = 12;

function tableCount(header: Buffer, name: string): number {
  if (header.length < TABLE_DIRECTORY) throw unreadable(name, 'it is too short to be a font');
  return header.readUInt16BE(4);
}

/** Where the cmap table is, from the table directory (the offset table and its records) at the start of `font`, whole or only that far. */
function cmapLocation(directory: Buffer, name: string): { offset: number; length: number } {
  const count = tableCount(directory, name);
  for (let i = 0; i < count; i++) {
    const record = TABLE_DIRECTORY + i * 16;
    if (record + 16 > directory.length) break;
    if (directory.toString('latin1', record, record + 4) === 'cmap') return { offset: directory.readUInt32BE(record + 8), length: directory.readUInt32BE(record + 12) };
  }
  throw unreadable(name, 'it has no cmap table');
}

/** The Unicode coverage from the bytes of a cmap table (its subtables' offsets are relative to it). */
function parseCmap(cmap: Buffer, name: string): CodePointSet {
  let format4 = -1;
  let format12 = -1;
  const subtables = cmap.readUInt16BE(2);
  for (let i = 0; i < subtables; i++) {
    const platform = cmap.readUInt16BE(4 + i * 8);
    const encoding = cmap.readUInt16BE(6 + i * 8);
    const offset = cmap.readUInt32BE(8 + i * 8);
    // Unicode platform (0), or Windows (3) with Unicode BMP (1) or full repertoire (10).
    const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
    if (!unicode) continue;
    const format = cmap.readUInt16BE(offset);
    if (format === 12) format12 = offset;
    else if (format === 4) format4 = offset;
  }
  if (format12 >= 0) return readFormat12(cmap, format12);
  if (format4 >= 0) return readFormat4(cmap, format4);
  throw unreadable(name, 'it has no Unicode cmap subtable of format 4 or 12');
}

function readFormat12(font: Buffer, offset: number): CodePointSet {
  const groups = font.readUInt32BE(offset + 12);
  const ranges: [number, number][] = [];
  for (let i = 0; i < groups; i++) {
    const group = offset + 16 + i * 12;
    const start = font.readUInt32BE(group);
    const end = font.readUInt32BE(group + 4);
    // A group mapped to glyph 0 maps to .notdef: that is tofu, not coverage.
    if (font.readUInt32BE(group + 8) === 0 && start === end) continue;
    ranges.push([start, end]);
  }
  return toRangeSet(ranges);
}

function readFormat4(font: Buffer, offset: number): CodePointSet {
  const segments = font.readUInt16BE(offset + 6) / 2;
  const endCodes = offset + 14;
  const startCodes = endCodes + segments * 2 + 2;
  const idDeltas = startCodes + segments * 2;
  const idRangeOffsets = idDeltas + segments * 2;
  const covered: number[] = [];
  for (let s = 0; s < segments; s++) {
    const end = font.readUInt16BE(endCodes + s * 2);
    const start = font.readUInt16BE(startCodes + s * 2);
    const delta = font.readInt16BE(idDeltas + s * 2);
    const rangeOffsetAt = idRangeOffsets + s * 2;
    const rangeOffset = font.readUInt16BE(rangeOffsetAt);
    for (let c = start; c <= end && c !== 0xffff; c++) {
      let glyph: number;
      if (rangeOffset === 0) glyph = (c + delta) & 0xffff;
      else {
        const at = rangeOffsetAt + rangeOffset + (c - start) * 2;
        glyph = at + 2 <= font.length ? font.readUInt16BE(at) : 0;
        if (glyph !== 0) glyph = (glyph + delta) & 0xffff;
      }
      if (glyph !== 0) covered.push(c);
    }
  }
  const ranges: [number, number][] = [];
  for (const c of covered) {
    const last = ranges.at(-1);
    if (last && last[1] === c - 1) last[1] = c;
    else ranges.push([c, c]);
  }
  return toRangeSet(ranges);
}

function toRangeSet(ranges: [number, number][]): RangeSet {
  ranges.sort((a, b) => a[0] - b[0]);
  // Merged where they touch or overlap, so ranges() lists each run of covered code points once.
  const merged: [number, number][] = [];
  for (const [start, end] of ranges) {
    const last = merged.at(-1);
    if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return new RangeSet(Uint32Array.from(merged, (range) => range[0]), Uint32Array.from(merged, (range) => range[1]));
}

function unreadable(name: string, why: string): AppError {
  return new AppError('FONT_UNREADABLE', `The file of font "${name}" cannot be used: ${why}. Reinstall the package.`);
}
