import { describe, expect, it } from 'vitest';
import { parseOlderThan } from '../../src/cli/cleanup.js';
import { parseTtl } from '../../src/cli/token.js';
import { configFrom } from '../../src/config.js';
import { DurationError, formatDuration, parseDuration } from '../../src/shared/duration.js';

describe('parseDuration: one syntax, a unit required', () => {
  it.each([
    ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['12h', 43_200_000], ['90d', 7_776_000_000], ['2w', 1_209_600_000],
    ['1.5h', 5_400_000], [' 7d ', 604_800_000], ['30 s', 30_000], ['0s', 0],
  ])('%j is %d ms', (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  it.each(['90', '3600', '', 'abc', '-5s', '+5s', '5y', '5 days', '5S', '1e3s', 's', '99999999999999999999d'])('refuses %j', (value) => {
    expect(() => parseDuration(value)).toThrow(DurationError);
  });

  it('a bare number says to add a unit', () => {
    expect(() => parseDuration('90')).toThrow(/"90" has no unit: write it with one, e.g. 90s or 90m/);
  });

  it('a bare number is read in `bareUnit` only where the caller gives one', () => {
    expect(parseDuration('3600', { bareUnit: 's' })).toBe(3_600_000);
    expect(parseDuration('250', { bareUnit: 'ms' })).toBe(250);
    expect(parseDuration('1h', { bareUnit: 's' })).toBe(3_600_000);
  });

  it.each([[7_776_000_000, '90d'], [30_000, '30s'], [250, '250ms'], [1_209_600_000, '2w'], [5_400_000, '90m'], [0, '0ms']])('formats %d as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('the same rule in every place that takes a duration', () => {
  it('30s is 30 seconds for cleanup --older-than, token --ttl and RENDER_LEASE alike', () => {
    expect(parseOlderThan('30s')).toBe(30_000);
    expect(parseTtl('30s')).toBe(30);
    expect(configFrom({ RENDER_LEASE: '30s' }).renderLeaseMs).toBe(30_000);
  });

  it('a bare 30 is refused by all three, saying a unit is needed', () => {
    expect(() => parseOlderThan('30')).toThrow(/has no unit/);
    expect(() => parseTtl('30')).toThrow(/has no unit/);
    expect(() => configFrom({ RENDER_LEASE: '30' })).toThrow(/RENDER_LEASE must be a duration .*has no unit/);
  });

  it('variables whose unit is fixed read a bare number in it: RENDER_BACKOFF_MS in ms, S3_SIGNED_URL_EXPIRES in seconds', () => {
    expect(configFrom({ RENDER_BACKOFF_MS: '250' }).renderBackoffMs).toBe(250);
    expect(configFrom({ RENDER_BACKOFF_MS: '2s' }).renderBackoffMs).toBe(2000);
    expect(configFrom({ S3_SIGNED_URL_EXPIRES: '600' }).s3SignedUrlExpires).toBe(600);
    expect(configFrom({ S3_SIGNED_URL_EXPIRES: '1h' }).s3SignedUrlExpires).toBe(3600);
    expect(() => configFrom({ S3_SIGNED_URL_EXPIRES: '1500ms' })).toThrow(/S3_SIGNED_URL_EXPIRES must be whole seconds/);
  });

  it('token --ttl is whole seconds, above zero', () => {
    expect(parseTtl('7d')).toBe(604_800);
    expect(() => parseTtl('0s')).toThrow(/--ttl must be a positive duration/);
    expect(() => parseTtl('1500ms')).toThrow(/--ttl must be a positive duration/);
  });
});
