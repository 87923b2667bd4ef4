import { describe, expect, it } from 'vitest';
import { parseOlderThan, parsePrefix } from '../../src/cli/cleanup.js';
import { formatBytes, plural } from '../../src/cli/format.js';
import { ValidationError } from '../../src/errors.js';

function refusal(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('cleanup --older-than', () => {
  it.each([
    ['30m', 30 * 60_000],
    ['12h', 12 * 3_600_000],
    ['90d', 90 * 86_400_000],
    ['4w', 28 * 86_400_000],
    [' 7d ', 7 * 86_400_000],
    ['10s', 10_000],
    ['1.5d', 36 * 3_600_000],
  ])('%j is %d ms', (value, ms) => {
    expect(parseOlderThan(value)).toBe(ms);
  });

  it.each(['', '   ', '-5d', '0d', '0m', '90', '90 days', 'abc', '5y', 'd', '0.0001ms', '99999999999999999999d'])('refuses %j with examples', (value) => {
    const error = refusal(() => parseOlderThan(value));
    expect(error.code).toBe('INVALID_OLDER_THAN');
    expect(error.field).toBe('older-than');
    expect(error.message).toMatch(/--older-than/);
    expect(error.message).toContain('90d');
    expect(error.message).toContain('12h');
    expect(error.message).toContain('30m');
  });

  it('says it is required when missing', () => {
    expect(refusal(() => parseOlderThan(undefined)).message).toMatch(/--older-than is required/);
    expect(refusal(() => parseOlderThan(true)).message).toMatch(/--older-than is required/);
  });
});

describe('cleanup --prefix', () => {
  it.each(['designs/', 'designs', 'designs/3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b/', 'doctor/probe-'])('accepts %j', (prefix) => {
    expect(parsePrefix(prefix)).toBe(prefix);
  });

  it('refuses an empty prefix: that would be the whole bucket', () => {
    const error = refusal(() => parsePrefix(''));
    expect(error.code).toBe('INVALID_PREFIX');
    expect(error.message).toMatch(/must not be empty/);
  });

  it.each(['/designs/', '../etc/', 'designs//x/', 'designs/../', 'designs/a b/', 'designs\\x/', 'designs/%2e%2e/', '.meta/'])('refuses %j with what a prefix may contain', (prefix) => {
    const error = refusal(() => parsePrefix(prefix));
    expect(error.code).toBe('INVALID_PREFIX');
    expect(error.field).toBe('prefix');
    expect(error.message).toMatch(/--prefix .* is not a valid key prefix: use a relative path such as designs\//);
  });
});

describe('formatting', () => {
  it('formats bytes in decimal units', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(999)).toBe('999 bytes');
    expect(formatBytes(1_500)).toBe('1.5 KB');
    expect(formatBytes(2_345_678)).toBe('2.3 MB');
  });

  it('pluralises with thousands separators', () => {
    expect(plural(1, 'object')).toBe('1 object');
    expect(plural(1234, 'object')).toBe('1,234 objects');
  });
});
