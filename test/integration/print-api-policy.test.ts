import { describe, expect, it } from 'vitest';
import { isPrintFileKey, newAssetVersion, printFileKey, PUBLIC_READ_PATTERNS, renditionKey } from '../../src/storage/keys.js';
import { publicReadPolicy } from '../../src/storage/s3-bucket-setup.js';

/**
 * Which keys the public-read bucket policy publishes (issue #12): the rendered images under
 * designs/, never the print files beside them. (The same rule against a real bucket, Ceph RGW,
 * is in print-api.test.ts: anonymous GET of print.* is 403, of preview.png 200.)
 */

/** The bucket-policy wildcard: `*` matches any characters, `/` included. */
function matches(pattern: string, key: string): boolean {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(key);
}

const ID = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';

describe('the public-read policy and print files', () => {
  it('publishes previews, thumbnails, uploads, avatars and doctor probes, and not print files, staging or quarantine', () => {
    const published = (key: string) => PUBLIC_READ_PATTERNS.some((pattern) => matches(pattern, key));
    expect(published(`designs/${ID}/preview.png`)).toBe(true);
    expect(published(`designs/${ID}/thumbnail.png`)).toBe(true);
    // Versioned renditions (issue #13), two levels below the design; print files are one level below.
    expect(published(renditionKey(ID, newAssetVersion(), 'preview', 'png'))).toBe(true);
    expect(published(renditionKey(ID, newAssetVersion(), 'large', 'webp'))).toBe(true);
    expect(published(`uploads/${ID}/original.png`)).toBe(true);
    expect(published(`avatars/user/${ID}/512.webp`)).toBe(true);
    expect(published('doctor/probe-1.txt')).toBe(true);
    expect(published(printFileKey(ID, 'pdf'))).toBe(false);
    expect(published(printFileKey(ID, 'png'))).toBe(false);
    expect(published(`staging/${ID}`)).toBe(false);
    expect(published(`quarantine/${ID}`)).toBe(false);
  });

  it('puts exactly those patterns in the policy customify s3 setup-policy applies', () => {
    expect(publicReadPolicy('b').Statement).toEqual([{
      Sid: 'PublicReadGetObject', Effect: 'Allow', Principal: '*', Action: 's3:GetObject',
      Resource: ['arn:aws:s3:::b/designs/*/preview.png', 'arn:aws:s3:::b/designs/*/thumbnail.png', 'arn:aws:s3:::b/designs/*/*/*', 'arn:aws:s3:::b/uploads/*', 'arn:aws:s3:::b/avatars/*', 'arn:aws:s3:::b/doctor/*'],
    }]);
  });

  it('recognises print file keys (what /static refuses) and nothing else', () => {
    expect(printFileKey(ID, 'pdf')).toBe(`designs/${ID}/print.pdf`);
    expect(isPrintFileKey(`designs/${ID}/print.pdf`)).toBe(true);
    expect(isPrintFileKey(`designs/${ID}/print.png`)).toBe(true);
    expect(isPrintFileKey(`designs/${ID}/preview.png`)).toBe(false);
    expect(isPrintFileKey(`designs/${ID}/print.png.meta.json`)).toBe(false);
    expect(isPrintFileKey(`uploads/${ID}/print.png`)).toBe(false);
  });
});
