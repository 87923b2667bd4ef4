import { constants as zlibConstants, deflateRawSync, deflateSync } from 'node:zlib';
import { AppError } from '../errors.js';
import type { Rgb } from './colors.js';

/**
 * A PNG encoder for what previews are: a flat background with one band of rows that holds
 * all the text. A general encoder (sharp's libpng, Pillow's zlib) deflates every one of the
 * ~1 MB of background bytes and spends most of a render doing it. Here each background row
 * after the first is written with PNG's "Up" filter, which turns it into zeros whatever the
 * colour, and a run of zero rows is deflated once per (width, rows, level) and then repeated:
 * a DEFLATE block that ends in a sync flush is self-contained, so copies of it concatenate
 * into a valid stream. Only the band is compressed per image.
 *
 * Two forms: encodeFlatPng writes an 8-bit RGB PNG; encodeIndexedPng an 8-bit palette PNG
 * (at most 256 colours), for an image that has no more colours than that: one text colour
 * over one background has only the 256 blends of the two, so each pixel is one byte (its
 * glyph coverage) instead of three, and there is a third as much to compress. Both are
 * standard and non-interlaced, and decode to the same RGB pixels.
 */

export interface FlatImage {
  width: number;
  height: number;
  /** The colour of every row outside the band. */
  background: Rgb;
  /** Rows `top` to `top + rows.length / (width * 3) - 1`, raw RGB, tightly packed. */
  band?: { top: number; rows: Buffer } | undefined;
}

/**
 * A palette image: every pixel an index into `palette`; outside the band every pixel is index 0.
 */
export interface IndexedImage {
  width: number;
  height: number;
  /** 1 to 256 colours, 3 bytes (R, G, B) each; the first is the background's. */
  palette: Buffer;
  /** Rows `top` to `top + rows.length / width - 1`, one index per pixel, tightly packed. */
  band?: { top: number; rows: Buffer } | undefined;
}

/** Zero rows deflated together and reused; 32 rows of a 600 px image are 57 KB raw, ~100 bytes deflated. */
const ZERO_RUN_ROWS = 32;
const FILTER_NONE = 0;
const FILTER_UP = 2;
const ADLER_MOD = 65521;
/** Bytes adler32 may sum before its 32-bit accumulators could overflow (zlib's NMAX). */
const ADLER_NMAX = 5552;
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** An empty final block with fixed Huffman codes: ends the DEFLATE stream. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);
const SYNC_FLUSH = { finishFlush: zlibConstants.Z_SYNC_FLUSH } as const;

const zeroRuns = new Map<string, Buffer>();

/**
 * Encodes `image` as a PNG with zlib `compressionLevel` (0 stores, 9 compresses most).
 * Throws AppError INVALID_IMAGE when the band does not fit the image.
 */
export function encodeFlatPng(image: FlatImage, compressionLevel: number): Buffer {
  const { width, height, background, band } = image;
  const rowBytes = width * 3;
  const bandRows = band ? band.rows.length / rowBytes : 0;
  const bandTop = band?.top ?? height;
  if (band && (!Number.isInteger(bandRows) || bandTop < 0 || bandTop + bandRows > height)) {
    throw new AppError('INVALID_IMAGE', `A band of ${band.rows.length} bytes at row ${bandTop} does not fit a ${width}x${height} RGB image.`);
  }
  const idat = new ZlibWriter(compressionLevel);
  const backgroundRow = filteredBackgroundRow(width, background);
  let aboveIsBackground = false;
  const writeBackground = (rows: number) => {
    if (rows <= 0) return;
    // The first background row under other content cannot be "Up"-filtered to zeros.
    if (!aboveIsBackground) idat.literal(backgroundRow);
    idat.zeroRows(width, aboveIsBackground ? rows : rows - 1);
    aboveIsBackground = true;
  };
  writeBackground(bandTop);
  if (band && bandRows > 0) {
    const literal = Buffer.allocUnsafe(bandRows * (rowBytes + 1));
    for (let y = 0; y < bandRows; y++) {
      const offset = y * (rowBytes + 1);
      literal[offset] = FILTER_NONE;
      band.rows.copy(literal, offset + 1, y * rowBytes, (y + 1) * rowBytes);
    }
    idat.literal(literal, bandDeflate(compressionLevel, false));
    aboveIsBackground = false;
  }
  writeBackground(height - bandTop - bandRows);

  return Buffer.concat([SIGNATURE, pngChunk('IHDR', [imageHeader(width, height, COLOR_TYPE_RGB)]), pngChunk('IDAT', idat.finish()), pngChunk('IEND', [])]);
}

/**
 * Encodes `image` as a palette PNG (rows not filtered, as libpng does for palettes) at
 * zlib `compressionLevel`, the band's rows deflated as bandDeflate says. The whole image
 * is one deflate call: its background rows are zeros, which cost zlib next to nothing,
 * and zlib then sums the adler32 natively. Throws AppError INVALID_IMAGE when the palette
 * or the band does not fit.
 */
export function encodeIndexedPng(image: IndexedImage, compressionLevel: number): Buffer {
  const { width, height, palette, band } = image;
  const colors = palette.length / 3;
  if (!Number.isInteger(colors) || colors < 1 || colors > 256) {
    throw new AppError('INVALID_IMAGE', `A palette of ${palette.length} bytes is not 1 to 256 RGB colours.`);
  }
  const bandRows = band ? band.rows.length / width : 0;
  const bandTop = band?.top ?? height;
  if (band && (!Number.isInteger(bandRows) || bandTop < 0 || bandTop + bandRows > height)) {
    throw new AppError('INVALID_IMAGE', `A band of ${band.rows.length} bytes at row ${bandTop} does not fit a ${width}x${height} palette image.`);
  }
  // Zeros: every row's filter byte is None and every pixel index 0 until the band is copied in.
  const raw = Buffer.alloc(height * (width + 1));
  if (band) for (let y = 0; y < bandRows; y++) band.rows.copy(raw, (bandTop + y) * (width + 1) + 1, y * width, (y + 1) * width);
  const idat = deflateSync(raw, bandDeflate(compressionLevel, true));
  return Buffer.concat([
    SIGNATURE,
    pngChunk('IHDR', [imageHeader(width, height, COLOR_TYPE_PALETTE)]),
    pngChunk('PLTE', [palette]),
    pngChunk('IDAT', [idat]),
    pngChunk('IEND', []),
  ]);
}

/**
 * How the rows that hold text are deflated. Levels 1 to 6 (6 is the default) buy speed:
 * text rows are the only bytes compressed per image, and zlib's lazy matching at level 6
 * costs 3 to 5 times its fastest settings on them. Palette rows (one byte of glyph coverage
 * per pixel: runs of 0 and 255 with short ramps between) take the run-length strategy
 * (Z_RLE): over the bundled fonts about 12 % larger than level 6's default strategy, still
 * 0.5 to 0.7 times sharp's RGB PNG of the same pixels at level 6. RGB rows take level 1's
 * matching (deflate_fast), about 15 % larger than level 6. Levels 7 to 9 ask for the
 * smallest file and get zlib's default strategy at that level; level 0 stores.
 */
function bandDeflate(level: number, palette: boolean): { level: number; strategy: number } {
  if (level === 0 || level >= 7) return { level, strategy: zlibConstants.Z_DEFAULT_STRATEGY };
  return palette ? { level, strategy: zlibConstants.Z_RLE } : { level: 1, strategy: zlibConstants.Z_DEFAULT_STRATEGY };
}

const COLOR_TYPE_RGB = 2;
const COLOR_TYPE_PALETTE = 3;

function imageHeader(width: number, height: number, colorType: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = colorType;
  return header;
}

function filteredBackgroundRow(width: number, { r, g, b }: Rgb): Buffer {
  const row = Buffer.allocUnsafe(width * 3 + 1);
  row[0] = FILTER_NONE;
  row.fill(Buffer.from([r, g, b]), 1);
  return row;
}

/** A zlib stream (RFC 1950) assembled from independently deflated pieces. */
class ZlibWriter {
  private readonly pieces: Buffer[] = [];
  private a = 1;
  private b = 0;

  constructor(private readonly level: number) {
    // CMF 0x78: deflate with a 32 KB window; FLG carries a level hint and makes the pair divisible by 31.
    const levelHint = level < 2 ? 0 : level < 6 ? 1 : level === 6 ? 2 : 3;
    const flg = levelHint << 6;
    this.pieces.push(Buffer.from([0x78, flg + ((31 - ((0x78 * 256 + flg) % 31)) % 31)]));
  }

  /** `bytes` deflated with `settings` (default: the stream's level). */
  literal(bytes: Buffer, settings: { level: number; strategy: number } = { level: this.level, strategy: zlibConstants.Z_DEFAULT_STRATEGY }): void {
    if (bytes.length === 0) return;
    this.pieces.push(deflateRawSync(bytes, { ...settings, ...SYNC_FLUSH }));
    let { a, b } = this;
    for (let i = 0; i < bytes.length; ) {
      const end = Math.min(i + ADLER_NMAX, bytes.length);
      // Four bytes per step: a third faster, and this loop runs over every band byte.
      for (const end4 = end - ((end - i) & 3); i < end4; i += 4) {
        a += bytes[i] as number;
        b += a;
        a += bytes[i + 1] as number;
        b += a;
        a += bytes[i + 2] as number;
        b += a;
        a += bytes[i + 3] as number;
        b += a;
      }
      for (; i < end; i++) {
        a += bytes[i] as number;
        b += a;
      }
      a %= ADLER_MOD;
      b %= ADLER_MOD;
    }
    this.a = a;
    this.b = b;
  }

  /** `count` rows that repeat the row above: a filter byte of 2, then zeros. */
  zeroRows(width: number, count: number): void {
    if (count <= 0) return;
    const rowLength = width * 3 + 1;
    const full = Math.floor(count / ZERO_RUN_ROWS);
    if (full > 0) {
      const run = zeroRun(width, ZERO_RUN_ROWS, this.level);
      for (let i = 0; i < full; i++) this.pieces.push(run);
    }
    const rest = count - full * ZERO_RUN_ROWS;
    if (rest > 0) this.pieces.push(zeroRun(width, rest, this.level));
    // adler32 of a row [2, 0 × 3w]: a grows by 2 once, b by the new a for every byte.
    for (let i = 0; i < count; i++) {
      this.a = (this.a + FILTER_UP) % ADLER_MOD;
      this.b = (this.b + ((this.a * rowLength) % ADLER_MOD)) % ADLER_MOD;
    }
  }

  finish(): Buffer[] {
    const adler = Buffer.allocUnsafe(4);
    adler.writeUInt32BE(((this.b << 16) | this.a) >>> 0);
    return [...this.pieces, FINAL_EMPTY_BLOCK, adler];
  }
}

function zeroRun(width: number, rows: number, level: number): Buffer {
  const key = `${width}:${rows}:${level}`;
  let run = zeroRuns.get(key);
  if (!run) {
    const rowLength = width * 3 + 1;
    const raw = Buffer.alloc(rows * rowLength);
    for (let y = 0; y < rows; y++) raw[y * rowLength] = FILTER_UP;
    run = deflateRawSync(raw, { level, ...SYNC_FLUSH });
    zeroRuns.set(key, run);
  }
  return run;
}

function pngChunk(type: string, data: readonly Buffer[]): Buffer {
  const length = data.reduce((sum, piece) => sum + piece.length, 0);
  const chunk = Buffer.allocUnsafe(12 + length);
  chunk.writeUInt32BE(length, 0);
  chunk.write(type, 4, 'latin1');
  let offset = 8;
  for (const piece of data) offset += piece.copy(chunk, offset);
  chunk.writeUInt32BE(crc32(chunk, 4, 8 + length), 8 + length);
  return chunk;
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 of bytes [start, end): node:zlib only exports crc32 from Node 20.15 on. */
function crc32(bytes: Buffer, start: number, end: number): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}
