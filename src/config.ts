import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * The seed's `Settings` (app/config.py): every environment variable the service reads,
 * validated once against one schema and frozen. Nothing else in `src/` reads
 * `process.env`; modules take the values they need as options.
 */

const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true, false: false, '1': true, '0': false, yes: true, no: false, on: true, off: false,
};

const bool = (name: string) =>
  z.string().transform((value, ctx) => {
    const parsed = BOOLEAN_WORDS[value.trim().toLowerCase()];
    if (parsed === undefined) {
      ctx.addIssue({ code: 'custom', message: `${name} must be true or false (also accepted: 1/0, yes/no, on/off), got "${value}"` });
      return z.NEVER;
    }
    return parsed;
  });

const int = (name: string, min: number, max: number) =>
  z.string().transform((value, ctx) => {
    const n = Number(value.trim());
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a whole number from ${min} to ${max}, got "${value}"` });
      return z.NEVER;
    }
    return n;
  });

const httpUrl = (name: string) =>
  z.string().transform((value, ctx) => {
    const trimmed = value.trim().replace(/\/+$/, '');
    let url: URL | undefined;
    try {
      url = new URL(trimmed);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username) {
      ctx.addIssue({ code: 'custom', message: `${name} must be an http(s) URL such as http://127.0.0.1:9000 (no query, no credentials), got "${value}"` });
      return z.NEVER;
    }
    return trimmed;
  });

const oneOf = <T extends string>(name: string, values: readonly T[]) =>
  z.string().transform((value, ctx) => {
    if (!(values as readonly string[]).includes(value.trim())) {
      ctx.addIssue({ code: 'custom', message: `${name} must be one of ${values.join(', ')}, got "${value}"` });
      return z.NEVER;
    }
    return value.trim() as T;
  });

const text = z.string().transform((v) => v.trim());

const databaseUrl = z.string().transform((value, ctx) => {
  const v = value.trim();
  if (/^sqlite:.+/.test(v) || /^postgres(ql)?:\/\/.+/.test(v)) return v;
  ctx.addIssue({ code: 'custom', message: `DATABASE_URL must be sqlite:<file> or postgres://user@host:port/db, got "${value}"` });
  return z.NEVER;
});

const redisUrl = z.string().transform((value, ctx) => {
  const v = value.trim();
  if (v === '' || /^rediss?:\/\/.+/.test(v)) return v;
  ctx.addIssue({ code: 'custom', message: `REDIS_URL must be redis://host:port[/db], got "${value}"` });
  return z.NEVER;
});

const bucketName = z.string().transform((value, ctx) => {
  const v = value.trim();
  if (/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v)) return v;
  ctx.addIssue({ code: 'custom', message: `S3_BUCKET_NAME must be a valid bucket name (3-63 lowercase letters, digits, dots, hyphens), got "${value}"` });
  return z.NEVER;
});

const duration = (name: string) =>
  z.string().transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a duration such as 500ms, 30s, 5m, 1h or a number of milliseconds, got "${value}"` });
      return z.NEVER;
    }
    return ms;
  });

/** `90d`, `1h`, `30s`, `500ms` or a bare number of milliseconds. */
export function parseDuration(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) return undefined;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return Math.round(Number(match[1]) * units[match[2] ?? 'ms']!);
}

const cores = Math.max(1, availableParallelism());

// CORS_ORIGINS: empty (no cross-origin API calls), `*`, or a comma-separated list of origins.
const corsOrigins = z.string().transform((value, ctx): '*' | string[] => {
  if (value.trim() === '*') return '*';
  const origins = value.split(',').map((v) => v.trim()).filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== origin) {
      ctx.addIssue({ code: 'custom', message: `CORS_ORIGINS must be * or a comma-separated list of origins such as https://shop.example.com (scheme, host and port only, no path or trailing slash), got "${origin}"` });
      return z.NEVER;
    }
  }
  return origins;
});

const schema = z.object({
  // The seed's variables, with the seed's defaults.
  AWS_REGION: text.default('us-east-1'),
  AWS_ACCESS_KEY_ID: text.default(''),
  AWS_SECRET_ACCESS_KEY: text.default(''),
  S3_BUCKET_NAME: bucketName.default('customify-production'),
  S3_PUBLIC_BUCKET: bool('S3_PUBLIC_BUCKET').default(true),
  CLOUDFRONT_DOMAIN: text.default(''),
  USE_LOCAL_STORAGE: bool('USE_LOCAL_STORAGE').default(true),
  // S3-compatible stores and local mode.
  // No z.union with '' here: empty values never reach the schema, and a union would replace
  // the variable's own message with zod's bare "Invalid input".
  S3_ENDPOINT: httpUrl('S3_ENDPOINT').default(''),
  S3_FORCE_PATH_STYLE: bool('S3_FORCE_PATH_STYLE').optional(),
  S3_SIGNED_URL_EXPIRES: int('S3_SIGNED_URL_EXPIRES', 1, 604_800).default(3600),
  S3_SSE: oneOf('S3_SSE', ['none', 'AES256', 'aws:kms'] as const).default('none'),
  S3_SSE_KMS_KEY_ID: text.default(''),
  LOCAL_STORAGE_PATH: text.default('./storage'),
  LOCAL_STORAGE_FSYNC: bool('LOCAL_STORAGE_FSYNC').default(true),
  PUBLIC_BASE_URL: httpUrl('PUBLIC_BASE_URL').default(''),
  // Persistence and queue.
  DATABASE_URL: databaseUrl.default('sqlite:./data/customify.db'),
  REDIS_URL: redisUrl.default(''),
  RENDER_QUEUE_NAME: text.default('render-design'),
  // A render job spends most of its time waiting on storage and the database; the threads,
  // one per core, bound the CPU. Four jobs per core keep them busy (bench/e2e.bench.ts).
  RENDER_CONCURRENCY: int('RENDER_CONCURRENCY', 1, 256).default(Math.min(4 * cores, 256)),
  RENDER_THREADS: int('RENDER_THREADS', 0, 64).default(Math.min(cores, 64)),
  RENDER_MAX_RETRIES: int('RENDER_MAX_RETRIES', 0, 20).default(3),
  RENDER_BACKOFF_MS: int('RENDER_BACKOFF_MS', 0, 3_600_000).default(1000),
  PENDING_SWEEP_AFTER: duration('PENDING_SWEEP_AFTER').default(30_000),
  RENDER_LEASE: duration('RENDER_LEASE').default(30_000),
  RENDER_LOCK_DURATION: duration('RENDER_LOCK_DURATION').default(30_000),
  RENDER_STALLED_INTERVAL: duration('RENDER_STALLED_INTERVAL').default(30_000),
  PNG_COMPRESSION_LEVEL: int('PNG_COMPRESSION_LEVEL', 0, 9).default(6),
  // HTTP and auth.
  HOST: text.default('0.0.0.0'),
  PORT: int('PORT', 0, 65_535).default(8000),
  JWT_SECRET: text.default(''),
  JWKS_URL: httpUrl('JWKS_URL').default(''),
  DATA_DIR: text.default('./data'),
  NODE_ENV: text.default('development'),
  LOG_LEVEL: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const).default('info'),
  // HTTP hardening: request time limit, CORS for the API, token lifetime policy.
  REQUEST_TIMEOUT: duration('REQUEST_TIMEOUT').pipe(z.number().min(100, 'REQUEST_TIMEOUT must be at least 100ms')).default(30_000),
  CORS_ORIGINS: corsOrigins.default([]),
  JWT_CLOCK_SKEW: duration('JWT_CLOCK_SKEW').default(60_000),
  JWT_MAX_LIFETIME: duration('JWT_MAX_LIFETIME').default(7 * 86_400_000),
  LOG_FORMAT: oneOf('LOG_FORMAT', ['auto', 'json', 'pretty'] as const).default('auto'),
  // User uploads (issue #11): virus scanning and limits.
  CLAMD_HOST: text.default(''),
  CLAMD_PORT: int('CLAMD_PORT', 1, 65_535).default(3310),
  SCAN_REQUIRED: bool('SCAN_REQUIRED').optional(),
  UPLOAD_MAX_BYTES: int('UPLOAD_MAX_BYTES', 1, 1024 * 1024 * 1024).default(50 * 1024 * 1024),
  UPLOAD_MAX_PIXELS: int('UPLOAD_MAX_PIXELS', 1, 1_000_000_000).default(40_000_000),
});

export type Environment = Record<string, string | undefined>;

export interface Settings {
  awsRegion: string;
  awsAccessKeyId: string;
  awsSecretAccessKey: string;
  s3BucketName: string;
  s3PublicBucket: boolean;
  cloudfrontDomain: string;
  useLocalStorage: boolean;
  s3Endpoint: string;
  s3ForcePathStyle: boolean;
  s3SignedUrlExpires: number;
  s3Sse: 'none' | 'AES256' | 'aws:kms';
  s3SseKmsKeyId: string;
  localStoragePath: string;
  /** fsync each local write (durable across power loss); writes are atomic either way. */
  localStorageFsync: boolean;
  publicBaseUrl: string;
  /** The seed's `s3_base_url`: CloudFront, else the bucket's S3 URL, else the custom endpoint. */
  s3BaseUrl: string;
  databaseUrl: string;
  redisUrl: string;
  renderQueueName: string;
  renderConcurrency: number;
  /** Worker threads that render; 0 renders on the main thread. */
  renderThreads: number;
  renderMaxRetries: number;
  renderBackoffMs: number;
  pendingSweepAfterMs: number;
  /** How long a worker's claim on a design lasts; a crashed worker's design is taken over after it. */
  renderLeaseMs: number;
  /** BullMQ: how long a worker's job lock lasts without renewal, and how often dead workers' jobs are looked for. */
  renderLockDurationMs: number;
  renderStalledIntervalMs: number;
  pngCompressionLevel: number;
  host: string;
  port: number;
  jwtSecret: string;
  jwksUrl: string;
  dataDir: string;
  nodeEnv: string;
  isProduction: boolean;
  logLevel: string;
  /** Longest a request (headers and body) may take to arrive; 408 after it. */
  requestTimeoutMs: number;
  /** Origins allowed to call the API from a browser: none, a list, or any. */
  corsOrigins: '*' | string[];
  /** Leeway for exp, nbf and iat against our clock. */
  jwtClockSkewMs: number;
  /** Longest lifetime (exp - iat, or exp - now) of a token we mint or accept. */
  jwtMaxLifetimeMs: number;
  /** json, pretty, or auto: pretty at a terminal outside production (src/logger.ts). */
  logFormat: 'auto' | 'json' | 'pretty';
  /** clamd's address for upload scanning; '' scans nothing (embedded default, with a warning). */
  clamdHost: string;
  clamdPort: number;
  /** Refuse to start without CLAMD_HOST. Default: true in S3 mode (USE_LOCAL_STORAGE=false). */
  scanRequired: boolean;
  /** Largest upload body accepted (413 past it). */
  uploadMaxBytes: number;
  /** Largest width x height of an uploaded image (TOO_MANY_PIXELS past it). */
  uploadMaxPixels: number;
}

export function s3BaseUrl(s: Pick<Settings, 'cloudfrontDomain' | 's3BucketName' | 'awsRegion' | 's3Endpoint' | 's3ForcePathStyle'>): string {
  if (s.cloudfrontDomain) return `https://${s.cloudfrontDomain.replace(/^https?:\/\//, '').replace(/\/+$/, '')}`;
  if (s.s3Endpoint) {
    const endpoint = new URL(s.s3Endpoint);
    if (s.s3ForcePathStyle) return `${s.s3Endpoint}/${s.s3BucketName}`;
    return `${endpoint.protocol}//${s.s3BucketName}.${endpoint.host}`;
  }
  return `https://${s.s3BucketName}.s3.${s.awsRegion}.amazonaws.com`;
}

/**
 * Validates `env` (plus the `.env` file, whose values the real environment overrides) and
 * returns frozen settings. Throws a ConfigError naming the first bad variable and what it accepts.
 */
export function loadConfig(env: Environment = process.env, options: { envFile?: string | false } = {}): Readonly<Settings> {
  const envFile = options.envFile ?? '.env';
  const fromFile = envFile && existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  const merged: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key] ?? fromFile[key];
    // An empty variable means "not set", as in the seed's .env examples.
    if (value !== undefined && value.trim() !== '') merged[key] = value;
  }
  const result = schema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? 'configuration');
    throw new ConfigError(`Invalid configuration: ${issue.message.startsWith(name) ? issue.message : `${name}: ${issue.message}`}`, name);
  }
  const e = result.data;
  const s3ForcePathStyle = e.S3_FORCE_PATH_STYLE ?? e.S3_ENDPOINT !== '';
  const base = {
    awsRegion: e.AWS_REGION,
    awsAccessKeyId: e.AWS_ACCESS_KEY_ID,
    awsSecretAccessKey: e.AWS_SECRET_ACCESS_KEY,
    s3BucketName: e.S3_BUCKET_NAME,
    s3PublicBucket: e.S3_PUBLIC_BUCKET,
    cloudfrontDomain: e.CLOUDFRONT_DOMAIN,
    useLocalStorage: e.USE_LOCAL_STORAGE,
    s3Endpoint: e.S3_ENDPOINT,
    s3ForcePathStyle,
  };
  if (Boolean(base.awsAccessKeyId) !== Boolean(base.awsSecretAccessKey)) {
    const missing = base.awsAccessKeyId ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID';
    throw new ConfigError(
      `Invalid configuration: ${missing} is empty while its pair is set. Set both keys, or neither to use the SDK's default credential chain (IAM role, profile).`,
      missing,
    );
  }
  const nodeEnv = e.NODE_ENV;
  const settings: Settings = {
    ...base,
    s3SignedUrlExpires: e.S3_SIGNED_URL_EXPIRES,
    s3Sse: e.S3_SSE,
    s3SseKmsKeyId: e.S3_SSE_KMS_KEY_ID,
    localStoragePath: e.LOCAL_STORAGE_PATH,
    localStorageFsync: e.LOCAL_STORAGE_FSYNC,
    // Local URLs follow PORT unless told otherwise: http://localhost:8000 by default.
    publicBaseUrl: e.PUBLIC_BASE_URL || `http://localhost:${e.PORT}`,
    s3BaseUrl: s3BaseUrl(base),
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    renderQueueName: e.RENDER_QUEUE_NAME,
    renderConcurrency: e.RENDER_CONCURRENCY,
    renderThreads: e.RENDER_THREADS,
    renderMaxRetries: e.RENDER_MAX_RETRIES,
    renderBackoffMs: e.RENDER_BACKOFF_MS,
    pendingSweepAfterMs: e.PENDING_SWEEP_AFTER,
    renderLeaseMs: e.RENDER_LEASE,
    renderLockDurationMs: e.RENDER_LOCK_DURATION,
    renderStalledIntervalMs: e.RENDER_STALLED_INTERVAL,
    pngCompressionLevel: e.PNG_COMPRESSION_LEVEL,
    host: e.HOST,
    port: e.PORT,
    jwtSecret: e.JWT_SECRET,
    jwksUrl: e.JWKS_URL,
    dataDir: e.DATA_DIR,
    nodeEnv,
    isProduction: nodeEnv === 'production',
    logLevel: e.LOG_LEVEL,
    requestTimeoutMs: e.REQUEST_TIMEOUT,
    corsOrigins: e.CORS_ORIGINS,
    jwtClockSkewMs: e.JWT_CLOCK_SKEW,
    jwtMaxLifetimeMs: e.JWT_MAX_LIFETIME,
    logFormat: e.LOG_FORMAT,
    clamdHost: e.CLAMD_HOST,
    clamdPort: e.CLAMD_PORT,
    scanRequired: e.SCAN_REQUIRED ?? !e.USE_LOCAL_STORAGE,
    uploadMaxBytes: e.UPLOAD_MAX_BYTES,
    uploadMaxPixels: e.UPLOAD_MAX_PIXELS,
  };
  return Object.freeze(settings);
}

let cached: Readonly<Settings> | undefined;

/** The process's settings, read on first use. */
export function getConfig(): Readonly<Settings> {
  cached ??= loadConfig();
  return cached;
}

/** Settings for tests and tools: defaults, overridden by `overrides`, without reading the process environment or `.env`. */
export function configFrom(overrides: Environment = {}): Readonly<Settings> {
  return loadConfig(overrides, { envFile: false });
}
