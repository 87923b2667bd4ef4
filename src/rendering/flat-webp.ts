import { AppError } from '../errors.js';
import type { IndexedImage } from './flat-png.js';

/**
 * A lossless WebP (VP8L, RFC 9649 section 3) encoder for the palette images flat-png.ts
 * writes as PNG: a flat background with one band of text rows, at most 256 colours. libwebp
 * (sharp's lossless WebP at effort 1) spends 20 to 30 ms on a 600 px preview looking for
 * transforms, a colour cache and matches all over an image that is almost all one colour;
 * the shape of these images is known here, so the bitstream is written straight:
 *
 * - one transform, colour indexing, with the image's palette; the indices in the green
 *   channel, bundled 2, 4 or 8 to a pixel when there are at most 16, 4 or 2 colours;
 * - no colour cache and one group of prefix codes; red, blue and alpha are constant, so
 *   their codes have one symbol and cost no bits per pixel;
 * - LZ77 with the two distances that fit a picture of rows: the pixel to the left (a run
 *   within a row, and the whole background above the band) and the pixel above (a row
 *   that repeats the one before, which every background row under the band does). Their
 *   distance codes are the first two of the spec's neighbourhood table: 1 is (0, 1), the
 *   pixel above, and 2 is (1, 0), the pixel to the left;
 * - green (literals and lengths) and distance codes are canonical Huffman codes limited to
 *   15 bits, written with the code-length code (itself limited to 7 bits).
 *
 * The output decodes to exactly the pixels of encodeIndexedPng's PNG of the same image
 * (test/unit/flat-webp.test.ts checks that with libwebp through sharp and with dwebp).
 */

/** VP8L's largest side: 14 bits of width - 1 and of height - 1. */
export const MAX_WEBP_SIDE = 16384;

const VP8L_SIGNATURE = 0x2f;
const COLOR_INDEXING_TRANSFORM = 3;
const NUM_LITERAL_CODES = 256;
const NUM_LENGTH_CODES = 24;
const NUM_DISTANCE_CODES = 40;
const GREEN_ALPHABET = NUM_LITERAL_CODES + NUM_LENGTH_CODES;
const MAX_CODE_LENGTH = 15;
const MAX_CODE_LENGTH_CODE_LENGTH = 7;
const MAX_COPY_LENGTH = 4096;
/** A copy shorter than this costs more bits than its literals do (measured on the bundled fonts' text). */
const MIN_COPY_LENGTH = 3;
/** Distance codes 1 and 2: (0, 1) and (1, 0) in the spec's table of 120 neighbours. */
const DISTANCE_CODE_ABOVE = 1;
const DISTANCE_CODE_LEFT = 2;
/** The order in which the code-length code's lengths are written (kCodeLengthCodeOrder). */
const CODE_LENGTH_ORDER = [17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] as const;
const REPEAT_PREVIOUS = 16;
const REPEAT_ZEROS_SHORT = 17;
const REPEAT_ZEROS_LONG = 18;

/**
 * Encodes `image` as a lossless WebP (RIFF container, one VP8L chunk) that decodes to its
 * pixels, opaque. Throws AppError INVALID_IMAGE when the palette is not 1 to 256 colours,
 * the band does not fit the image, or a side is more than 16384 pixels.
 */
export function encodeIndexedWebp(image: IndexedImage): Buffer {
  const { width, height, palette, band } = image;
  const colors = palette.length / 3;
  if (!Number.isInteger(colors) || colors < 1 || colors > 256) {
    throw new AppError('INVALID_IMAGE', `A palette of ${palette.length} bytes is not 1 to 256 RGB colours.`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_WEBP_SIDE || height > MAX_WEBP_SIDE) {
    throw new AppError('INVALID_IMAGE', `A ${width}x${height} image does not fit WebP (1 to ${MAX_WEBP_SIDE} pixels a side).`);
  }
  const bandRows = band ? band.rows.length / width : 0;
  const bandTop = band?.top ?? height;
  if (band && (!Number.isInteger(bandRows) || bandTop < 0 || bandTop + bandRows > height)) {
    throw new AppError('INVALID_IMAGE', `A band of ${band.rows.length} bytes at row ${bandTop} does not fit a ${width}x${height} palette image.`);
  }

  const widthBits = colors <= 2 ? 3 : colors <= 4 ? 2 : colors <= 16 ? 1 : 0;
  const packedWidth = (width + (1 << widthBits) - 1) >> widthBits;
  const pixels = packIndices(width, height, widthBits, packedWidth, band);

  const out = new BitWriter(1024 + (pixels.length >> 2));
  out.put(VP8L_SIGNATURE, 8);
  out.put(width - 1, 14);
  out.put(height - 1, 14);
  out.put(0, 1); // alpha_is_used: every colour is opaque
  out.put(0, 3); // version
  out.put(1, 1); // a transform follows
  out.put(COLOR_INDEXING_TRANSFORM, 2);
  out.put(colors - 1, 8);
  writePalette(out, palette, colors);
  out.put(0, 1); // no more transforms
  writeIndices(out, pixels, packedWidth, bandTop * packedWidth, (bandTop + bandRows) * packedWidth);
  return riff(out.finish());
}

/**
 * Every row of palette indices, `1 << widthBits` to a byte (the first pixel in the lowest
 * bits), as the green channel of the image the colour-indexing transform decodes.
 */
function packIndices(width: number, height: number, widthBits: number, packedWidth: number, band: IndexedImage['band']): Uint8Array {
  const pixels = new Uint8Array(packedWidth * height);
  if (!band) return pixels;
  const { top, rows } = band;
  const bandRows = rows.length / width;
  if (widthBits === 0) {
    pixels.set(rows, top * width);
    return pixels;
  }
  const perByte = 1 << widthBits;
  const bits = 8 >> widthBits;
  for (let y = 0; y < bandRows; y++) {
    const from = y * width;
    const to = (top + y) * packedWidth;
    for (let x = 0; x < width; x++) {
      const index = rows[from + x] as number;
      const at = to + (x >> widthBits);
      if (index !== 0) pixels[at] = (pixels[at] as number) | (index << ((x & (perByte - 1)) * bits));
    }
  }
  return pixels;
}

/**
 * The colour table as the spec stores it: an image one row high, each ARGB entry less the
 * one before it (per channel, modulo 256), literals only.
 */
function writePalette(out: BitWriter, palette: Buffer, colors: number): void {
  const channels = [new Uint8Array(colors), new Uint8Array(colors), new Uint8Array(colors), new Uint8Array(colors)] as const;
  const [green, red, blue, alpha] = channels;
  let r = 0;
  let g = 0;
  let b = 0;
  for (let i = 0; i < colors; i++) {
    const pr = palette[i * 3] as number;
    const pg = palette[i * 3 + 1] as number;
    const pb = palette[i * 3 + 2] as number;
    red[i] = (pr - r) & 0xff;
    green[i] = (pg - g) & 0xff;
    blue[i] = (pb - b) & 0xff;
    alpha[i] = i === 0 ? 0xff : 0;
    r = pr;
    g = pg;
    b = pb;
  }
  out.put(0, 1); // no colour cache
  const codes = channels.map((values, channel) => {
    const counts = new Uint32Array(channel === 0 ? GREEN_ALPHABET : NUM_LITERAL_CODES);
    for (const value of values) increment(counts, value);
    return writeCode(out, counts);
  });
  writeCode(out, new Uint32Array(NUM_DISTANCE_CODES)); // no copies
  for (let i = 0; i < colors; i++) {
    for (let c = 0; c < 4; c++) {
      const code = codes[c] as PrefixCode;
      const symbol = (channels[c] as Uint8Array)[i] as number;
      out.put(code.codes[symbol] as number, code.lengths[symbol] as number);
    }
  }
}

/**
 * The main image's pixels as literals and copies, greedily: at each pixel the longer of a
 * run from the pixel to the left and a run from the pixel above, when it is long enough.
 * Pixels before `bandStart` and from `bandEnd` on are known to be zeros (the background's
 * index) and are written as runs without being looked at. (Matches farther back, the same
 * letter again, were tried through a hash of the next 4 pixels: they made the files larger,
 * as each saved fewer bits than its distance cost.)
 */
function backwardReferences(pixels: Uint8Array, xsize: number, bandStart: number, bandEnd: number): Tokens {
  const n = pixels.length;
  const tokens = new Tokens(1024 + ((bandEnd - bandStart) >> 3));
  const zeros = (from: number, to: number) => {
    let pos = from;
    if (pos < to && (pos === 0 || pixels[pos - 1] !== 0)) {
      tokens.literal(0);
      pos++;
    }
    for (; pos < to; pos += MAX_COPY_LENGTH) tokens.copy(Math.min(MAX_COPY_LENGTH, to - pos), DISTANCE_CODE_LEFT);
  };
  zeros(0, bandStart);
  for (let pos = bandStart; pos < bandEnd; ) {
    const limit = Math.min(MAX_COPY_LENGTH, bandEnd - pos);
    let left = 0;
    if (pos >= 1) while (left < limit && pixels[pos + left] === pixels[pos + left - 1]) left++;
    let above = 0;
    if (pos >= xsize) while (above < limit && pixels[pos + above] === pixels[pos + above - xsize]) above++;
    const length = Math.max(left, above);
    if (length >= MIN_COPY_LENGTH) {
      tokens.copy(length, above >= left ? DISTANCE_CODE_ABOVE : DISTANCE_CODE_LEFT);
      pos += length;
    } else {
      tokens.literal(pixels[pos] as number);
      pos++;
    }
  }
  zeros(bandEnd, n);
  return tokens;
}

/** LZ77 tokens with the histograms of their green (literal and length) and distance symbols. */
class Tokens {
  /** A literal is its value (0 to 255); a copy has bit 31 set, its distance code (1 or 2) in bits 12 and 13, length - 1 in bits 0 to 11. */
  list: Uint32Array;
  count = 0;
  readonly green = new Uint32Array(GREEN_ALPHABET);
  readonly distance = new Uint32Array(NUM_DISTANCE_CODES);

  constructor(capacity: number) {
    this.list = new Uint32Array(capacity);
  }

  literal(value: number): void {
    this.push(value);
    increment(this.green, value);
  }

  copy(length: number, code: number): void {
    this.push((0x80000000 | (code << 12) | (length - 1)) >>> 0);
    increment(this.green, NUM_LITERAL_CODES + prefixOf(length - 1));
    increment(this.distance, prefixOf(code - 1));
  }

  private push(token: number): void {
    if (this.count === this.list.length) {
      const grown = new Uint32Array(this.list.length * 2);
      grown.set(this.list);
      this.list = grown;
    }
    this.list[this.count++] = token;
  }
}

/** The main image: green values (red, blue, alpha constant), LZ77-coded. */
function writeIndices(out: BitWriter, pixels: Uint8Array, xsize: number, bandStart: number, bandEnd: number): void {
  const tokens = backwardReferences(pixels, xsize, bandStart, bandEnd);
  const { green, distance, list, count: tokenCount } = tokens;
  out.put(0, 1); // no colour cache
  out.put(0, 1); // no meta prefix codes: one group for the whole image
  const greenCode = writeCode(out, green);
  writeSingle(out, 0); // red
  writeSingle(out, 0); // blue
  writeSingle(out, 0xff); // alpha
  const distanceCode = writeCode(out, distance);
  const greenCodes = greenCode.codes;
  const greenLengths = greenCode.lengths;
  for (let i = 0; i < tokenCount; i++) {
    const token = list[i] as number;
    if (token < 0x80000000) {
      out.put(greenCodes[token] as number, greenLengths[token] as number);
      continue;
    }
    const value = token & 0xfff;
    const lengthPrefix = prefixOf(value);
    out.put(greenCodes[NUM_LITERAL_CODES + lengthPrefix] as number, greenLengths[NUM_LITERAL_CODES + lengthPrefix] as number);
    writeExtra(out, value, lengthPrefix);
    const code = ((token >>> 12) & 3) - 1;
    const distancePrefix = prefixOf(code);
    out.put(distanceCode.codes[distancePrefix] as number, distanceCode.lengths[distancePrefix] as number);
    writeExtra(out, code, distancePrefix);
  }
}

/**
 * The prefix code of a length or distance code `value + 1` (value ≥ 0): below 4 the value
 * itself; else twice the top bit's position plus the bit under it, the bits below those
 * written raw after it.
 */
function prefixOf(value: number): number {
  if (value < 4) return value;
  const top = 31 - Math.clz32(value);
  return 2 * top + ((value >> (top - 1)) & 1);
}

function writeExtra(out: BitWriter, value: number, prefix: number): void {
  if (prefix < 4) return;
  const bits = (prefix - 2) >> 1;
  out.put(value & ((1 << bits) - 1), bits);
}

/** A canonical prefix code: each symbol's length (0: unused) and its bits, reversed to be written least significant first. */
interface PrefixCode {
  lengths: Uint8Array;
  codes: Uint16Array;
}

/** A simple code of one 8-bit symbol: it costs no bits where it is used. */
function writeSingle(out: BitWriter, symbol: number): void {
  out.put(1, 1); // simple code
  out.put(0, 1); // one symbol
  if (symbol < 2) {
    out.put(0, 1);
    out.put(symbol, 1);
  } else {
    out.put(1, 1);
    out.put(symbol, 8);
  }
}

/**
 * Writes the code for symbol `counts` and returns it. No symbol used or one below 256:
 * a simple code (no bits per symbol). Otherwise a normal code: a Huffman code limited to
 * 15 bits (one symbol alone gets length 1, which the decoder reads as zero bits), its
 * lengths written with the code-length code.
 */
function writeCode(out: BitWriter, counts: Uint32Array): PrefixCode {
  let used = 0;
  let only = 0;
  for (let symbol = 0; symbol < counts.length; symbol++) {
    if ((counts[symbol] as number) > 0) {
      used++;
      only = symbol;
    }
  }
  if (used <= 1 && only < NUM_LITERAL_CODES) {
    writeSingle(out, only);
    return { lengths: new Uint8Array(counts.length), codes: new Uint16Array(counts.length) };
  }
  const lengths = huffmanLengths(counts, MAX_CODE_LENGTH);
  out.put(0, 1); // normal code
  writeCodeLengths(out, lengths);
  const code = canonicalCodes(lengths);
  // One symbol alone: the decoder reads it in zero bits.
  if (used === 1) code.lengths = new Uint8Array(counts.length);
  return code;
}

/**
 * The code lengths as the spec writes them: tokens 0 to 15 (a length), 16 (the previous
 * non-zero length 3 to 6 more times), 17 (3 to 10 zeros) and 18 (11 to 138 zeros), coded
 * with a prefix code whose own lengths (3 bits each) come first, in CODE_LENGTH_ORDER.
 */
function writeCodeLengths(out: BitWriter, lengths: Uint8Array): void {
  const tokens: number[] = [];
  const extras: number[] = [];
  let previous = 8;
  for (let i = 0; i < lengths.length; ) {
    const length = lengths[i] as number;
    let run = 1;
    while (i + run < lengths.length && lengths[i + run] === length) run++;
    i += run;
    if (length === 0) {
      while (run >= 3) {
        const take = Math.min(run, 138);
        if (take >= 11) {
          tokens.push(REPEAT_ZEROS_LONG);
          extras.push(take - 11);
        } else {
          tokens.push(REPEAT_ZEROS_SHORT);
          extras.push(take - 3);
        }
        run -= take;
      }
      for (; run > 0; run--) {
        tokens.push(0);
        extras.push(0);
      }
      continue;
    }
    if (length !== previous) {
      tokens.push(length);
      extras.push(0);
      previous = length;
      run--;
    }
    while (run >= 3) {
      const take = Math.min(run, 6);
      tokens.push(REPEAT_PREVIOUS);
      extras.push(take - 3);
      run -= take;
    }
    for (; run > 0; run--) {
      tokens.push(length);
      extras.push(0);
    }
  }
  const counts = new Uint32Array(CODE_LENGTH_ORDER.length);
  for (const token of tokens) increment(counts, token);
  const codeLengths = huffmanLengths(counts, MAX_CODE_LENGTH_CODE_LENGTH);
  let written = CODE_LENGTH_ORDER.length;
  while (written > 4 && codeLengths[CODE_LENGTH_ORDER[written - 1] as number] === 0) written--;
  out.put(written - 4, 4);
  for (let i = 0; i < written; i++) out.put(codeLengths[CODE_LENGTH_ORDER[i] as number] as number, 3);
  out.put(0, 1); // every symbol's length is written (no max_symbol)
  const { codes, lengths: bits } = canonicalCodes(codeLengths);
  const single = tokens.every((token) => token === tokens[0]);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as number;
    if (!single) out.put(codes[token] as number, bits[token] as number);
    if (token === REPEAT_PREVIOUS) out.put(extras[i] as number, 2);
    else if (token === REPEAT_ZEROS_SHORT) out.put(extras[i] as number, 3);
    else if (token === REPEAT_ZEROS_LONG) out.put(extras[i] as number, 7);
  }
}

/**
 * Huffman code lengths for `counts`, none longer than `limit`: a Huffman tree, and when it is
 * too deep the lengths moved under the limit and the code made complete again (as zlib and
 * miniz do), the shortest lengths going to the most frequent symbols. One used symbol gets
 * length 1.
 */
function huffmanLengths(counts: Uint32Array, limit: number): Uint8Array {
  const lengths = new Uint8Array(counts.length);
  const symbols: number[] = [];
  for (let symbol = 0; symbol < counts.length; symbol++) if ((counts[symbol] as number) > 0) symbols.push(symbol);
  if (symbols.length === 0) return lengths;
  if (symbols.length === 1) {
    lengths[symbols[0] as number] = 1;
    return lengths;
  }
  // Most frequent first; ties by symbol, so the output is deterministic.
  symbols.sort((a, b) => (counts[b] as number) - (counts[a] as number) || a - b);
  // Tree nodes: leaves 0..n-1 (in `symbols` order), then internal nodes; two queues merge them.
  const n = symbols.length;
  const weight = new Float64Array(2 * n - 1);
  const parent = new Int32Array(2 * n - 1);
  for (let i = 0; i < n; i++) weight[i] = counts[symbols[n - 1 - i] as number] as number; // ascending
  let leaf = 0;
  let inner = n;
  let next = n;
  const take = (): number => {
    if (leaf < n && (inner >= next || (weight[leaf] as number) <= (weight[inner] as number))) return leaf++;
    return inner++;
  };
  while (next < 2 * n - 1) {
    const a = take();
    const b = take();
    weight[next] = (weight[a] as number) + (weight[b] as number);
    parent[a] = next;
    parent[b] = next;
    next++;
  }
  const depth = new Uint8Array(2 * n - 1);
  for (let node = 2 * n - 3; node >= 0; node--) depth[node] = (depth[parent[node] as number] as number) + 1;
  // Leaf i (ascending weight) is symbols[n - 1 - i].
  const perLength = new Uint32Array(Math.max(limit, 64) + 1);
  let deepest = 0;
  for (let i = 0; i < n; i++) {
    const d = depth[i] as number;
    increment(perLength, Math.min(d, perLength.length - 1));
    if (d > deepest) deepest = d;
  }
  if (deepest > limit) {
    for (let d = limit + 1; d < perLength.length; d++) {
      perLength[limit] = (perLength[limit] as number) + (perLength[d] as number);
      perLength[d] = 0;
    }
    let total = 0;
    for (let d = 1; d <= limit; d++) total += (perLength[d] as number) * 2 ** (limit - d);
    while (total > 2 ** limit) {
      perLength[limit] = (perLength[limit] as number) - 1;
      for (let d = limit - 1; d > 0; d--) {
        if ((perLength[d] as number) > 0) {
          perLength[d] = (perLength[d] as number) - 1;
          perLength[d + 1] = (perLength[d + 1] as number) + 2;
          break;
        }
      }
      total--;
    }
  }
  // Shortest lengths to the most frequent symbols.
  let i = 0;
  for (let d = 1; d <= limit; d++) {
    for (let k = perLength[d] as number; k > 0; k--) lengths[symbols[i++] as number] = d;
  }
  return lengths;
}

/** Canonical codes for `lengths` (shorter first, then by symbol), bit-reversed for a least-significant-first writer. */
function canonicalCodes(lengths: Uint8Array): PrefixCode {
  const perLength = new Uint16Array(MAX_CODE_LENGTH + 1);
  for (const length of lengths) if (length > 0) increment(perLength, length);
  const nextCode = new Uint16Array(MAX_CODE_LENGTH + 1);
  let code = 0;
  for (let length = 1; length <= MAX_CODE_LENGTH; length++) {
    nextCode[length] = code;
    code = (code + (perLength[length] as number)) << 1;
  }
  const codes = new Uint16Array(lengths.length);
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    const length = lengths[symbol] as number;
    if (length === 0) continue;
    const value = nextCode[length] as number;
    nextCode[length] = value + 1;
    let reversed = 0;
    for (let bit = 0; bit < length; bit++) reversed |= ((value >> bit) & 1) << (length - 1 - bit);
    codes[symbol] = reversed;
  }
  return { lengths, codes };
}

function increment(counts: Uint32Array | Uint16Array, index: number): void {
  counts[index] = (counts[index] as number) + 1;
}

/** Bits written least significant first into a growing buffer. */
class BitWriter {
  private bytes: Uint8Array;
  private position = 0;
  private bits = 0;
  private count = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  /** `value`'s low `count` bits (at most 24). */
  put(value: number, count: number): void {
    this.bits |= value << this.count;
    this.count += count;
    if (this.count < 8) return;
    if (this.position + 4 > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    while (this.count >= 8) {
      this.bytes[this.position++] = this.bits & 0xff;
      this.bits >>>= 8;
      this.count -= 8;
    }
  }

  /** The bytes written, the last one padded with zero bits. */
  finish(): Uint8Array {
    if (this.count > 0) this.put(0, 8 - this.count);
    return this.bytes.subarray(0, this.position);
  }
}

/** The RIFF container: "RIFF", size, "WEBP", then one "VP8L" chunk (padded to an even length). */
function riff(vp8l: Uint8Array): Buffer {
  const padded = vp8l.length + (vp8l.length & 1);
  const file = Buffer.alloc(20 + padded);
  file.write('RIFF', 0, 'latin1');
  file.writeUInt32LE(12 + padded, 4);
  file.write('WEBP', 8, 'latin1');
  file.write('VP8L', 12, 'latin1');
  file.writeUInt32LE(vp8l.length, 16);
  file.set(vp8l, 20);
  return file;
}
