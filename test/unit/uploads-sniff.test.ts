import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { jpegWithComment } from '../fixtures/uploads/images.js';
import { MarkupDetector, SNIFF_BYTES, UploadRejectedError, findMarkup, heicDecodable, sniff } from '../../src/uploads/index.js';

const solid = (format: 'jpeg' | 'png' | 'webp' | 'avif' | 'gif') =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: '#3366cc' } })
    .toFormat(format)
    .toBuffer();

function rejection(run: () => unknown): UploadRejectedError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UploadRejectedError);
    return error as UploadRejectedError;
  }
  throw new Error('expected a rejection');
}

describe('sniff: the type from the bytes', () => {
  it.each(['jpeg', 'png', 'webp', 'avif', 'gif'] as const)('recognises %s made by sharp', async (format) => {
    expect(sniff(await solid(format)).format).toBe(format);
  });

  it('looks only at the bytes: a JPEG is a JPEG whatever it is called, and a head of SNIFF_BYTES is enough', async () => {
    const jpeg = Buffer.concat([await solid('jpeg'), Buffer.alloc(10_000)]);
    expect(sniff(jpeg.subarray(0, SNIFF_BYTES))).toEqual({ format: 'jpeg', mime: 'image/jpeg', extension: 'jpg' });
  });

  it('refuses zero bytes as CORRUPT', () => {
    expect(rejection(() => sniff(Buffer.alloc(0))).code).toBe('CORRUPT');
  });

  it.each([
    ['HTML (a .png name with HTML inside)', '<!DOCTYPE html><html><body><script>alert(1)</script></body></html>', /HTML/],
    ['SVG with <script>', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>', /SVG/],
    ['SVG behind an XML declaration and a BOM', '\uFEFF<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', /SVG/],
    ['PDF', '%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n', /PDF/],
    ['plain text', 'hello, this is not an image', /unknown type/],
    ['an MP4 (ISO media, not an image brand)', '\0\0\0\x18ftypisom\0\0\x02\0isomiso2', /ISO media/],
  ])('refuses %s as UNSUPPORTED_TYPE', (_name, content, detected) => {
    const error = rejection(() => sniff(Buffer.from(content, 'utf8')));
    expect(error.code).toBe('UNSUPPORTED_TYPE');
    expect(error.message).toMatch(detected);
    expect(error.message).toContain('upload a JPEG, PNG');
    expect(error.field).toBe('file');
    expect(error.retryable).toBe(false);
  });

  it('refuses a polyglot: a valid JPEG carrying an HTML page in a comment', async () => {
    const polyglot = jpegWithComment(await solid('jpeg'), '<html><body><SCRIPT>alert(1)</SCRIPT></body></html>');
    // It really is a JPEG: sharp decodes it.
    expect((await sharp(polyglot).metadata()).format).toBe('jpeg');
    const error = rejection(() => sniff(polyglot));
    expect(error.code).toBe('UNSUPPORTED_TYPE');
    expect(error.message).toContain('polyglot');
  });

  it('refuses a PNG with a <script> in a text chunk', async () => {
    const png = await solid('png');
    const data = Buffer.from('Comment\0<script src="//evil.example/x.js"></script>', 'latin1');
    const chunk = Buffer.alloc(8 + data.length + 4);
    chunk.writeUInt32BE(data.length, 0);
    chunk.write('tEXt', 4, 'latin1');
    data.copy(chunk, 8); // the CRC is left zero: sniffing does not decode, the markup alone refuses it
    const polyglot = Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
    expect(rejection(() => sniff(polyglot)).code).toBe('UNSUPPORTED_TYPE');
  });

  it('HEIC is accepted only where sharp can decode it', () => {
    const head = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'), deflateSync(Buffer.alloc(64))]);
    if (heicDecodable()) {
      expect(sniff(head).format).toBe('heif');
    } else {
      const error = rejection(() => sniff(head));
      expect(error.code).toBe('UNSUPPORTED_TYPE');
      expect(error.message).toContain('cannot decode');
    }
  });
});

describe('MarkupDetector: markup anywhere in a stream', () => {
  it('finds a needle split across chunk boundaries, case-insensitively', () => {
    const detector = new MarkupDetector();
    for (const piece of ['\xff\xd8\xff', 'x'.repeat(5000) + '<sC', 'RiPt>', 'alert(1)</script>']) detector.update(Buffer.from(piece, 'latin1'));
    expect(detector.found).toBe('<script');
    expect(() => detector.assertClean('jpeg')).toThrow(UploadRejectedError);
  });

  it('does not take a chance needle in compressed (random-looking) bytes for markup: large photos are not refused as polyglots', () => {
    // `<svg` turns up by chance about once in 2^29 random bytes; what follows it is not text.
    const chance = Buffer.concat([randomBytes(100_000), Buffer.from('<SvG'), Buffer.from([0x00, 0xff, 0x13, 0x80]), Buffer.from('abcdefghijkl'), randomBytes(100_000)]);
    const detector = new MarkupDetector();
    for (let i = 0; i < chance.length; i += 4096) detector.update(chance.subarray(i, i + 4096));
    expect(detector.found).toBeNull();
    // The same needle with markup after it, split across chunks, deep in binary data, is found.
    const real = Buffer.concat([randomBytes(100_000), Buffer.from('<svg/onload=alert(1)>'), randomBytes(100_000)]);
    const seen = new MarkupDetector();
    for (let i = 0; i < real.length; i += 4093) seen.update(real.subarray(i, i + 4093));
    expect(seen.found).toBe('<svg');
  });

  it('agrees with a plain case-insensitive search on random bytes with needles planted in any case, however the stream is cut', () => {
    const needles = ['<script', '<html', '<body', '<iframe', '<svg', '<!doctype', '<?php', '<object', '<embed'];
    // The reference: lower-case the whole file as text, and take a needle only when 12 text bytes follow it.
    const reference = (bytes: Buffer): boolean => {
      const text = bytes.toString('latin1').toLowerCase();
      return needles.some((needle) => {
        for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
          const after = bytes.subarray(at + needle.length, at + needle.length + 12);
          if (after.length === 12 && after.every((b) => (b >= 0x20 && b <= 0x7e) || b === 0x09 || b === 0x0a || b === 0x0d)) return true;
        }
        return false;
      });
    };
    let planted = 0;
    for (let round = 0; round < 300; round++) {
      const parts: Buffer[] = [randomBytes(1 + (round * 7919) % 3000)];
      for (let n = 0; n < round % 4; n++) {
        const needle = needles[(round + n) % needles.length]!;
        const cased = [...needle].map((c, i) => ((round >> i) & 1 ? c.toUpperCase() : c)).join('');
        const follower = (round + n) % 3 === 0 ? randomBytes(12) : Buffer.from('a=1 onload=x()', 'latin1').subarray(0, 4 + ((round + n) % 11));
        parts.push(Buffer.from(cased, 'latin1'), follower, randomBytes((round * 31) % 500));
        planted++;
      }
      const bytes = Buffer.concat(parts);
      const chunk = 1 + (round * 104_729) % 700;
      const detector = new MarkupDetector();
      for (let i = 0; i < bytes.length; i += chunk) detector.update(bytes.subarray(i, i + chunk));
      expect(detector.found !== null, `round ${round}, chunks of ${chunk}`).toBe(reference(bytes));
    }
    expect(planted).toBeGreaterThan(300);
  });

  it('passes ordinary image bytes, XMP included', async () => {
    const detector = new MarkupDetector();
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .jpeg()
      .withXmp('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta><?xpacket end="w"?>')
      .toBuffer();
    for (let i = 0; i < jpeg.length; i += 7) detector.update(jpeg.subarray(i, i + 7));
    expect(detector.found).toBeNull();
    expect(findMarkup(jpeg)).toBeNull();
    expect(sniff(jpeg).format).toBe('jpeg');
  });
});
