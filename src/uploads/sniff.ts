import sharp from 'sharp';
import { UploadRejectedError } from './upload-errors.js';

/**
 * The real type of an upload, from its first bytes: never from the file name or the
 * client's Content-Type, which are whatever the client says.
 *
 * An allow-list of six signatures, written here rather than taken from `file-type`: that
 * package recognises ~150 formats (most of which we must refuse anyway) and its current
 * major needs Node 22, while this service supports Node 20. A refusal only has to say
 * UNSUPPORTED_TYPE; naming the format we refuse is a courtesy for the common cases (SVG,
 * PDF, HTML).
 *
 * Polyglots. A polyglot is one file valid as two formats: a JPEG whose comment holds an HTML
 * page, a PNG with a `<script>` in a text chunk, a GIF that is also a JS file. The danger is
 * the second reading: a browser (or anything content-sniffing) that is handed the original
 * bytes and treats them as HTML. Our pipeline never serves the original bytes: it decodes to
 * pixels and encodes new files with every metadata block dropped, so the published file
 * holds no byte of the input's markup; re-encoding defuses it. We refuse such files anyway:
 * the original is kept in staging or quarantine where an operator may open it, clamd does not
 * look for HTML, and no real photo or logo carries `<script` or `<html` in its first kilobytes.
 * `findMarkup` looks at the head here; `MarkupDetector` does the same over the whole stream
 * (for the scan step, which reads every byte anyway).
 */

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'heif' | 'gif';

export interface SniffedType {
  format: ImageFormat;
  mime: string;
  extension: string;
}

/** How many bytes of the head `sniff` wants. The signatures need 32; the markup check uses all of it. */
export const SNIFF_BYTES = 4096;

const TYPES: Record<ImageFormat, SniffedType> = {
  jpeg: { format: 'jpeg', mime: 'image/jpeg', extension: 'jpg' },
  png: { format: 'png', mime: 'image/png', extension: 'png' },
  webp: { format: 'webp', mime: 'image/webp', extension: 'webp' },
  avif: { format: 'avif', mime: 'image/avif', extension: 'avif' },
  heif: { format: 'heif', mime: 'image/heif', extension: 'heic' },
  gif: { format: 'gif', mime: 'image/gif', extension: 'gif' },
};

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);

/** Markup that has no business in an image; lower case, matched case-insensitively. */
const MARKUP = ['<script', '<html', '<body', '<iframe', '<svg', '<!doctype', '<?php', '<object', '<embed'];
const LONGEST_MARKUP = Math.max(...MARKUP.map((m) => m.length));
/**
 * Over a whole file, a needle counts only when this many bytes of text follow it. Compressed
 * image data is as good as random, and random bytes hold a short needle by chance: `<svg`,
 * matched case-insensitively, once in about 2^29 positions, so about 2% of 12 MB images were
 * refused as polyglots (measured: 2 of 200 random 12 MiB streams; a tus test's noise PNG was
 * REJECTED this way in CI). Markup that does anything is followed by text (attributes, a
 * script, a closing tag); twelve text bytes after a chance match happen with odds of about
 * (97/256)^12, one in 110 000, which puts a false refusal of a 50 MB file near one in a million.
 */
const MARKUP_TEXT_AFTER = 12;

function isText(byte: number): boolean {
  return (byte >= 0x20 && byte <= 0x7e) || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

const NEEDLES = MARKUP.map((needle) => Buffer.from(needle, 'latin1'));
const LESS_THAN = 0x3c;

/** Whether `needle` (lower case, starting with `<`) is at `at` in `bytes`, ignoring ASCII case. */
function needleAt(bytes: Buffer, at: number, needle: Buffer): boolean {
  if (at + needle.length > bytes.length) return false;
  for (let i = 1; i < needle.length; i++) {
    let byte = bytes[at + i]!;
    if (byte >= 0x41 && byte <= 0x5a) byte |= 0x20;
    if (byte !== needle[i]) return false;
  }
  return true;
}

/**
 * The first needle in `bytes` followed by MARKUP_TEXT_AFTER bytes of text; one too near the end
 * is not judged. Every needle starts with `<`: the scan jumps from one `<` to the next
 * (Buffer.indexOf, memchr) instead of lower-casing the chunk as text and searching it once per
 * needle, which cost 30 ms of a 10 MB upload's pipeline (BENCHMARKS.md, upload pipeline).
 */
function findMarkupInText(bytes: Uint8Array): string | null {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = buffer.indexOf(LESS_THAN); at !== -1; at = buffer.indexOf(LESS_THAN, at + 1)) {
    for (let n = 0; n < NEEDLES.length; n++) {
      const needle = NEEDLES[n]!;
      if (!needleAt(buffer, at, needle)) continue;
      const end = at + needle.length;
      if (end + MARKUP_TEXT_AFTER > buffer.length) continue;
      let followedByText = true;
      for (let i = end; i < end + MARKUP_TEXT_AFTER && followedByText; i++) followedByText = isText(buffer[i]!);
      if (followedByText) return MARKUP[n]!;
    }
  }
  return null;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end);
}

/**
 * Whether this machine's sharp can decode HEIC (HEVC-coded HEIF). sharp's prebuilt libvips
 * ships libheif with the AV1 decoder only (HEVC is patent-encumbered), so on a stock install
 * this is false and HEIC is refused as UNSUPPORTED_TYPE; a libvips built with libde265 lists
 * `.heic` among heif's input suffixes.
 */
export function heicDecodable(): boolean {
  const suffixes = sharp.format.heif?.input.fileSuffix ?? [];
  return suffixes.includes('.heic') || suffixes.includes('.heif');
}

function unsupported(what: string): UploadRejectedError {
  return new UploadRejectedError(
    'UNSUPPORTED_TYPE',
    `The file is ${what}, which is not accepted: upload a JPEG, PNG, WebP, AVIF${heicDecodable() ? ', HEIC' : ''} or still GIF image`,
    { details: { detected: what } },
  );
}

/** The ISO-BMFF brands (major and compatible) of an `ftyp` box at offset 0, or null. */
function ftypBrands(head: Uint8Array): string[] | null {
  if (head.length < 16 || ascii(head, 4, 8) !== 'ftyp') return null;
  const size = Buffer.from(head.buffer, head.byteOffset, head.byteLength).readUInt32BE(0);
  const end = Math.min(size, head.length);
  const brands = [ascii(head, 8, 12)];
  for (let offset = 16; offset + 4 <= end; offset += 4) brands.push(ascii(head, offset, offset + 4));
  return brands;
}

function detect(head: Uint8Array): SniffedType | string {
  if (head.length === 0) return 'empty';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return TYPES.jpeg;
  if (head.length >= 8 && PNG_SIGNATURE.equals(head.subarray(0, 8))) return TYPES.png;
  if (head.length >= 6 && (ascii(head, 0, 6) === 'GIF87a' || ascii(head, 0, 6) === 'GIF89a')) return TYPES.gif;
  if (head.length >= 12 && ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return TYPES.webp;
  const brands = ftypBrands(head);
  if (brands) {
    if (brands.some((b) => AVIF_BRANDS.has(b))) return TYPES.avif;
    if (brands.some((b) => HEIC_BRANDS.has(b))) return heicDecodable() ? TYPES.heif : 'HEIC/HEIF, which this server cannot decode';
    return `an ISO media file (brand ${brands[0]})`;
  }
  if (ascii(head, 0, 5) === '%PDF-') return 'a PDF document';
  const text = ascii(head, 0, Math.min(head.length, 512)).replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart().toLowerCase();
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) return 'an SVG image (it can carry scripts)';
  if (text.startsWith('<')) return 'an HTML or XML document';
  return 'of an unknown type';
}

/** The first markup needle in `bytes` (case-insensitive), or null. */
export function findMarkup(bytes: Uint8Array): string | null {
  const text = ascii(bytes, 0, bytes.length).toLowerCase();
  for (const needle of MARKUP) if (text.includes(needle)) return needle;
  return null;
}

/**
 * The accepted image type of an upload from its head (the first SNIFF_BYTES bytes, or the
 * whole file if shorter). Throws UploadRejectedError UNSUPPORTED_TYPE for anything else,
 * including an accepted signature followed by markup (a polyglot), and CORRUPT for zero bytes.
 */
export function sniff(head: Uint8Array): SniffedType {
  if (head.length === 0) throw new UploadRejectedError('CORRUPT', 'The file is empty (zero bytes): choose the image again and re-upload it');
  const found = detect(head.subarray(0, SNIFF_BYTES));
  if (typeof found === 'string') throw unsupported(found);
  const markup = findMarkup(head.subarray(0, SNIFF_BYTES));
  if (markup) throw unsupported(`a ${found.format.toUpperCase()} image with embedded markup ("${markup}"), a polyglot`);
  return found;
}

/**
 * Looks for markup over a whole stream, chunk by chunk, keeping a few bytes across chunk
 * boundaries; memory stays constant. Feed every chunk to `update`, then read `found`. Unlike
 * the head check, a needle counts only when text follows it (MARKUP_TEXT_AFTER says why).
 */
export class MarkupDetector {
  private carry: Uint8Array = new Uint8Array(0);
  found: string | null = null;

  update(chunk: Uint8Array): void {
    if (this.found) return;
    const window = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    this.found = findMarkupInText(window);
    // Enough to see again a needle that starts here with the text after it still to come.
    this.carry = Uint8Array.from(window.subarray(Math.max(0, window.length - (LONGEST_MARKUP - 1 + MARKUP_TEXT_AFTER))));
  }

  /** Throws UNSUPPORTED_TYPE if markup was seen (a polyglot). */
  assertClean(format: ImageFormat): void {
    if (this.found) throw unsupported(`a ${format.toUpperCase()} image with embedded markup ("${this.found}"), a polyglot`);
  }
}
