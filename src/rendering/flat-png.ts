import { promisify } from 'node:util';
import { crc32, deflate, constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { AppError } from '../errors.js';
import type { Rgb } from './colors.js';
import { withScratch } from './scratch.js';

/**
 * A PNG encoder for what previews are: a flat background with one band of rows that holds
 * all the text. A general encoder (sharp's libpng, Pillow's zlib) deflates every one of the
 * ~1 MB of background bytes and spends most of a render doing it. Here each background row
 * after the first is written with PNG's "Up" filter, which turns it into zeros whatever the
 * colour, and a run of zero rows is deflated once per (width, rows, level) and then repeated:
 * a DEFLATE block that ends in a sync flush is self-contained, so copies of it concatenate
 * into a valid stream. Only the band is compressed per image.
 *
 * Three forms: encodeFlatPng writes an 8-bit RGB PNG; encodeIndexedPng an 8-bit palette PNG
 * (at most 256 colours), for an image that has no more colours than that: one text colour
 * over one background has only the 256 blends of the two, so each pixel is one byte (its
 * glyph coverage) instead of three, and there is a third as much to compress. Both are
 * standard and non-interlaced, and decode to the same RGB pixels. encodeBandedPng is the
 * general form under encodeFlatPng: RGB, or RGBA over a transparent background (a print for
 * a garment), its band painted by the caller a strip at a time, so that a print's canvas is
 * never held whole.
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
const FILTER_SUB = 1;
const FILTER_UP = 2;
const ADLER_MOD = 65521;
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** An empty final block with fixed Huffman codes: ends the DEFLATE stream. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);
const deflateAsync = promisify(deflate);
const SYNC_FLUSH = { finishFlush: zlibConstants.Z_SYNC_FLUSH } as const;

const zeroRuns = new Map<string, Buffer>();

/**
 * Encodes `image` as a PNG with zlib `compressionLevel` (0 stores, 9 compresses most).
 * Throws AppError INVALID_IMAGE when the band does not fit the image.
 */
export function encodeFlatPng(image: FlatImage, compressionLevel: number): Buffer {
  const { width, height, background, band } = image;
  return encodeBandedPng({ width, height, background, ...(band ? { band } : {}) }, compressionLevel);
}

/**
 * An image of any content that is plain outside one band of rows: RGB over an opaque
 * background, RGBA over a transparent one (every pixel outside the band 0, 0, 0, 0).
 * Print files are this at 3600 x 4800 and more: the band (text, a photo) is painted a strip
 * at a time by `paint`, so neither the canvas nor a tall band is ever held whole.
 */
export interface BandedImage {
  width: number;
  height: number;
  background: Rgb | 'transparent';
  band?: { top: number; rows: Buffer } | PaintedBand | undefined;
  /**
   * How the band's rows are deflated: `text` (the default) as bandDeflate says for text on a
   * flat background; `asked` at the level asked for, as a general encoder would (photo rows,
   * where level 1's matching costs more bytes than it saves time on text).
   */
  bandContent?: 'text' | 'asked';
  /** Recorded as a pHYs chunk (pixels per metre) right after IHDR; none when absent. */
  dpi?: number;
}

/** Rows `top` to `top + height - 1`, painted on demand. */
export interface PaintedBand {
  top: number;
  height: number;
  /**
   * Writes rows `top` to `top + count - 1` of the image (absolute row numbers), raw and
   * tightly packed (3 bytes a pixel, 4 on a transparent background), into `into`, which
   * holds exactly that many bytes and is reused from strip to strip.
   */
  paint(top: number, count: number, into: Buffer): void;
}

/**
 * Raw band bytes filtered and deflated per strip: the strip buffers, not the band, bound
 * the memory an image takes. 4 MiB is ~290 rows of a 3600 px RGBA print; each strip starts
 * a fresh deflate dictionary, which at that length costs well under 1 % of the size.
 */
const STRIP_BYTES = 4 << 20;

/**
 * Encodes `image` as a non-interlaced 8-bit PNG (RGB, or RGBA on a transparent background)
 * with zlib `compressionLevel`: rows outside the band cost next to nothing (see the top of
 * this file), the band is filtered with None (as sharp's default, so photos compress as they
 * did there) and deflated a strip at a time. Throws AppError INVALID_IMAGE when the band
 * does not fit the image or `paint` is not given a whole number of rows.
 */
export function encodeBandedPng(image: BandedImage, compressionLevel: number): Buffer {
  const { width, height, background, band } = image;
  const transparent = background === 'transparent';
  const channels = transparent ? 4 : 3;
  const rowBytes = width * channels;
  const given = band && 'rows' in band ? band.rows : undefined;
  const bandRows = band ? (given ? given.length / rowBytes : (band as PaintedBand).height) : 0;
  const bandTop = band?.top ?? height;
  if (band && (!Number.isInteger(bandRows) || bandRows < 0 || bandTop < 0 || bandTop + bandRows > height)) {
    const what = given ? `${given.length} bytes` : `${bandRows} rows`;
    throw new AppError('INVALID_IMAGE', `A band of ${what} at row ${bandTop} does not fit a ${width}x${height} ${transparent ? 'RGBA' : 'RGB'} image.`);
  }
  const idat = new ZlibWriter(compressionLevel);
  const backgroundRow = filteredBackgroundRow(width, background);
  let aboveIsBackground = false;
  const writeBackground = (rows: number) => {
    if (rows <= 0) return;
    // The first background row under other content cannot be "Up"-filtered to zeros.
    if (!aboveIsBackground) idat.literal(backgroundRow);
    idat.zeroRows(backgroundRow.length, aboveIsBackground ? rows : rows - 1);
    aboveIsBackground = true;
  };
  writeBackground(bandTop);
  if (band && bandRows > 0) {
    const asked = image.bandContent === 'asked';
    // Text on nothing (RGBA) at levels 1 to 6: the Sub filter turns a glyph's inside (one
    // ink, full coverage) into zeros like the transparent pixels around it, and Z_RLE then
    // deflates a t-shirt's text rows 4 times as fast as level 6, the file 10 to 30 % larger
    // than sharp's (unfiltered, level 6); unfiltered level 1 made it 1.7 times sharp's.
    // Levels 7 to 9 ask for the smallest file: unfiltered, zlib's default strategy.
    const sub = transparent && !asked && compressionLevel > 0 && compressionLevel < 7;
    const settings = sub
      ? { level: compressionLevel, strategy: zlibConstants.Z_RLE }
      : asked
        ? { level: compressionLevel, strategy: zlibConstants.Z_DEFAULT_STRATEGY }
        : bandDeflate(compressionLevel, false);
    const stripRows = Math.max(1, Math.min(bandRows, Math.floor(STRIP_BYTES / rowBytes)));
    const literal = Buffer.allocUnsafe(stripRows * (rowBytes + 1));
    const strip = given ? undefined : Buffer.allocUnsafe(stripRows * rowBytes);
    const filtered = sub ? Buffer.allocUnsafe(stripRows * rowBytes) : undefined;
    for (let done = 0; done < bandRows; done += stripRows) {
      const count = Math.min(stripRows, bandRows - done);
      let rows: Buffer;
      if (given) {
        rows = given.subarray(done * rowBytes, (done + count) * rowBytes);
      } else {
        rows = (strip as Buffer).subarray(0, count * rowBytes);
        (band as PaintedBand).paint(bandTop + done, count, rows);
      }
      if (filtered) rows = subFilterRgba(rows, width, filtered.subarray(0, count * rowBytes));
      for (let y = 0; y < count; y++) {
        const offset = y * (rowBytes + 1);
        literal[offset] = sub ? FILTER_SUB : FILTER_NONE;
        rows.copy(literal, offset + 1, y * rowBytes, (y + 1) * rowBytes);
      }
      const aligned = rows.byteOffset % 4 === 0 && rowBytes % 4 === 0;
      idat.literal(literal.subarray(0, count * (rowBytes + 1)), settings, aligned ? { data: rows, rowBytes, filter: sub ? FILTER_SUB : FILTER_NONE } : undefined);
    }
    aboveIsBackground = false;
  }
  writeBackground(height - bandTop - bandRows);

  const header = imageHeader(width, height, transparent ? COLOR_TYPE_RGBA : COLOR_TYPE_RGB);
  return assemblePng([['IHDR', [header]], ...(image.dpi === undefined ? [] : [['pHYs', [physicalDimensions(image.dpi)]] as const]), ['IDAT', idat.finish()], ['IEND', []]]);
}

const INCHES_PER_METRE = 1 / 0.0254;

/** pHYs data: `dpi` as pixels per metre on both axes, unit the metre. */
function physicalDimensions(dpi: number): Buffer {
  const perMetre = Math.round(dpi * INCHES_PER_METRE);
  const data = Buffer.alloc(9);
  data.writeUInt32BE(perMetre, 0);
  data.writeUInt32BE(perMetre, 4);
  data[8] = 1;
  return data;
}

/**
 * Encodes `image` as a palette PNG (rows not filtered, as libpng does for palettes) at
 * zlib `compressionLevel`, the band's rows deflated as bandDeflate says. The whole image
 * is one deflate call: its background rows are zeros, which cost zlib next to nothing,
 * and zlib then sums the adler32 natively. Rejects with AppError INVALID_IMAGE when the palette
 * or the band does not fit.
 */
export async function encodeIndexedPng(image: IndexedImage, compressionLevel: number): Promise<Buffer> {
  checkIndexed(image);
  // A scratch buffer: the rows live across the deflate's await, and fresh ones would be promoted
  // and fill the old generation (src/rendering/scratch.ts).
  return withScratch(image.height * (image.width + 1), async (raw) => {
    writeIndexedRows(image, raw);
    // On libuv's thread pool: the deflate is most of a flat render's CPU outside sharp, and the
    // render pipeline's main thread serves HTTP meanwhile (BENCHMARKS.md, "Live status").
    return indexedPng(image, await deflateAsync(raw, bandDeflate(compressionLevel, true)));
  });
}

/** Throws AppError INVALID_IMAGE when the palette or the band of `image` does not fit. */
function checkIndexed(image: IndexedImage): void {
  const { width, height, palette, band } = image;
  const colors = palette.length / 3;
  if (!Number.isInteger(colors) || colors < 1 || colors > 256) {
    throw new AppError('INVALID_IMAGE', `A palette of ${palette.length} bytes is not 1 to 256 RGB colours.`);
  }
  if (!band) return;
  const bandRows = band.rows.length / width;
  if (!Number.isInteger(bandRows) || band.top < 0 || band.top + bandRows > height) {
    throw new AppError('INVALID_IMAGE', `A band of ${band.rows.length} bytes at row ${band.top} does not fit a ${width}x${height} palette image.`);
  }
}

/**
 * The filtered rows of a checked palette image (filter None, one index byte per pixel) into
 * `raw`, zeroed: every row's filter byte is None and every pixel index 0 but the band's.
 */
function writeIndexedRows(image: IndexedImage, raw: Buffer): void {
  const { width, band } = image;
  if (!band) return;
  const bandRows = band.rows.length / width;
  for (let y = 0; y < bandRows; y++) band.rows.copy(raw, (band.top + y) * (width + 1) + 1, y * width, (y + 1) * width);
}

function indexedPng(image: IndexedImage, idat: Buffer): Buffer {
  return assemblePng([
    ['IHDR', [imageHeader(image.width, image.height, COLOR_TYPE_PALETTE)]],
    ['PLTE', [image.palette]],
    ['IDAT', [idat]],
    ['IEND', []],
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

/**
 * PNG's Sub filter over RGBA rows of `width` pixels, into `out`: each byte less the same
 * byte of the pixel to its left (none left of the first), modulo 256. Four bytes at a time
 * when both buffers start on a multiple of 4 bytes: a byte-wise subtraction in one 32-bit
 * word, the top bit of each byte handled apart so that no borrow crosses into the next
 * byte. Returns `out`.
 */
export function subFilterRgba(rows: Buffer, width: number, out: Buffer): Buffer {
  if (rows.byteOffset % 4 === 0 && out.byteOffset % 4 === 0) {
    const src = new Uint32Array(rows.buffer, rows.byteOffset, rows.length >>> 2);
    const dst = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
    for (let start = 0; start < src.length; start += width) {
      let left = 0;
      for (let i = start, end = start + width; i < end; i++) {
        const pixel = src[i] as number;
        dst[i] = (((pixel | HIGH_BITS) - (left & LOW_BITS)) ^ ((pixel ^ ~left) & HIGH_BITS)) >>> 0;
        left = pixel;
      }
    }
    return out;
  }
  const rowBytes = width * 4;
  for (let i = 0; i < rows.length; i++) out[i] = ((rows[i] as number) - (i % rowBytes >= 4 ? (rows[i - 4] as number) : 0)) & 0xff;
  return out;
}

const HIGH_BITS = 0x80808080 | 0;
const LOW_BITS = 0x7f7f7f7f;

const COLOR_TYPE_RGB = 2;
const COLOR_TYPE_RGBA = 6;
const COLOR_TYPE_PALETTE = 3;

function imageHeader(width: number, height: number, colorType: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = colorType;
  return header;
}

/** One background row with its filter byte (None): the colour, or RGBA zeros when transparent. */
function filteredBackgroundRow(width: number, background: Rgb | 'transparent'): Buffer {
  if (background === 'transparent') return Buffer.alloc(width * 4 + 1);
  const row = Buffer.allocUnsafe(width * 3 + 1);
  row[0] = FILTER_NONE;
  row.fill(Buffer.from([background.r, background.g, background.b]), 1);
  return row;
}

/** Rows for adlerOfRows: `data` holds whole rows of `rowBytes` bytes (a multiple of 4) and starts on a multiple of 4 bytes. */
interface WordRows {
  data: Buffer;
  rowBytes: number;
  filter: number;
}

/** Bytes adler32 may sum before its 32-bit accumulators could overflow (zlib's NMAX). */
const ADLER_NMAX = 5552;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * adler32's running sums `a`, `b` continued over the stream [filter, row 0, filter, row 1,
 * ...]. A zero word leaves `a` as it is and adds 4 × `a` to `b`; the sums stay exact in a
 * double over a row (under 2^53) and are reduced after each.
 */
function adlerOfRows(start: { a: number; b: number }, { data, rowBytes, filter }: WordRows): { a: number; b: number } {
  let { a, b } = start;
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length >>> 2);
  const rowWords = rowBytes >>> 2;
  for (let row = 0; row < words.length; row += rowWords) {
    a += filter;
    b += a;
    for (let i = row, end = row + rowWords; i < end; i++) {
      const word = words[i] as number;
      if (word === 0) {
        b += 4 * a;
        continue;
      }
      // Bytes in memory order.
      const b0 = LITTLE_ENDIAN ? word & 0xff : word >>> 24;
      const b1 = (word >>> (LITTLE_ENDIAN ? 8 : 16)) & 0xff;
      const b2 = (word >>> (LITTLE_ENDIAN ? 16 : 8)) & 0xff;
      const b3 = LITTLE_ENDIAN ? word >>> 24 : word & 0xff;
      b += 4 * a + 4 * b0 + 3 * b1 + 2 * b2 + b3;
      a += b0 + b1 + b2 + b3;
    }
    a %= ADLER_MOD;
    b %= ADLER_MOD;
  }
  return { a, b };
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

  /**
   * `bytes` deflated with `settings` (default: the stream's level). `rows`, when given, are
   * the same bytes as rows without their filter byte (`filter`), in a buffer that starts on
   * a multiple of 4 bytes with rows a multiple of 4 long: the checksum is then summed a
   * 32-bit word at a time, skipping zero words, which most of a print's text rows are.
   */
  literal(bytes: Buffer, settings: { level: number; strategy: number } = { level: this.level, strategy: zlibConstants.Z_DEFAULT_STRATEGY }, rows?: WordRows): void {
    if (bytes.length === 0) return;
    this.pieces.push(deflateRawSync(bytes, { ...settings, ...SYNC_FLUSH }));
    if (rows) {
      ({ a: this.a, b: this.b } = adlerOfRows({ a: this.a, b: this.b }, rows));
      return;
    }
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

  /** `count` rows of `rowLength` bytes (filter byte included) that repeat the row above: a filter byte of 2, then zeros. */
  zeroRows(rowLength: number, count: number): void {
    if (count <= 0) return;
    const full = Math.floor(count / ZERO_RUN_ROWS);
    if (full > 0) {
      const run = zeroRun(rowLength, ZERO_RUN_ROWS, this.level);
      for (let i = 0; i < full; i++) this.pieces.push(run);
    }
    const rest = count - full * ZERO_RUN_ROWS;
    if (rest > 0) this.pieces.push(zeroRun(rowLength, rest, this.level));
    // adler32 of a row [2, 0, 0, ...]: a grows by 2 once, b by the new a for every byte.
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

function zeroRun(rowLength: number, rows: number, level: number): Buffer {
  const key = `${rowLength}:${rows}:${level}`;
  let run = zeroRuns.get(key);
  if (!run) {
    const raw = Buffer.alloc(rows * rowLength);
    for (let y = 0; y < rows; y++) raw[y * rowLength] = FILTER_UP;
    run = deflateRawSync(raw, { level, ...SYNC_FLUSH });
    zeroRuns.set(key, run);
  }
  return run;
}

/**
 * The signature and `chunks` (type, data in pieces), written once into one buffer: a print's
 * IDAT is tens of MB of pieces, and each copy of it is that much more memory at the peak.
 */
function assemblePng(chunks: ReadonlyArray<readonly [string, readonly Buffer[]]>): Buffer {
  let total = SIGNATURE.length;
  for (const [, data] of chunks) total += 12 + data.reduce((sum, piece) => sum + piece.length, 0);
  const png = Buffer.allocUnsafe(total);
  let offset = SIGNATURE.copy(png, 0);
  for (const [type, data] of chunks) {
    const start = offset;
    png.write(type, start + 4, 'latin1');
    offset += 8;
    for (const piece of data) offset += piece.copy(png, offset);
    png.writeUInt32BE(offset - start - 8, start);
    png.writeUInt32BE(crc32(png.subarray(start + 4, offset)), offset);
    offset += 4;
  }
  return png;
}
