import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureHeader, verifySignature } from '../../src/webhooks/index.js';

/** Customify-Signature, and the receiver's check README documents. */

const SECRET = 'whsec-unit-0123456789abcdef';
const BODY = '{"id":"evt_1","type":"design.published","created_at":"2026-11-30T12:00:00.000Z","data":{"id":"x"}}';
const T = 1_764_504_000;

describe('signatureHeader', () => {
  it('is t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>', () => {
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
    expect(signatureHeader(SECRET, T, BODY)).toBe(`t=${T},v1=${expected}`);
  });
});

describe('verifySignature', () => {
  const header = signatureHeader(SECRET, T, BODY);
  const verify = (overrides: Partial<Parameters<typeof verifySignature>[0]> = {}) =>
    verifySignature({ secret: SECRET, header, body: BODY, nowSeconds: T + 10, ...overrides });

  it('accepts the signature within the tolerance window, on the raw bytes as a string or a Buffer', () => {
    expect(verify()).toBe(true);
    expect(verify({ body: Buffer.from(BODY) })).toBe(true);
    expect(verify({ nowSeconds: T - 299 })).toBe(true);
  });

  it('refuses another secret, a changed body, a re-serialised body and a changed timestamp', () => {
    expect(verify({ secret: 'another-secret-0123456789' })).toBe(false);
    expect(verify({ body: BODY.replace('design.published', 'design.failed') })).toBe(false);
    expect(verify({ body: JSON.stringify(JSON.parse(BODY), null, 2) })).toBe(false);
    expect(verify({ header: header.replace(`t=${T}`, `t=${T + 1}`) })).toBe(false);
  });

  it('refuses a timestamp outside the tolerance window (a replayed old request)', () => {
    expect(verify({ nowSeconds: T + 301 })).toBe(false);
    expect(verify({ nowSeconds: T + 3600, toleranceSeconds: 7200 })).toBe(true);
  });

  it('refuses a missing or malformed header, and accepts any one matching v1 of several (secret rotation)', () => {
    expect(verify({ header: undefined })).toBe(false);
    expect(verify({ header: '' })).toBe(false);
    expect(verify({ header: `v1=${header.split('v1=')[1]}` })).toBe(false);
    expect(verify({ header: `t=${T}` })).toBe(false);
    expect(verify({ header: `t=${T},v1=abc` })).toBe(false);
    expect(verify({ header: `t=${T},v1=${'0'.repeat(64)},v1=${header.split('v1=')[1]}` })).toBe(true);
  });
});
