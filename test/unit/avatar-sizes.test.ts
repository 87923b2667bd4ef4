import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { UploadRejectedError, writeAvatarSizes, writeSquare } from '../../src/uploads/index.js';

/** writeAvatarSizes decodes once and derives every size from the largest square: same pictures, same refusals. */

const dir = mkdtempSync(path.join(tmpdir(), 'avatar-sizes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const out = (name: string) => path.join(dir, name);

async function photo(): Promise<Buffer> {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="600"><rect width="900" height="600" fill="#246"/>'
    + '<circle cx="450" cy="300" r="200" fill="#fc9"/><rect x="380" y="360" width="140" height="30" fill="#a22"/></svg>';
  return sharp(Buffer.from(svg)).jpeg({ quality: 92 }).toBuffer();
}

async function meanDifference(a: string, b: string): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((f) => sharp(f).removeAlpha().raw().toBuffer()));
  let sum = 0;
  for (let i = 0; i < x!.length; i++) sum += Math.abs(x![i]! - y![i]!);
  return sum / x!.length;
}

describe('writeAvatarSizes', () => {
  it('gives the pictures writeSquare gives from the source, at every size (within resampling noise)', async () => {
    // Centre crop: the attention crop is computed once here, at 512 px, so all sizes show the same
    // region, where writeSquare computes it per size and may pick a slightly different one.
    const source = await photo();
    await writeAvatarSizes(source, (size, format) => out(`set-${size}.${format}`), { crop: 'centre' });
    for (const size of [512, 128, 64]) {
      await writeSquare(source, { size, format: 'png', crop: 'centre' }, out(`one-${size}.png`));
      expect(await meanDifference(out(`set-${size}.png`), out(`one-${size}.png`)), `${size}`).toBeLessThan(2);
    }
  });

  it('keeps transparency in both formats', async () => {
    const logo = await sharp({ create: { width: 300, height: 200, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .composite([{ input: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><circle cx="50" cy="50" r="50" fill="#0a0"/></svg>'), left: 100, top: 50 }])
      .png().toBuffer();
    const written = await writeAvatarSizes(logo, (size, format) => out(`logo-${size}.${format}`));
    for (const { size, format } of written) {
      const { data, info } = await sharp(out(`logo-${size}.${format}`)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      expect(info.channels).toBe(4);
      expect(data[3], `${size}.${format} corner`).toBe(0);
      expect(data[((size / 2) * size + size / 2) * 4 + 3], `${size}.${format} centre`).toBe(255);
    }
  });

  it('refuses a truncated JPEG as CORRUPT, writing nothing', async () => {
    const source = await photo();
    const refused = await writeAvatarSizes(source.subarray(0, Math.floor(source.length * 0.6)), (size, format) => out(`cut-${size}.${format}`)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UploadRejectedError);
    expect(refused).toMatchObject({ code: 'CORRUPT' });
    await expect(sharp(out('cut-512.png')).metadata()).rejects.toThrow();
  });
});
