import { crc32 } from 'node:zlib';
import { AppError } from '../errors.js';

const INCHES_PER_METRE = 1 / 0.0254;

/**
 * `png` with a pHYs chunk recording `dpi` (PNG stores pixels per metre), right after IHDR,
 * replacing any pHYs it had. The pixels are not touched, so the fast flat-PNG encoder's
 * output keeps its speed. Throws AppError INVALID_IMAGE for bytes that are not a PNG.
 */
export function withPngDensity(png: Buffer, dpi: number): Buffer {
  const ihdrEnd = 8 + 8 + 13 + 4;
  if (png.length < ihdrEnd || png.toString('latin1', 12, 16) !== 'IHDR') throw new AppError('INVALID_IMAGE', 'Not a PNG: no IHDR chunk where the signature ends.');
  const perMetre = Math.round(dpi * INCHES_PER_METRE);
  const chunk = Buffer.alloc(12 + 9);
  chunk.writeUInt32BE(9, 0);
  chunk.write('pHYs', 4, 'latin1');
  chunk.writeUInt32BE(perMetre, 8);
  chunk.writeUInt32BE(perMetre, 12);
  chunk[16] = 1; // unit: the metre
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 17)), 17);
  const parts: Buffer[] = [png.subarray(0, ihdrEnd), chunk];
  // Copy the other chunks, leaving out an existing pHYs.
  for (let offset = ihdrEnd; offset < png.length; ) {
    const length = png.readUInt32BE(offset);
    const end = offset + 12 + length;
    if (png.toString('latin1', offset + 4, offset + 8) !== 'pHYs') parts.push(png.subarray(offset, end));
    offset = end;
  }
  return Buffer.concat(parts);
}
