/**
 * Is the verified-token cache in src/auth/jwt.ts worth keeping? Times one verification of a
 * token the verifier has seen (a cache hit) against one it has not (jose's HS256 check,
 * claims and policy), and node:crypto's HMAC for scale, in medians of 5 interleaved rounds.
 *   npx tsx bench/jwt-verify.bench.ts [--n 5000]
 * Compare with the cost of a whole GET /api/v1/designs/{id}: about 140 µs of server CPU
 * (BENCHMARKS.md: 7,200 req/s on one core).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createTokenVerifier, mintToken } from '../src/auth/jwt.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '5000' } } });
const n = Number(values.n);
const secret = 'a-local-hs256-secret-of-at-least-32-bytes!';
const tokens = await Promise.all(Array.from({ length: n }, (_, i) => mintToken({ secret, userId: `user-${i}`, ttlSeconds: 3600 })));

async function perCall(run: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1000 / n;
}

const cases: Record<string, () => Promise<number>> = {
  'verifier, token seen before (cache hit)': async () => {
    const verify = createTokenVerifier({ secret });
    for (const token of tokens) await verify(token);
    return perCall(async () => { for (const token of tokens) await verify(token); });
  },
  'verifier, token not seen before (jose HS256)': async () => {
    const verify = createTokenVerifier({ secret });
    return perCall(async () => { for (const token of tokens) await verify(token); });
  },
  'node:crypto HMAC-SHA256 + compare (for scale)': async () => {
    const key = Buffer.from(secret);
    // eslint-disable-next-line @typescript-eslint/require-await -- perCall times promise-returning calls; this synchronous baseline is wrapped the same way as the verifier.
    return perCall(async () => {
      for (const token of tokens) {
        const [h, p, s] = token.split('.') as [string, string, string];
        if (!timingSafeEqual(createHmac('sha256', key).update(`${h}.${p}`).digest(), Buffer.from(s, 'base64url'))) throw new Error('bad');
      }
    });
  },
};

const results: Record<string, number[]> = {};
for (let round = 0; round < 5; round++) {
  for (const [name, run] of Object.entries(cases)) (results[name] ??= []).push(await run());
}
for (const [name, times] of Object.entries(results)) {
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(48)} median ${times[2]!.toFixed(1).padStart(6)} µs   min ${times[0]!.toFixed(1).padStart(6)} µs`);
}
