import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
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
 * The output is a standard 8-bit RGB PNG, non-interlaced.
 */

export interface FlatImage {
  width: number;
  height: number;
  /** The colour of every row outside the band. */
  background: Rgb;
  /** Rows `top` to `top + rows.length / (width * 3) - 1`, raw RGB, tightly packed. */
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
    idat.literal(literal);
    aboveIsBackground = false;
  }
  writeBackground(height - bandTop - bandRows);

  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  return Buffer.concat([SIGNATURE, pngChunk('IHDR', [header]), pngChunk('IDAT', idat.finish()), pngChunk('IEND', [])]);
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

  literal(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.pieces.push(deflateRawSync(bytes, { level: this.level, ...SYNC_FLUSH }));
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
