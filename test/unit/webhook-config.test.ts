import { describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

/** WEBHOOK_* settings: refused at start with the variable's name. */

function configError(env: Record<string, string>): ConfigError {
  try {
    configFrom(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const SECRET = 'whsec-config-0123456789';

describe('webhook configuration', () => {
  it('is off by default, with a 24 h retry window, a 10 s timeout and a 10 s first backoff', () => {
    expect(configFrom()).toMatchObject({ webhookUrl: '', webhookSecret: '', webhookMaxAgeMs: 86_400_000, webhookTimeoutMs: 10_000, webhookBackoffMs: 10_000 });
  });

  it('takes http and https URLs (a query string too) and durations with units', () => {
    expect(configFrom({ WEBHOOK_URL: 'https://shop.example.com/hooks?k=1', WEBHOOK_SECRET: SECRET, WEBHOOK_MAX_AGE: '3d', WEBHOOK_TIMEOUT: '5s', WEBHOOK_BACKOFF: '30s' })).toMatchObject({
      webhookUrl: 'https://shop.example.com/hooks?k=1', webhookSecret: SECRET, webhookMaxAgeMs: 3 * 86_400_000, webhookTimeoutMs: 5_000, webhookBackoffMs: 30_000,
    });
    expect(configFrom({ WEBHOOK_URL: 'http://127.0.0.1:9000/in', WEBHOOK_SECRET: SECRET }).webhookUrl).toBe('http://127.0.0.1:9000/in');
  });

  it.each(['ftp://example.com/hooks', 'file:///etc/passwd', 'javascript:alert(1)', 'example.com/hooks', 'https://user:pw@example.com/'])('refuses WEBHOOK_URL=%s, naming it', (url) => {
    const error = configError({ WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET });
    expect(error.field).toBe('WEBHOOK_URL');
    expect(error.message).toContain('WEBHOOK_URL');
  });

  it('refuses WEBHOOK_URL without WEBHOOK_SECRET, and a short secret, naming WEBHOOK_SECRET', () => {
    const missing = configError({ WEBHOOK_URL: 'https://shop.example.com/hooks' });
    expect(missing.field).toBe('WEBHOOK_SECRET');
    expect(missing.message).toMatch(/WEBHOOK_SECRET is empty while WEBHOOK_URL is set/);
    const short = configError({ WEBHOOK_URL: 'https://shop.example.com/hooks', WEBHOOK_SECRET: 'short' });
    expect(short.field).toBe('WEBHOOK_SECRET');
    expect(short.message).toMatch(/WEBHOOK_SECRET must be at least 16 characters/);
  });

  it('refuses durations without a unit or out of range, naming the variable', () => {
    expect(configError({ WEBHOOK_MAX_AGE: '24' }).field).toBe('WEBHOOK_MAX_AGE');
    expect(configError({ WEBHOOK_TIMEOUT: '1h' }).field).toBe('WEBHOOK_TIMEOUT');
    expect(configError({ WEBHOOK_BACKOFF: '2h' }).field).toBe('WEBHOOK_BACKOFF');
  });
});
