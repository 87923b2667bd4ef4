import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { MarkupDetector, UploadRejectedError, inspectImage, normaliseImage, sniff, writeAvatarSizes, writeSquare } from '../../src/uploads/index.js';
import { jpegWithComment, pngChunk, pngDeclaring } from '../fixtures/uploads/images.js';

const dir = mkdtempSync(path.join(tmpdir(), 'uploads-normalise-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const file = (name: string) => path.join(dir, `${counter++}-${name}`);

/**
 * Outside tools that check our output as an outsider would. On a developer's machine without
 * them the extra checks are left out (said once); in CI (.ci/run installs them) a missing
 * one fails the run instead of quietly checking less.
 */
function tool(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) throw new Error(`${name} is not installed; .ci/run installs it (apt-get install pngcheck libimage-exiftool-perl).`);
    console.warn(`uploads-normalise: ${name} not installed, its checks are skipped (apt-get install pngcheck libimage-exiftool-perl).`);
    return false;
  }
}
const hasExiftool = tool('exiftool');
const hasPngcheck = tool('pngcheck');

/** Every tag exiftool finds, as "Group:Tag" keys (-G: family 0 groups such as EXIF, XMP, IPTC, PNG). */
function exiftool(filePath: string): Record<string, unknown> {
  // exiftool -j prints an array with one object per file.
  const files = JSON.parse(execFileSync('exiftool', ['-j', '-G', '-a', filePath], { encoding: 'utf8' })) as Array<Record<string, unknown>>;
  return files[0]!;
}

async function rejection(promise: Promise<unknown>): Promise<UploadRejectedError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UploadRejectedError);
  return error as UploadRejectedError;
}

async function pixel(filePath: string, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(filePath).raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return [...data.subarray(at, at + info.channels)];
}

/** 40x20 blue with a red 4x4 block at the stored top-left. */
function markedRaw() {
  const width = 40;
  const height = 20;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set(x < 4 && y < 4 ? [255, 0, 0] : [0, 0, 255], (y * width + x) * 3);
  return sharp(data, { raw: { width, height, channels: 3 } });
}

const near = (actual: number[], expected: number[], tolerance: number) => actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);

describe('normaliseImage: a photo with GPS EXIF and orientation 6', () => {
  it('comes out upright, with no EXIF, GPS, XMP, IPTC or comment left', async () => {
    const input = file('gps-orientation6.jpg');
    await markedRaw()
      .jpeg({ quality: 95 })
      .withExif({
        IFD0: { Make: 'TestCam', Model: 'Leaky 1', ImageDescription: 'my home' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2628/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3942/100' },
      })
      .withMetadata({ orientation: 6 })
      .withXmp('<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Jane Doe</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
      .toFile(input);
    const before = await sharp(input).metadata();
    expect([before.width, before.height, before.orientation, Boolean(before.exif), Boolean(before.xmp)]).toEqual([40, 20, 6, true, true]);
    if (hasExiftool) expect(exiftool(input)).toMatchObject({ 'EXIF:GPSLatitudeRef': 'North', 'EXIF:Orientation': 'Rotate 90 CW' });

    const output = file('normalised.jpg');
    const result = await normaliseImage(input, output);
    expect(result).toMatchObject({ format: 'jpeg', contentType: 'image/jpeg', extension: 'jpg', width: 20, height: 40 });
    expect(result.input).toMatchObject({ format: 'jpeg', width: 20, height: 40 });

    const after = await sharp(output).metadata();
    expect([after.width, after.height, after.space, after.orientation]).toEqual([20, 40, 'srgb', undefined]);
    expect({ exif: after.exif, xmp: after.xmp, iptc: after.iptc, icc: after.icc, comments: after.comments }).toEqual({
      exif: undefined,
      xmp: undefined,
      iptc: undefined,
      icc: undefined,
      comments: undefined,
    });
    // Rotated 90 degrees clockwise: the stored top-left marker is now top-right.
    expect(near(await pixel(output, 18, 1), [255, 0, 0], 40)).toBe(true);
    expect(near(await pixel(output, 1, 1), [0, 0, 255], 40)).toBe(true);
    expect(near(await pixel(output, 18, 38), [0, 0, 255], 40)).toBe(true);

    const bytes = readFileSync(output);
    for (const leak of ['Exif', 'TestCam', 'Jane Doe', 'xmpmeta', 'my home']) expect(bytes.includes(leak)).toBe(false);
    if (hasExiftool) {
      const groups = new Set(Object.keys(exiftool(output)).map((key) => key.split(':')[0]));
      for (const group of ['EXIF', 'XMP', 'IPTC', 'ICC_Profile', 'Photoshop', 'MakerNotes']) expect(groups.has(group)).toBe(false);
    }
  });
});

describe('normaliseImage: colour', () => {
  it('converts a Display P3 image to sRGB values (not just dropping the profile)', async () => {
    const input = file('p3.png');
    const colour = [200, 100, 50];
    // Raw values (200,100,50) tagged as Display P3: sharp's withIccProfile would convert the
    // values into P3 first, so the profile is put into an iCCP chunk by hand.
    const p3 = (await sharp(await sharp({ create: { width: 1, height: 1, channels: 3, background: '#fff' } }).withIccProfile('p3').png().toBuffer()).metadata()).icc!;
    const plain = await sharp(Buffer.from(Array.from({ length: 8 * 8 }, () => colour).flat()), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
    const iccp = pngChunk('iCCP', Buffer.concat([Buffer.from('Display P3\0\0', 'latin1'), deflateSync(p3)]));
    writeFileSync(input, Buffer.concat([plain.subarray(0, 33), iccp, plain.subarray(33)]));
    expect((await sharp(input).metadata()).icc).toBeDefined();
    const output = file('p3-out.png');
    await normaliseImage(input, output);
    // The expected sRGB value, computed independently: P3 -> linear -> P3-to-sRGB matrix -> sRGB curve.
    const toLinear = (v: number) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
    const toSrgb = (l: number) => Math.round(255 * (l <= 0.0031308 ? 12.92 * l : 1.055 * l ** (1 / 2.4) - 0.055));
    const [r, g, b] = colour.map(toLinear) as [number, number, number];
    const expected = [1.2249401 * r - 0.2249404 * g, -0.0420569 * r + 1.0420571 * g, -0.0196376 * r - 0.0786361 * g + 1.0982735 * b].map(toSrgb);
    const actual = await pixel(output, 4, 4);
    expect(near(actual, expected, 3)).toBe(true);
    expect(near(actual, colour, 3)).toBe(false);
    expect((await sharp(output).metadata()).icc).toBeUndefined();
  });

  it('converts a CMYK JPEG to a 3-channel sRGB image with the right colour', async () => {
    const input = file('cmyk.jpg');
    await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 220, g: 30, b: 40 } } })
      .toColourspace('cmyk')
      .jpeg({ quality: 95 })
      .toFile(input);
    expect((await sharp(input).metadata()).space).toBe('cmyk');
    const output = file('cmyk-out.jpg');
    await normaliseImage(input, output);
    const after = await sharp(output).metadata();
    expect([after.space, after.channels]).toEqual(['srgb', 3]);
    const [r, g, b] = await pixel(output, 8, 8);
    expect(r).toBeGreaterThan(180);
    expect(g).toBeLessThan(80);
    expect(b).toBeLessThan(80);
  });
});

describe('normaliseImage: output format', () => {
  it('keeps a PNG with alpha as PNG with its transparency; pngcheck passes it', async () => {
    const input = file('logo.png');
    await sharp({ create: { width: 32, height: 32, channels: 4, background: { r: 0, g: 128, b: 0, alpha: 0 } } })
      .composite([{ input: { create: { width: 16, height: 16, channels: 4, background: '#ff0000ff' } }, left: 8, top: 8 }])
      .png()
      .toFile(input);
    const output = file('logo-out.png');
    expect(await normaliseImage(input, output)).toMatchObject({ format: 'png', contentType: 'image/png', width: 32, height: 32 });
    expect((await pixel(output, 0, 0))[3]).toBe(0);
    expect(await pixel(output, 16, 16)).toEqual([255, 0, 0, 255]);
    if (hasPngcheck) execFileSync('pngcheck', ['-q', output]);
  });

  it('writes into a stream destination (an object-store upload, say)', async () => {
    const chunks: Buffer[] = [];
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => chunks.push(chunk));
    const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#445566' } }).webp().toBuffer();
    const result = await normaliseImage(photo, sink);
    expect(result.format).toBe('jpeg');
    expect(Buffer.concat(chunks).length).toBe(result.bytes);
    expect(sniff(Buffer.concat(chunks)).format).toBe('jpeg');
  });

  it('leaves a failing destination\'s error as it is (retryable storage trouble, not CORRUPT)', async () => {
    const broken = new Writable({ write: (_chunk, _encoding, callback) => callback(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })) });
    const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#445566' } }).jpeg().toBuffer();
    const error = await normaliseImage(photo, broken).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).not.toBeInstanceOf(UploadRejectedError);
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  });

  it('drops markup hidden past the sniffed head: re-encoding defuses what sniffing did not see', async () => {
    const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#445566' } }).jpeg().toBuffer();
    const hidden = jpegWithComment(photo, `${'.'.repeat(6000)}<script>alert(1)</script>`);
    expect(sniff(hidden).format).toBe('jpeg'); // the head is clean
    const detector = new MarkupDetector();
    detector.update(hidden);
    expect(detector.found).toBe('<script'); // the whole-stream check (run during the scan) catches it
    const output = file('defused.jpg');
    await normaliseImage(hidden, output);
    expect(readFileSync(output).includes('<script')).toBe(false);
  });
});

describe('normaliseImage: refusals, each with its stable code', () => {
  it('zero bytes: CORRUPT', async () => {
    const input = file('empty.jpg');
    writeFileSync(input, Buffer.alloc(0));
    expect((await rejection(normaliseImage(input, file('x.jpg')))).code).toBe('CORRUPT');
  });

  it('a truncated JPEG: CORRUPT, after the header read fine', async () => {
    const noise = Buffer.alloc(256 * 256 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
    const jpeg = await sharp(noise, { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    expect(await inspectImage(truncated)).toMatchObject({ format: 'jpeg', width: 256, height: 256 });
    const error = await rejection(normaliseImage(truncated, file('x.jpg')));
    expect(error.code).toBe('CORRUPT');
    expect(error.message).toContain('re-upload');
  });

  it('a truncated PNG: CORRUPT', async () => {
    const noise = Buffer.alloc(128 * 128 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
    const png = await sharp(noise, { raw: { width: 128, height: 128, channels: 3 } }).png().toBuffer();
    expect((await rejection(normaliseImage(png.subarray(0, Math.floor(png.length / 2)), file('x.png')))).code).toBe('CORRUPT');
  });

  it('a JPEG with a benign decoder warning (extraneous bytes before a marker) is accepted, not CORRUPT', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c83' } }).jpeg().toBuffer();
    const dqt = jpeg.indexOf(Buffer.from([0xff, 0xc4])); // the first DHT marker, after SOI, DQT and SOF
    const warned = Buffer.concat([jpeg.subarray(0, dqt), Buffer.from([0x00, 0x00]), jpeg.subarray(dqt)]);
    // libjpeg warns about it: sharp's strictest level refuses it.
    await expect(sharp(warned, { failOn: 'warning' }).toBuffer()).rejects.toThrow(/extraneous/i);
    expect(await normaliseImage(warned, file('warned.jpg'))).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
  });

  it('a file named .png with HTML inside: UNSUPPORTED_TYPE', async () => {
    const input = file('photo.png');
    writeFileSync(input, '<html><body><script>fetch("/api/v1/users/me")</script></body></html>');
    expect((await rejection(normaliseImage(input, file('x.png')))).code).toBe('UNSUPPORTED_TYPE');
  });

  it('an SVG with <script>: UNSUPPORTED_TYPE (sharp could rasterise it, we do not let it)', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>');
    expect((await sharp(svg).metadata()).format).toBe('svg');
    expect((await rejection(normaliseImage(svg, file('x.png')))).code).toBe('UNSUPPORTED_TYPE');
  });

  it('a PNG declaring 20000x20000 in a few hundred bytes: TOO_MANY_PIXELS, from the header', async () => {
    const bomb = pngDeclaring(20000, 20000);
    expect(bomb.length).toBeLessThan(1000);
    expect(await sharp(bomb, { limitInputPixels: false }).metadata()).toMatchObject({ width: 20000, height: 20000 });
    const error = await rejection(normaliseImage(bomb, file('x.png')));
    expect(error.code).toBe('TOO_MANY_PIXELS');
    // Its IDAT holds one row: had we decoded, the answer would have been CORRUPT.
    expect(error.details).toMatchObject({ width: 20000, height: 20000, maxInputPixels: 40_000_000 });
    expect(error.message).toContain('400.0 megapixels');
  });

  it('the pixel limit is configurable, and an image at it passes', async () => {
    const image = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#000' } }).png().toBuffer();
    expect((await normaliseImage(image, file('ok.png'), { maxInputPixels: 10_000 })).width).toBe(100);
    expect((await rejection(normaliseImage(image, file('x.png'), { maxInputPixels: 9_999 }))).code).toBe('TOO_MANY_PIXELS');
  });

  it('over the byte limit: TOO_LARGE', async () => {
    const image = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#000' } }).png().toBuffer();
    const error = await rejection(normaliseImage(image, file('x.png'), { maxBytes: image.length - 1 }));
    expect(error.code).toBe('TOO_LARGE');
    expect(error.details).toMatchObject({ bytes: image.length, maxBytes: image.length - 1 });
  });

  it('an animated GIF: UNSUPPORTED_TYPE (decided: refused, not flattened)', async () => {
    const frame = (colour: string) => sharp({ create: { width: 8, height: 8, channels: 3, background: colour } }).png().toBuffer();
    const gif = await sharp([await frame('#f00'), await frame('#00f')], { join: { animated: true } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const error = await rejection(normaliseImage(gif, file('x.png')));
    expect(error.code).toBe('UNSUPPORTED_TYPE');
    expect(error.message).toContain('animated');
    // A still GIF is accepted and comes out as PNG.
    expect((await normaliseImage(await sharp(await frame('#0f0')).gif().toBuffer(), file('still.png'))).format).toBe('png');
  });
});

describe('writeSquare / writeAvatarSizes', () => {
  it('writes 512, 128 and 64 px squares in WebP and PNG, upright and without metadata', async () => {
    const input = file('avatar-source.jpg');
    await sharp({ create: { width: 900, height: 600, channels: 3, background: '#3a7' } })
      .jpeg()
      .withExif({ IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '1/1 2/1 3/1' } })
      .withMetadata({ orientation: 6 })
      .toFile(input);
    const written = await writeAvatarSizes(input, (size, format) => path.join(dir, `avatar-${size}.${format}`));
    expect(written.map((w) => [w.size, w.format, w.width, w.height])).toEqual([
      [512, 'webp', 512, 512],
      [512, 'png', 512, 512],
      [128, 'webp', 128, 128],
      [128, 'png', 128, 128],
      [64, 'webp', 64, 64],
      [64, 'png', 64, 64],
    ]);
    for (const { size, format } of written) {
      const metadata = await sharp(path.join(dir, `avatar-${size}.${format}`)).metadata();
      expect([metadata.format, metadata.exif, metadata.xmp, metadata.orientation]).toEqual([format, undefined, undefined, undefined]);
      if (format === 'png' && hasPngcheck) execFileSync('pngcheck', ['-q', path.join(dir, `avatar-${size}.png`)]);
    }
  });

  it('is exactly the size asked, enlarging: a 100x60 image gives a 512 px square; centre crop keeps the middle', async () => {
    const data = Buffer.alloc(100 * 60 * 3);
    for (let x = 0; x < 100; x++) for (let y = 0; y < 60; y++) data.set(x < 20 || x >= 80 ? [255, 255, 255] : [0, 0, 0], (y * 100 + x) * 3);
    const image = await sharp(data, { raw: { width: 100, height: 60, channels: 3 } }).png().toBuffer();
    const output = file('square.png');
    const result = await writeSquare(image, { size: 512, format: 'png', crop: 'centre' }, output);
    expect([result.width, result.height]).toEqual([512, 512]);
    // The middle 60x60 (x 20..80, all black) was kept: the white side bands were cropped away.
    // (Resampling bleeds some of the white into the outermost 4 pixels; a left or right crop
    // would show 170 px of white band.)
    expect(await pixel(output, 8, 256)).toEqual([0, 0, 0]);
    expect(await pixel(output, 503, 256)).toEqual([0, 0, 0]);
  });
});
