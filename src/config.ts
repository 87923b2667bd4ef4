import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { DEFAULT_PRINT_SPECS, parsePrintSpecsJson, type PrintSpecs } from './print/print-specs.js';
import { DEFAULT_IMAGE_FORMATS, DEFAULT_RENDITIONS, parseImageFormats, parseRenditions, type ImageFormat, type Rendition } from './rendering/rendition-config.js';
import { DURATION_EXAMPLES, DurationError, formatDuration, parseDuration, type DurationUnit } from './shared/duration.js';

/**
 * The seed's `Settings` (app/config.py): every environment variable the service reads,
 * validated once against one schema and frozen. Nothing else in `src/` reads
 * `process.env`; modules take the values they need as options.
 *
 * VARIABLES below is that schema and the only list: one line per variable names the setting,
 * its environment variable, its type (which says what it accepts) and its default. The
 * `Settings` type is derived from it. Every bad value is reported at once.
 */

// Each type's message completes "<NAME> ...", and the loader appends `, got "<value>"`.
const fail = (ctx: z.RefinementCtx, message: string): never => {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
};

const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true, false: false, '1': true, '0': false, yes: true, no: false, on: true, off: false,
};

const bool = () =>
  z.string().transform((value, ctx) => BOOLEAN_WORDS[value.trim().toLowerCase()] ?? fail(ctx, 'must be true or false (also accepted: 1/0, yes/no, on/off)'));

const int = (min: number, max: number) =>
  z.string().transform((value, ctx) => {
    const n = Number(value.trim());
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) return fail(ctx, `must be a whole number from ${min} to ${max}`);
    return n;
  });

/**
 * A duration in whole milliseconds (see src/shared/duration.ts): a unit is required, unless
 * the variable's name or history fixes one (`bareUnit`). `max` defaults to the longest
 * timer Node can set (about 24.8 days).
 */
const duration = (options: { min?: number; max?: number; bareUnit?: DurationUnit } = {}) => {
  const { min = 1, max = 2 ** 31 - 1, bareUnit } = options;
  const accepts = `${bareUnit ? `a number of ${bareUnit === 's' ? 'seconds' : 'milliseconds'} or ` : ''}a duration such as ${DURATION_EXAMPLES}, from ${formatDuration(min)} to ${formatDuration(max)}`;
  return z.string().transform((value, ctx) => {
    let ms: number;
    try {
      ms = parseDuration(value, { bareUnit });
    } catch (error) {
      if (!(error instanceof DurationError)) throw error;
      return fail(ctx, `must be ${accepts} (${error.message})`);
    }
    return ms < min || ms > max ? fail(ctx, `must be ${accepts}`) : ms;
  });
};

const oneOf = <T extends string>(values: readonly T[]) =>
  z.string().transform((value, ctx) =>
    (values as readonly string[]).includes(value.trim()) ? (value.trim() as T) : fail(ctx, `must be one of ${values.join(', ')}`));

const text = () => z.string().transform((v) => v.trim());

/** Keys, secrets, ids: one token, no spaces (a space or line break there is a paste accident). */
const token = () => z.string().transform((value, ctx) => (/^\S+$/.test(value.trim()) ? value.trim() : fail(ctx, 'must not contain spaces or line breaks')));

const httpUrl = (options: { path?: boolean } = {}) =>
  z.string().transform((value, ctx) => {
    const trimmed = value.trim().replace(/\/+$/, '');
    const url = URL.canParse(trimmed) ? new URL(trimmed) : undefined;
    const ok = url && (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash && !url.username && !/\s/.test(trimmed) &&
      (options.path !== false || url.pathname === '/');
    return ok ? trimmed : fail(ctx, `must be an http(s) URL such as http://127.0.0.1:9000 (no ${options.path === false ? 'path, ' : ''}query, no credentials)`);
  });

/**
 * WEBHOOK_URL: operator configuration, not user input, yet only http: and https: are
 * accepted (a query string is allowed: some receivers take a token there).
 */
const webhookUrl = () =>
  z.string().transform((value, ctx) => {
    const trimmed = value.trim();
    const url = URL.canParse(trimmed) ? new URL(trimmed) : undefined;
    if (!url || /\s/.test(trimmed)) return fail(ctx, 'must be an http(s) URL such as https://shop.example.com/hooks/customify');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(ctx, `must be an http:// or https:// URL, not ${url.protocol}// (webhooks are POSTed over HTTP)`);
    return url.username || url.password ? fail(ctx, 'must not carry credentials (user:password@): the signature authenticates each request') : trimmed;
  });

/** A shared secret: one token of at least `min` characters. */
const secret = (min: number) =>
  z.string().transform((value, ctx) => {
    const v = value.trim();
    if (!/^\S+$/.test(v)) return fail(ctx, 'must not contain spaces or line breaks');
    return v.length >= min ? v : fail(ctx, `must be at least ${min} characters (a random string, e.g. \`openssl rand -hex 32\`)`);
  });

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** A host name or IP address to listen on: no scheme, no port. */
const host = () =>
  z.string().transform((value, ctx) => {
    const v = value.trim();
    return isIP(v) || HOSTNAME.test(v) ? v : fail(ctx, 'must be a host name or IP address such as 0.0.0.0, 127.0.0.1, :: or localhost (no scheme, no port: the port is PORT)');
  });

/** A CDN domain; `https://` and a trailing slash are tolerated and dropped. */
const domain = () =>
  z.string().transform((value, ctx) => {
    const v = value.trim().replace(/^https?:\/\//i, '').replace(/\/+$/, '');
    return HOSTNAME.test(v) && v.includes('.') ? v.toLowerCase() : fail(ctx, 'must be a domain name such as d123abc.cloudfront.net (no path)');
  });

/**
 * AWS's spelling (`us-east-1`, `eu-central-1`, `us-gov-west-1`); an S3-compatible store
 * (S3_ENDPOINT set) may name its region otherwise, which the cross-checks allow.
 */
const region = () =>
  z.string().transform((value, ctx) => {
    const v = value.trim();
    return /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/.test(v) ? v : fail(ctx, 'must be a region name such as us-east-1 or eu-central-1 (lowercase letters, digits and hyphens)');
  });
const AWS_REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

const databaseUrl = () =>
  z.string().transform((value, ctx) => {
    const v = value.trim();
    const accepts = 'must be sqlite:<file> or postgres://user@host:port/db';
    if (/^sqlite:.+/.test(v)) return v;
    if (!/^postgres(ql)?:\/\/.+/.test(v) || !URL.canParse(v) || /\s/.test(v)) return fail(ctx, accepts);
    return new URL(v).hostname ? v : fail(ctx, `${accepts} (the URL has no host)`);
  });

const redisUrl = () =>
  z.string().transform((value, ctx) => {
    const v = value.trim();
    const accepts = 'must be redis://host:port[/db] or rediss://… (db a number from 0 to 15)';
    if (!/^rediss?:\/\/.+/.test(v) || !URL.canParse(v) || /\s/.test(v)) return fail(ctx, accepts);
    const url = new URL(v);
    const db = url.pathname.replace(/^\//, '');
    return url.hostname && (db === '' || /^(?:\d|1[0-5])$/.test(db)) ? v : fail(ctx, accepts);
  });

/** S3's bucket naming rules, including the ones a plausible name breaks (`a..b`, an IP address). */
const bucketName = () =>
  z.string().transform((value, ctx) => {
    const v = value.trim();
    const valid = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v) && !/\.\.|\.-|-\./.test(v) && !isIP(v) && !/^xn--|^sthree-|-s3alias$|--ol-s3$/.test(v);
    return valid ? v : fail(ctx, 'must be a valid bucket name (3-63 lowercase letters, digits, dots, hyphens; no "..", no IP address)');
  });

/** BullMQ builds Redis keys from the queue name with ':' as separator. */
const queueName = () =>
  z.string().transform((value, ctx) => (/^[A-Za-z0-9_.-]{1,100}$/.test(value.trim()) ? value.trim() : fail(ctx, 'must be 1-100 letters, digits, _ . - (no ":" or spaces)')));

/** CORS_ORIGINS: empty (no cross-origin API calls), `*`, or a comma-separated list of origins. */
const corsOrigins = () =>
  z.string().transform((value, ctx): '*' | string[] => {
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
        return fail(ctx, `must be * or a comma-separated list of origins such as https://shop.example.com (scheme, host and port only, no path or trailing slash), got "${origin}"`);
      }
    }
    return origins;
  });

/** A decimal number from min to max (WATERMARK_OPACITY). */
const fraction = (min: number, max: number) =>
  z.string().transform((value, ctx) => {
    const v = value.trim();
    const n = Number(v);
    return /^\d*\.?\d+$/.test(v) && n >= min && n <= max ? n : fail(ctx, `must be a number from ${min} to ${max}, such as 0.35`);
  });

/** RENDITIONS: `name:size` pairs, comma-separated (src/rendering/renditions.ts says what is allowed). */
const renditions = () =>
  z.string().transform((value, ctx): Rendition[] => {
    const parsed = parseRenditions(value);
    return 'renditions' in parsed ? parsed.renditions : fail(ctx, parsed.problem);
  });

/** IMAGE_FORMATS: a comma-separated subset of png, webp, avif that includes png. */
const imageFormats = () =>
  z.string().transform((value, ctx): ImageFormat[] => {
    const parsed = parseImageFormats(value);
    return 'formats' in parsed ? parsed.formats : fail(ctx, parsed.problem);
  });

const cores = Math.max(1, availableParallelism());

/** One environment variable: its name and its type, with `.default()` or `.optional()`. */
const variable = <T extends z.ZodType>(name: string, type: T) => ({ name, type });

/**
 * Every variable, as `settingName: variable('ENV_NAME', type().default(value))`.
 * Adding a variable is adding a line here (and a row to README's configuration table).
 */
const VARIABLES = {
  // The seed's variables, with the seed's defaults.
  awsRegion: variable('AWS_REGION', region().default('us-east-1')),
  awsAccessKeyId: variable('AWS_ACCESS_KEY_ID', token().default('')),
  awsSecretAccessKey: variable('AWS_SECRET_ACCESS_KEY', token().default('')),
  s3BucketName: variable('S3_BUCKET_NAME', bucketName().default('customify-production')),
  s3PublicBucket: variable('S3_PUBLIC_BUCKET', bool().default(true)),
  cloudfrontDomain: variable('CLOUDFRONT_DOMAIN', domain().default('')),
  useLocalStorage: variable('USE_LOCAL_STORAGE', bool().default(true)),
  // S3-compatible stores and local mode.
  s3Endpoint: variable('S3_ENDPOINT', httpUrl({ path: false }).default('')),
  /** Path-style addressing; defaults to on when S3_ENDPOINT is set. */
  s3ForcePathStyle: variable('S3_FORCE_PATH_STYLE', bool().optional()),
  /** Seconds a signed URL is valid: a bare number is seconds, as in the seed. */
  s3SignedUrlExpires: variable('S3_SIGNED_URL_EXPIRES', duration({ bareUnit: 's', min: 1_000, max: 604_800_000 }).transform((ms, ctx) =>
    ms % 1000 === 0 ? ms / 1000 : fail(ctx, 'must be whole seconds')).default(3600)),
  s3Sse: variable('S3_SSE', oneOf(['none', 'AES256', 'aws:kms'] as const).default('none')),
  s3SseKmsKeyId: variable('S3_SSE_KMS_KEY_ID', token().default('')),
  localStoragePath: variable('LOCAL_STORAGE_PATH', text().default('./storage')),
  /** fsync each local write (durable across power loss); writes are atomic either way. */
  localStorageFsync: variable('LOCAL_STORAGE_FSYNC', bool().default(true)),
  /** Where the API is reached; defaults to http://localhost:PORT. */
  publicBaseUrl: variable('PUBLIC_BASE_URL', httpUrl().default('')),
  // Persistence and queue.
  databaseUrl: variable('DATABASE_URL', databaseUrl().default('sqlite:./data/customify.db')),
  redisUrl: variable('REDIS_URL', redisUrl().default('')),
  renderQueueName: variable('RENDER_QUEUE_NAME', queueName().default('render-design')),
  // A render job spends most of its time waiting on storage and the database. Four jobs per
  // core keep the CPU busy (bench/e2e.bench.ts).
  renderConcurrency: variable('RENDER_CONCURRENCY', int(1, 256).default(Math.min(4 * cores, 256))),
  /**
   * Worker threads that render; 0 (the default) renders on the main thread. sharp already
   * does the pixel work on libuv's threads; on 2 cores render threads cost 20-50 % more CPU
   * per design, lowered throughput and added about 40 MB of memory each (BENCHMARKS.md,
   * "Render threads, measured again"), so scaling out is by processes (`customify worker`).
   */
  renderThreads: variable('RENDER_THREADS', int(0, 64).default(0)),
  renderMaxRetries: variable('RENDER_MAX_RETRIES', int(0, 20).default(3)),
  /** First retry delay in ms (the name says the unit, so a bare number is milliseconds). */
  renderBackoffMs: variable('RENDER_BACKOFF_MS', duration({ bareUnit: 'ms', min: 0, max: 3_600_000 }).default(1000)),
  pendingSweepAfterMs: variable('PENDING_SWEEP_AFTER', duration().default(30_000)),
  /** How long a worker's claim on a design lasts; a crashed worker's design is taken over after it. */
  renderLeaseMs: variable('RENDER_LEASE', duration().default(30_000)),
  /** BullMQ: how long a worker's job lock lasts without renewal, and how often dead workers' jobs are looked for. */
  renderLockDurationMs: variable('RENDER_LOCK_DURATION', duration().default(30_000)),
  renderStalledIntervalMs: variable('RENDER_STALLED_INTERVAL', duration().default(30_000)),
  pngCompressionLevel: variable('PNG_COMPRESSION_LEVEL', int(0, 9).default(6)),
  // HTTP and auth.
  host: variable('HOST', host().default('0.0.0.0')),
  port: variable('PORT', int(0, 65_535).default(8000)),
  jwtSecret: variable('JWT_SECRET', text().default('')),
  jwksUrl: variable('JWKS_URL', httpUrl().default('')),
  dataDir: variable('DATA_DIR', text().default('./data')),
  nodeEnv: variable('NODE_ENV', oneOf(['development', 'production', 'test'] as const).default('development')),
  logLevel: variable('LOG_LEVEL', oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const).default('info')),
  // HTTP hardening: request time limit, CORS for the API, token lifetime policy, log format.
  /** Longest a request (headers and body) may take to arrive; 408 after it. */
  requestTimeoutMs: variable('REQUEST_TIMEOUT', duration({ min: 100 }).default(30_000)),
  /** Origins allowed to call the API from a browser: none, a list, or any. */
  corsOrigins: variable('CORS_ORIGINS', corsOrigins().default([])),
  /** Leeway for exp, nbf and iat against our clock. */
  jwtClockSkewMs: variable('JWT_CLOCK_SKEW', duration({ min: 0 }).default(60_000)),
  /** Longest lifetime (exp - iat, or exp - now) of a token we mint or accept. */
  jwtMaxLifetimeMs: variable('JWT_MAX_LIFETIME', duration().default(7 * 86_400_000)),
  /** json, pretty, or auto: pretty at a terminal outside production (src/logger.ts). */
  logFormat: variable('LOG_FORMAT', oneOf(['auto', 'json', 'pretty'] as const).default('auto')),
  // User uploads (issue #11): virus scanning and limits.
  /** clamd's address for upload scanning; '' scans nothing (embedded default, with a warning). */
  clamdHost: variable('CLAMD_HOST', text().default('')),
  clamdPort: variable('CLAMD_PORT', int(1, 65_535).default(3310)),
  /**
   * clamd's StreamMaxLength in bytes, when known: longer files are refused (TOO_LARGE) before
   * being sent, and serve/worker refuse to start if UPLOAD_MAX_BYTES is above it. 0: unknown
   * (customify doctor then checks that clamd takes UPLOAD_MAX_BYTES).
   */
  clamdStreamMaxBytes: variable('CLAMD_STREAM_MAX_BYTES', int(0, 4 * 1024 * 1024 * 1024).default(0)),
  /** Refuse to start without CLAMD_HOST. Default: true in S3 mode (USE_LOCAL_STORAGE=false). */
  scanRequired: variable('SCAN_REQUIRED', bool().optional()),
  /** Largest upload body accepted (413 past it). */
  uploadMaxBytes: variable('UPLOAD_MAX_BYTES', int(1, 1024 * 1024 * 1024).default(50 * 1024 * 1024)),
  /** Largest avatar body accepted by PUT /api/v1/users/me/avatar (413 past it). */
  avatarMaxBytes: variable('AVATAR_MAX_BYTES', int(1, 1024 * 1024 * 1024).default(10 * 1024 * 1024)),
  /** Largest width x height of an uploaded image (TOO_MANY_PIXELS past it). */
  uploadMaxPixels: variable('UPLOAD_MAX_PIXELS', int(1, 1_000_000_000).default(40_000_000)),
  /** How long a resumable (tus) upload may stay unfinished; after it the upload answers 410 and `customify cleanup` removes it. */
  uploadExpiryMs: variable('UPLOAD_EXPIRY', duration({ min: 1_000, max: 365 * 86_400_000 }).default(24 * 3_600_000)),
  /** Longest one upload request (POST /api/v1/uploads, or one tus POST/PATCH) may take to arrive; 408 after it. */
  uploadTimeoutMs: variable('UPLOAD_TIMEOUT', duration({ min: 100 }).default(15 * 60_000)),
  // Print files (issue #12).
  /** A JSON file whose entries override the built-in print specs (src/print/print-specs.ts); '' uses the built-in table. */
  printSpecsFile: variable('PRINT_SPECS_FILE', text().default('')),
  /** Print jobs at once per process: each holds a full-size canvas (t-shirt: 3600x4800 RGBA, 69 MB). */
  printConcurrency: variable('PRINT_CONCURRENCY', int(1, 64).default(1)),
  // Instant previews (issue #14): POST /api/v1/previews renders on the request, so each user is held to a rate.
  /** Previews one user may ask for per PREVIEW_RATE_WINDOW (429 with Retry-After past it). */
  previewRateLimit: variable('PREVIEW_RATE_LIMIT', int(1, 1_000_000).default(120)),
  previewRateWindowMs: variable('PREVIEW_RATE_WINDOW', duration({ min: 1_000, max: 86_400_000 }).default(60_000)),
  // Live status (issue #14): Server-Sent Events at /api/v1/events and /api/v1/designs/{id}/events.
  /** Events kept for resuming with Last-Event-ID (in memory, or in the Redis stream); older ids get `reset`. */
  eventReplayWindow: variable('EVENT_REPLAY_WINDOW', int(1, 1_000_000).default(1000)),
  /** How often an idle event stream sends a `: keep-alive` comment (proxies close silent connections). */
  sseHeartbeatMs: variable('SSE_HEARTBEAT', duration({ min: 100, max: 3_600_000 }).default(15_000)),
  /** Bytes an event stream may hold unsent for a client that does not read; past it the connection is dropped. */
  sseMaxBufferedBytes: variable('SSE_MAX_BUFFERED_BYTES', int(1024, 1024 * 1024 * 1024).default(1024 * 1024)),
  // Web renditions, immutable URLs, CDN invalidation and watermarks (issue #13).
  /** Sizes of every design's images, `name:pixels` (square); `preview` and `thumbnail` are the seed's and required. */
  renditions: variable('RENDITIONS', renditions().default(() => [...DEFAULT_RENDITIONS])),
  /** Formats of every rendition; `png` is the seed's and required (preview_url, thumbnail_url). */
  imageFormats: variable('IMAGE_FORMATS', imageFormats().default(() => [...DEFAULT_IMAGE_FORMATS])),
  /** How long a superseded version of a design's images stays served after a re-render replaced it. */
  assetGracePeriodMs: variable('ASSET_GRACE_PERIOD', duration({ min: 0 }).default(3_600_000)),
  /** CloudFront distribution whose cache is invalidated when stored bytes change in place or are deleted; '' invalidates nothing. */
  cloudfrontDistributionId: variable('CLOUDFRONT_DISTRIBUTION_ID', token().default('')),
  /** CloudFront API endpoint; '' is AWS's. Set for a contract test or a proxy. */
  cloudfrontEndpoint: variable('CLOUDFRONT_ENDPOINT', httpUrl().default('')),
  /** Text drawn over watermarked renditions; '' for none. Drawn literally (no markup). */
  watermarkText: variable('WATERMARK_TEXT', z.string().default('')),
  /** A PNG file drawn over watermarked renditions; '' for none. Checked at start. */
  watermarkImage: variable('WATERMARK_IMAGE', text().default('')),
  /** How opaque the watermark is, from 0.05 to 1. */
  watermarkOpacity: variable('WATERMARK_OPACITY', fraction(0.05, 1).default(0.35)),
  /** `tile` repeats it across the image; `corner` puts it once in the bottom-right corner. */
  watermarkPlacement: variable('WATERMARK_PLACEMENT', oneOf(['tile', 'corner'] as const).default('tile')),
  /** Renditions smaller than this (pixels) never carry a watermark: the 200 px thumbnail stays clean by default. */
  watermarkMinSize: variable('WATERMARK_MIN_SIZE', int(1, 4096).default(400)),
  /** Whether a design gets a watermark when its request does not say (`watermark` in the design). */
  watermarkDefault: variable('WATERMARK_DEFAULT', bool().default(false)),
  // Signed webhooks (issue #14): design.published, design.failed, upload.published, upload.rejected.
  /** Where events are POSTed; '' sends none (and records none). */
  webhookUrl: variable('WEBHOOK_URL', webhookUrl().default('')),
  /** The HMAC-SHA256 key of Customify-Signature; required with WEBHOOK_URL. */
  webhookSecret: variable('WEBHOOK_SECRET', secret(16).default('')),
  /** How long an event is retried (since it happened) before it is given up (status failed). */
  webhookMaxAgeMs: variable('WEBHOOK_MAX_AGE', duration({ min: 1_000 }).default(24 * 3_600_000)),
  /** Longest one delivery may take (connect, send, answer headers); a timeout is retried. */
  webhookTimeoutMs: variable('WEBHOOK_TIMEOUT', duration({ min: 100, max: 300_000 }).default(10_000)),
  /** Retry step, doubled for each failure after the first; each wait is a random point in its upper half (first retry after half to all of it), at most 1 h. */
  webhookBackoffMs: variable('WEBHOOK_BACKOFF', duration({ min: 10, max: 3_600_000 }).default(10_000)),
};

type Variables = typeof VARIABLES;

/** The validated settings: one field per variable (typed by its schema), and the values derived from them. */
export type Settings = Omit<{ [K in keyof Variables]: z.output<Variables[K]['type']> }, 's3ForcePathStyle' | 'scanRequired'> & {
  s3ForcePathStyle: boolean;
  scanRequired: boolean;
  /** The seed's `s3_base_url`: CloudFront, else the bucket's S3 URL, else the custom endpoint. */
  s3BaseUrl: string;
  isProduction: boolean;
  /** The print specs: the built-in table with PRINT_SPECS_FILE's entries over it, checked at start. */
  printSpecs: PrintSpecs;
};

/** The environment variables the service reads, in the order above. */
export const VARIABLE_NAMES: readonly string[] = Object.values(VARIABLES).map((v) => v.name);

const schema = z.object(Object.fromEntries(Object.values(VARIABLES).map((v) => [v.name, v.type])));

export type Environment = Record<string, string | undefined>;

export function s3BaseUrl(s: Pick<Settings, 'cloudfrontDomain' | 's3BucketName' | 'awsRegion' | 's3Endpoint' | 's3ForcePathStyle'>): string {
  if (s.cloudfrontDomain) return `https://${s.cloudfrontDomain.replace(/^https?:\/\//, '').replace(/\/+$/, '')}`;
  if (s.s3Endpoint) {
    const endpoint = new URL(s.s3Endpoint);
    if (s.s3ForcePathStyle) return `${s.s3Endpoint}/${s.s3BucketName}`;
    return `${endpoint.protocol}//${s.s3BucketName}.${endpoint.host}`;
  }
  return `https://${s.s3BucketName}.s3.${s.awsRegion}.amazonaws.com`;
}

/** Every bad variable, each with the message that says what it accepts. */
export class InvalidConfigurationError extends ConfigError {
  constructor(readonly problems: ReadonlyArray<{ name: string; message: string }>) {
    super(
      problems.length === 1
        ? `Invalid configuration: ${problems[0]!.message}`
        : `Invalid configuration, ${problems.length} problems:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`,
      problems[0]!.name,
    );
  }
}

/** Rules between variables, checked on the raw values so they are reported with the rest. */
function crossChecks(raw: Record<string, string>): Array<{ name: string; message: string }> {
  const problems: Array<{ name: string; message: string }> = [];
  if (Boolean(raw.AWS_ACCESS_KEY_ID) !== Boolean(raw.AWS_SECRET_ACCESS_KEY)) {
    const missing = raw.AWS_ACCESS_KEY_ID ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID';
    problems.push({ name: missing, message: `${missing} is empty while its pair is set. Set both keys, or neither to use the SDK's default credential chain (IAM role, profile).` });
  }
  const region = raw.AWS_REGION?.trim();
  if (region && !raw.S3_ENDPOINT && !AWS_REGION.test(region)) {
    problems.push({ name: 'AWS_REGION', message: `AWS_REGION must be an AWS region such as us-east-1, eu-central-1 or ap-southeast-2, got ${JSON.stringify(raw.AWS_REGION)} (with S3_ENDPOINT set, any name the store uses is accepted)` });
  }
  if (raw.S3_SSE_KMS_KEY_ID && raw.S3_SSE?.trim() !== 'aws:kms') {
    problems.push({ name: 'S3_SSE_KMS_KEY_ID', message: `S3_SSE_KMS_KEY_ID is set (${JSON.stringify(raw.S3_SSE_KMS_KEY_ID)}) but S3_SSE is ${JSON.stringify(raw.S3_SSE ?? 'none')}, so the key would not be used: set S3_SSE=aws:kms, or unset S3_SSE_KMS_KEY_ID` });
  }
  if (raw.WEBHOOK_URL && !raw.WEBHOOK_SECRET) {
    problems.push({ name: 'WEBHOOK_SECRET', message: 'WEBHOOK_SECRET is empty while WEBHOOK_URL is set: events would go unsigned. Set WEBHOOK_SECRET to a random string of at least 16 characters (openssl rand -hex 32), and give the receiver the same value to check Customify-Signature.' });
  }
  return problems;
}

/**
 * Validates `env` (plus the `.env` file, whose values the real environment overrides) and
 * returns frozen settings. Throws an InvalidConfigurationError (a ConfigError) listing every
 * bad variable and what it accepts; its `field` is the first one's name.
 */
export function loadConfig(env: Environment = process.env, options: { envFile?: string | false } = {}): Readonly<Settings> {
  const envFile = options.envFile ?? '.env';
  const fromFile = envFile && existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  const raw: Record<string, string> = {};
  for (const name of VARIABLE_NAMES) {
    const value = env[name] ?? fromFile[name];
    // An empty variable means "not set", as in the seed's .env examples.
    if (value !== undefined && value.trim() !== '') raw[name] = value;
  }
  const problems: Array<{ name: string; message: string }> = [];
  for (const [name, value] of Object.entries(raw)) {
    // `docker run --env-file` and systemd keep quotes that a shell would remove.
    if (/^(["']).*\1$/s.test(value.trim())) problems.push({ name, message: `${name} is wrapped in quotes, got ${JSON.stringify(value)}: remove them (docker --env-file and systemd keep quotes as part of the value)` });
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = String(issue.path[0] ?? 'configuration');
      if (problems.some((p) => p.name === name)) continue;
      problems.push({ name, message: `${name} ${issue.message}, got ${JSON.stringify(raw[name] ?? '')}` });
    }
  }
  problems.push(...crossChecks(raw).filter((c) => !problems.some((p) => p.name === c.name)));
  const printSpecs = raw.PRINT_SPECS_FILE === undefined ? DEFAULT_PRINT_SPECS : loadPrintSpecs(raw.PRINT_SPECS_FILE.trim(), problems);
  if (problems.length > 0 || !result.success) throw new InvalidConfigurationError(problems);

  const byName = result.data as Record<string, unknown>;
  const e = Object.fromEntries(Object.entries(VARIABLES).map(([key, v]) => [key, byName[v.name]])) as { [K in keyof Variables]: z.output<Variables[K]['type']> };
  const s3ForcePathStyle = e.s3ForcePathStyle ?? e.s3Endpoint !== '';
  const settings: Settings = {
    ...e,
    s3ForcePathStyle,
    scanRequired: e.scanRequired ?? !e.useLocalStorage,
    // Local URLs follow PORT unless told otherwise: http://localhost:8000 by default.
    publicBaseUrl: e.publicBaseUrl || `http://localhost:${e.port}`,
    s3BaseUrl: s3BaseUrl({ ...e, s3ForcePathStyle }),
    isProduction: e.nodeEnv === 'production',
    printSpecs,
  };
  return Object.freeze(settings);
}

/**
 * PRINT_SPECS_FILE read and checked (src/print/print-specs.ts); each problem names the file,
 * the entry (product type) and the field, and is added to `problems`.
 */
function loadPrintSpecs(file: string, problems: Array<{ name: string; message: string }>): PrintSpecs {
  const name = 'PRINT_SPECS_FILE';
  let json: string;
  try {
    json = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    problems.push({ name, message: `${name} ${JSON.stringify(file)} cannot be read (${reason}): point it at a JSON file of print specs, or unset it` });
    return DEFAULT_PRINT_SPECS;
  }
  const parsed = parsePrintSpecsJson(json);
  if ('specs' in parsed) return parsed.specs;
  for (const problem of parsed.problems) {
    const where = problem.entry === '' ? '' : problem.field === '' ? ` entry ${JSON.stringify(problem.entry)}` : ` entry ${JSON.stringify(problem.entry)} field ${JSON.stringify(problem.field)}`;
    problems.push({ name, message: `${name} ${JSON.stringify(file)}${where} ${problem.message}` });
  }
  return DEFAULT_PRINT_SPECS;
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
