import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom, InvalidConfigurationError, loadConfig, s3BaseUrl, VARIABLE_NAMES } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/** The ConfigError `run` throws; fails the test if it throws anything else or nothing. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it("defaults equal the seed's Settings", () => {
    const s = configFrom();
    expect(s).toMatchObject({
      awsRegion: 'us-east-1',
      awsAccessKeyId: '',
      awsSecretAccessKey: '',
      s3BucketName: 'customify-production',
      s3PublicBucket: true,
      cloudfrontDomain: '',
      useLocalStorage: true,
      s3SignedUrlExpires: 3600,
      localStoragePath: './storage',
      publicBaseUrl: 'http://localhost:8000',
      s3BaseUrl: 'https://customify-production.s3.us-east-1.amazonaws.com',
      s3Endpoint: '',
      s3ForcePathStyle: false,
      s3Sse: 'none',
      port: 8000,
    });
  });

  it('reads the seed\'s variables', () => {
    const s = configFrom({
      AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 'secret', S3_BUCKET_NAME: 'customify-dev',
      S3_PUBLIC_BUCKET: 'false', CLOUDFRONT_DOMAIN: 'd123abc.cloudfront.net', USE_LOCAL_STORAGE: 'false',
    });
    expect(s).toMatchObject({
      awsRegion: 'eu-west-1', awsAccessKeyId: 'AKIA', awsSecretAccessKey: 'secret', s3BucketName: 'customify-dev',
      s3PublicBucket: false, useLocalStorage: false, s3BaseUrl: 'https://d123abc.cloudfront.net',
    });
  });

  it.each([
    ['true', true], ['false', false], ['1', true], ['0', false], ['yes', true], ['no', false], ['on', true], ['OFF', false], [' True ', true],
  ])('S3_PUBLIC_BUCKET=%j reads as %s', (value, expected) => {
    expect(configFrom({ S3_PUBLIC_BUCKET: value }).s3PublicBucket).toBe(expected);
  });

  it('a custom endpoint turns on path-style addressing unless S3_FORCE_PATH_STYLE says otherwise; trailing slashes go', () => {
    expect(configFrom({ S3_ENDPOINT: 'http://127.0.0.1:7480/' })).toMatchObject({ s3Endpoint: 'http://127.0.0.1:7480', s3ForcePathStyle: true });
    expect(configFrom({ S3_ENDPOINT: 'http://127.0.0.1:7480', S3_FORCE_PATH_STYLE: 'false' }).s3ForcePathStyle).toBe(false);
  });

  it.each([
    ['S3_PUBLIC_BUCKET', 'maybe', /true or false/],
    ['USE_LOCAL_STORAGE', 'perhaps', /true or false/],
    ['S3_ENDPOINT', 'not a url', /http\(s\) URL/],
    ['S3_ENDPOINT', 'ftp://x', /http\(s\) URL/],
    ['S3_ENDPOINT', 'http://user:pass@host:9000', /no credentials/],
    ['S3_FORCE_PATH_STYLE', 'sometimes', /true or false/],
    ['JWKS_URL', 'not a url', /http\(s\) URL/],
    ['PUBLIC_BASE_URL', 'localhost:8000', /http\(s\) URL/],
    ['S3_SIGNED_URL_EXPIRES', '-5', /number of seconds or a duration .*from 1s to 1w/],
    ['S3_SIGNED_URL_EXPIRES', '1.5', /whole seconds/],
    ['S3_SIGNED_URL_EXPIRES', '604801', /number of seconds or a duration .*from 1s to 1w/],
    ['S3_SSE', 'rot13', /one of none, AES256, aws:kms/],
    ['S3_BUCKET_NAME', 'Bad_Bucket', /valid bucket name/],
    ['PORT', 'abc', /whole number from 0 to 65535/],
    ['DATABASE_URL', 'mysql://x', /sqlite:<file> or postgres:\/\//],
    ['RENDER_THREADS', '-1', /whole number from 0 to 64/],
    ['RENDER_CONCURRENCY', '0', /whole number from 1 to 256/],
    // Values that look right and are not.
    ['AWS_REGION', 'us east', /region name such as us-east-1/],
    ['AWS_REGION', 'US-EAST-1', /region name such as us-east-1/],
    ['AWS_REGION', 'us-east', /AWS region such as us-east-1/],
    ['AWS_REGION', 'useast1', /AWS region such as us-east-1/],
    ['AWS_ACCESS_KEY_ID', 'AKIA 123', /no spaces|must not contain spaces/],
    ['NODE_ENV', 'prod', /one of development, production, test/],
    ['NODE_ENV', 'Production', /one of development, production, test/],
    ['LOG_LEVEL', 'verbose', /one of fatal, error/],
    ['HOST', 'http://0.0.0.0', /host name or IP address/],
    ['HOST', '127.0.0.1:8000', /host name or IP address/],
    ['S3_BUCKET_NAME', 'my..bucket', /valid bucket name/],
    ['S3_BUCKET_NAME', '192.168.1.10', /valid bucket name/],
    ['S3_ENDPOINT', 'http://127.0.0.1:7480/bucket', /no path/],
    ['CLOUDFRONT_DOMAIN', 'd123abc.cloudfront.net/assets', /domain name such as d123abc.cloudfront.net/],
    ['CLOUDFRONT_DOMAIN', 'cloudfront', /domain name/],
    ['REDIS_URL', 'redis://127.0.0.1:6379/99', /db a number from 0 to 15/],
    ['REDIS_URL', '127.0.0.1:6379', /redis:\/\/host:port/],
    ['DATABASE_URL', 'postgres://', /sqlite:<file> or postgres:\/\//],
    ['DATABASE_URL', 'postgres://user@host:99999/db', /sqlite:<file> or postgres:\/\//],
    ['RENDER_QUEUE_NAME', 'render:design', /no ":"/],
    ['RENDER_LEASE', '30', /has no unit/],
    ['RENDER_LEASE', '30 sec', /unknown unit/],
    ['PENDING_SWEEP_AFTER', '0s', /from 1ms/],
    ['RENDER_LOCK_DURATION', '30d', /to 2147483647ms|to \d/],
    ['RENDER_BACKOFF_MS', '2h', /from 0ms to 1h/],
    ['PORT', '"8000"', /wrapped in quotes/],
    ['S3_SSE_KMS_KEY_ID', 'arn:aws:kms:us-east-1:1:key/abc', /S3_SSE is "none"/],
  ])('%s=%j is refused with a ConfigError naming the variable and what it accepts', (name, value, accepts) => {
    const error = configError(() => configFrom({ [name]: value }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.field).toBe(name);
    expect(error.message).toContain(name);
    expect(error.message).toContain(JSON.stringify(value));
    expect(error.message).toMatch(accepts);
  });

  it('reports every bad variable at once, each with what it accepts; field names the first', () => {
    const error = configError(() => configFrom({ PORT: 'abc', AWS_REGION: 'us east', NODE_ENV: 'prod', RENDER_LEASE: '30', AWS_ACCESS_KEY_ID: 'AKIA' }));
    expect(error).toBeInstanceOf(InvalidConfigurationError);
    const problems = (error as InvalidConfigurationError).problems.map((p) => p.name);
    expect(problems.sort()).toEqual(['AWS_REGION', 'AWS_SECRET_ACCESS_KEY', 'NODE_ENV', 'PORT', 'RENDER_LEASE']);
    expect(error.message).toMatch(/^Invalid configuration, 5 problems:\n/);
    for (const line of ['PORT must be a whole number', 'AWS_REGION must be a region name', 'NODE_ENV must be one of', 'RENDER_LEASE must be a duration', 'AWS_SECRET_ACCESS_KEY is empty']) {
      expect(error.message).toContain(line);
    }
    expect(problems).toContain(error.field);
  });

  it('accepts what S3-compatible stores and real deployments use', () => {
    expect(configFrom({ S3_ENDPOINT: 'http://127.0.0.1:7480', AWS_REGION: 'default' }).awsRegion).toBe('default');
    expect(configFrom({ AWS_REGION: 'us-gov-west-1' }).awsRegion).toBe('us-gov-west-1');
    expect(configFrom({ HOST: '::' }).host).toBe('::');
    expect(configFrom({ HOST: 'localhost' }).host).toBe('localhost');
    expect(configFrom({ CLOUDFRONT_DOMAIN: 'https://D123.cloudfront.net/' }).cloudfrontDomain).toBe('d123.cloudfront.net');
    expect(configFrom({ S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: 'alias/customify' }).s3SseKmsKeyId).toBe('alias/customify');
    expect(configFrom({ REDIS_URL: 'rediss://:secret@redis.example.com:6380/2' }).redisUrl).toBe('rediss://:secret@redis.example.com:6380/2');
    expect(configFrom({ NODE_ENV: 'production' }).isProduction).toBe(true);
  });

  it('README documents every variable the schema reads', async () => {
    const readme = await readFile(path.join(import.meta.dirname, '../../README.md'), 'utf8');
    const missing = VARIABLE_NAMES.filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('renders on the main thread by default; RENDER_THREADS sets render threads', () => {
    expect(configFrom({}).renderThreads).toBe(0);
    expect(configFrom({}).renderConcurrency).toBe(4 * availableParallelism());
    expect(configFrom({ RENDER_THREADS: '0' }).renderThreads).toBe(0);
    expect(configFrom({ RENDER_THREADS: '3' }).renderThreads).toBe(3);
  });

  it('only one of the AWS keys set: the error names the missing one', () => {
    const noSecret = configError(() => configFrom({ AWS_ACCESS_KEY_ID: 'AKIA' }));
    expect(noSecret.field).toBe('AWS_SECRET_ACCESS_KEY');
    expect(noSecret.message).toContain('AWS_SECRET_ACCESS_KEY is empty');
    const noId = configError(() => configFrom({ AWS_SECRET_ACCESS_KEY: 'secret' }));
    expect(noId.field).toBe('AWS_ACCESS_KEY_ID');
    expect(noId.message).toContain('AWS_ACCESS_KEY_ID is empty');
  });

  it('empty keys are fine (the SDK\'s default chain: IAM role, profile), and empty values mean "not set"', () => {
    expect(configFrom({ AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' })).toMatchObject({ awsAccessKeyId: '', awsSecretAccessKey: '' });
    expect(configFrom({ AWS_REGION: '', S3_PUBLIC_BUCKET: ' ', PORT: '' })).toMatchObject({ awsRegion: 'us-east-1', s3PublicBucket: true, port: 8000 });
  });

  it('the result is frozen', () => {
    const s = configFrom();
    expect(Object.isFrozen(s)).toBe(true);
    expect(() => {
      (s as { s3BucketName: string }).s3BucketName = 'other';
    }).toThrow(TypeError);
  });

  describe('.env file', () => {
    let dir: string;
    let envFile: string;
    beforeAll(async () => {
      dir = await createTempDir('dotenv');
      envFile = path.join(dir, '.env');
      await writeFile(envFile, [
        '# the seed\'s .env',
        'AWS_REGION=eu-central-1',
        'S3_BUCKET_NAME=customify-dev',
        'USE_LOCAL_STORAGE=false',
        'S3_PUBLIC_BUCKET=false',
        'AWS_ACCESS_KEY_ID=from-file',
        'AWS_SECRET_ACCESS_KEY=from-file-secret',
      ].join('\n'));
    });
    afterAll(async () => {
      await removeTempDir(dir);
    });

    it('values are read from the file', () => {
      expect(loadConfig({}, { envFile })).toMatchObject({
        awsRegion: 'eu-central-1', s3BucketName: 'customify-dev', useLocalStorage: false, s3PublicBucket: false,
        awsAccessKeyId: 'from-file', s3BaseUrl: 'https://customify-dev.s3.eu-central-1.amazonaws.com',
      });
    });

    it('the real environment overrides the file', () => {
      expect(loadConfig({ AWS_REGION: 'us-west-2', S3_PUBLIC_BUCKET: 'true' }, { envFile })).toMatchObject({
        awsRegion: 'us-west-2', s3PublicBucket: true, s3BucketName: 'customify-dev',
      });
    });

    it('a missing file is not an error; envFile: false ignores it', () => {
      expect(loadConfig({}, { envFile: path.join(dir, 'absent.env') }).awsRegion).toBe('us-east-1');
      expect(loadConfig({}, { envFile: false }).awsRegion).toBe('us-east-1');
    });

    it('a bad value in the file is refused like one in the environment', async () => {
      const bad = path.join(dir, 'bad.env');
      await writeFile(bad, 'S3_SSE=rot13\n');
      expect(configError(() => loadConfig({}, { envFile: bad })).field).toBe('S3_SSE');
    });
  });
});

describe('s3BaseUrl (the seed\'s s3_base_url)', () => {
  const base = { cloudfrontDomain: '', s3BucketName: 'customify-production', awsRegion: 'us-east-1', s3Endpoint: '', s3ForcePathStyle: false };

  it.each([
    ['AWS default', {}, 'https://customify-production.s3.us-east-1.amazonaws.com'],
    ['another region', { awsRegion: 'ap-southeast-2' }, 'https://customify-production.s3.ap-southeast-2.amazonaws.com'],
    ['CloudFront', { cloudfrontDomain: 'd123abc.cloudfront.net' }, 'https://d123abc.cloudfront.net'],
    ['CloudFront given as a URL with a slash', { cloudfrontDomain: 'https://d123abc.cloudfront.net/' }, 'https://d123abc.cloudfront.net'],
    ['CloudFront wins over an endpoint', { cloudfrontDomain: 'd123abc.cloudfront.net', s3Endpoint: 'http://127.0.0.1:7480', s3ForcePathStyle: true }, 'https://d123abc.cloudfront.net'],
    ['custom endpoint, path-style', { s3Endpoint: 'http://127.0.0.1:7480', s3ForcePathStyle: true }, 'http://127.0.0.1:7480/customify-production'],
    ['custom endpoint, virtual-hosted', { s3Endpoint: 'https://minio.example.com:9000', s3ForcePathStyle: false }, 'https://customify-production.minio.example.com:9000'],
  ])('%s', (_name, overrides, expected) => {
    expect(s3BaseUrl({ ...base, ...overrides })).toBe(expected);
  });
});
