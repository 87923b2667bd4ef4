import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Customify-Signature, as Stripe signs its webhooks: `t=<unix seconds>,v1=<hex>`, where hex is
 * HMAC-SHA256(secret, "<t>.<raw body>"). The timestamp is inside the signed text, so an old
 * request replayed later fails the receiver's tolerance check even with a valid signature.
 */
export function signatureHeader(secret: string, timestampSeconds: number, body: string): string {
  return `t=${timestampSeconds},v1=${hmacHex(secret, timestampSeconds, body)}`;
}

function hmacHex(secret: string, timestampSeconds: number | string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');
}

export interface VerifyOptions {
  secret: string;
  /** The Customify-Signature header as received. */
  header: string | undefined;
  /** The raw body bytes as received (not re-serialised JSON). */
  body: string | Buffer;
  /** How far the timestamp may be from now, either way (default 300 s). */
  toleranceSeconds?: number;
  nowSeconds?: number;
}

/**
 * The receiver's check, as README's "Webhooks" section documents it: parse `t` and every `v1`,
 * recompute the HMAC over "<t>.<raw body>", compare in constant time, and refuse a timestamp
 * outside the tolerance window. True only when both hold.
 */
export function verifySignature(options: VerifyOptions): boolean {
  const { secret, header, body, toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000) } = options;
  if (!header) return false;
  const parts = header.split(',').map((part) => part.trim().split('='));
  const t = parts.find(([key]) => key === 't')?.[1];
  const signatures = parts.filter(([key]) => key === 'v1').map(([, value]) => value ?? '');
  if (!t || !/^\d+$/.test(t) || signatures.length === 0) return false;
  if (Math.abs(nowSeconds - Number(t)) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, t, body), 'hex');
  return signatures.some((signature) => {
    const given = Buffer.from(signature, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
