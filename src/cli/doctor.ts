import { randomBytes, randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import type { Settings } from '../config.js';
import { closeDatabase, createDatabase } from '../db/database.js';
import { redactUrl } from '../shared/redact-url.js';
import { withTimeout } from '../shared/timeout.js';
import { ConfigError, describeError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { createStorageLayer, isStorageError, type ObjectStorage } from '../storage/index.js';
import { PUBLIC_READ_PATTERNS, printFileKey } from '../storage/keys.js';
import { makeFolders } from '../storage/make-folders.js';
import { corsGaps, publicReadResources, readBucketCors } from '../storage/s3-bucket-setup.js';
import type { S3Driver } from '../storage/s3.driver.js';
import { awsCliTarget } from '../storage/s3.errors.js';
import { ClamdScanner, EICAR_TEST_FILE, isScanError } from '../scanning/index.js';
import { migrationStatus, missingSqliteFile } from './database-status.js';
import { formatBytes, plural } from './format.js';

/**
 * `customify doctor`: the seed's Troubleshooting section as a command. Each check prints
 * one line, `ok  <what>`, `FAIL <what>: <what to do>` or `skip <what>: <why>`, and the
 * command exits 1 when any check failed.
 */

type Print = (line: string) => void;
type SettingsSource = Readonly<Settings> | (() => Readonly<Settings>);

export type CheckStatus = 'ok' | 'fail' | 'skip';

export interface CheckResult {
  status: CheckStatus;
  what: string;
  /** For FAIL: what to do. For skip: why. */
  detail?: string;
}

export interface DoctorDeps {
  print: Print;
  /** For the anonymous and signed-URL reads; the global fetch by default. */
  fetch?: typeof fetch;
  /** Per network check (fetch, database, Redis). Default 5 s. */
  timeoutMs?: number;
}

export interface DoctorReport {
  ok: boolean;
  results: CheckResult[];
  /** A group of checks ran past its deadline and was left running. */
  abandoned: boolean;
}

const PROBE_BODY = 'customify doctor probe: safe to delete\n';

/** The publicly readable patterns (PUBLIC_READ_PATTERNS) in one phrase, for messages. */
const PUBLIC_READ_LIST = `${PUBLIC_READ_PATTERNS.slice(0, -1).join(', ')} and ${PUBLIC_READ_PATTERNS.at(-1)}`;

class Checklist {
  readonly results: CheckResult[];
  /** A check ran past its deadline and may still hold the process (an fs call cannot be cancelled). */
  abandoned = false;
  private closed = false;

  constructor(
    private readonly print: Print,
    results: CheckResult[] = [],
  ) {
    this.results = results;
  }

  /** A checklist that adds to this one until closed; then what it is told is dropped. */
  view(): Checklist {
    return new Checklist(this.print, this.results);
  }

  close(): void {
    this.closed = true;
  }

  ok(what: string): void {
    this.add({ status: 'ok', what }, `ok  ${what}`);
  }

  fail(what: string, fix: string): void {
    this.add({ status: 'fail', what, detail: fix }, `FAIL ${what}: ${fix}`);
  }

  skip(what: string, why: string): void {
    this.add({ status: 'skip', what, detail: why }, `skip ${what}: ${why}`);
  }

  private add(result: CheckResult, line: string): void {
    if (this.closed) return;
    this.results.push(result);
    this.print(line);
  }
}

/**
 * Runs every check and prints each line as it completes. `settings` may be a loader, so
 * that a configuration error becomes the first FAIL line instead of an exception.
 * Never throws for a failed check; only for bugs.
 */
export async function runDoctor(source: SettingsSource, deps: DoctorDeps): Promise<DoctorReport> {
  const list = new Checklist(deps.print);
  const ctx = { list, fetch: deps.fetch ?? globalThis.fetch, timeoutMs: deps.timeoutMs ?? 5_000 };
  let settings: Readonly<Settings>;
  try {
    settings = typeof source === 'function' ? source() : source;
    list.ok(`configuration loads (NODE_ENV=${settings.nodeEnv})`);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    list.fail('configuration', error.message.replace(/^Invalid configuration: /, ''));
    return finish(list);
  }
  checkAuth(list, settings);
  const t = ctx.timeoutMs;
  // Every check has a deadline, the file-system ones too: a hung NFS mount or a path the
  // kernel answers strangely must cost one FAIL line, not the whole command.
  if (settings.useLocalStorage) await withDeadline(ctx, 'local storage checks', 3 * t, (c) => checkLocalStorage(c, settings));
  else await withDeadline(ctx, 'S3 checks', 6 * t, (c) => checkS3Storage(c, settings));
  await withDeadline(ctx, 'database check', 3 * t, (c) => checkDatabase(c, settings));
  await withDeadline(ctx, 'Redis check', 3 * t, (c) => checkRedis(c, settings));
  await withDeadline(ctx, 'virus scanner check', 6 * t, (c) => checkScanner(c, settings));
  return finish(list);
}

/**
 * Runs one group of checks with its own view of the checklist; past `ms`, prints a FAIL
 * line and moves on, and whatever the abandoned group prints later is dropped.
 */
async function withDeadline(ctx: Context, what: string, ms: number, run: (ctx: Context) => Promise<void>): Promise<void> {
  const view = ctx.list.view();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), ms);
  });
  try {
    const outcome = await Promise.race([run({ ...ctx, list: view }).then(() => 'done' as const), expired]);
    if (outcome === 'expired') {
      view.close();
      ctx.list.abandoned = true;
      ctx.list.fail(what, `did not finish within ${ms / 1000} s (a hung file system or an unreachable service?): check what the lines above point at and run customify doctor again.`);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** `customify doctor`: exit 0 when every check passed, 1 otherwise. */
export async function doctorCommand(source: SettingsSource, print: Print): Promise<number> {
  const report = await runDoctor(source, { print });
  const problems = report.results.filter((r) => r.status === 'fail').length;
  print(report.ok ? 'All checks passed.' : `${plural(problems, 'problem')} found: fix the FAIL lines above and run customify doctor again.`);
  const code = report.ok ? 0 : 1;
  // A file-system call past its deadline cannot be cancelled and keeps Node's loop alive:
  // exit once the answer is printed rather than wait for it. (Unref'd: a clean run exits by itself.)
  if (report.abandoned) setTimeout(() => process.exit(code), 200).unref();
  return code;
}

function finish(list: Checklist): DoctorReport {
  return { ok: list.results.every((r) => r.status !== 'fail'), results: list.results, abandoned: list.abandoned };
}

interface Context {
  list: Checklist;
  fetch: typeof fetch;
  timeoutMs: number;
}

// ---------------------------------------------------------------------------------------

function checkAuth(list: Checklist, s: Readonly<Settings>): void {
  if (s.jwtSecret) {
    if (Buffer.byteLength(s.jwtSecret) < 32) list.fail('auth', 'JWT_SECRET must be at least 32 bytes long: generate one with openssl rand -hex 32.');
    else list.ok(`auth: HS256 tokens signed with JWT_SECRET${s.jwksUrl ? ', and tokens from JWKS_URL' : ''}`);
  } else if (s.jwksUrl) {
    list.ok(`auth: tokens verified through JWKS_URL ${s.jwksUrl}`);
  } else if (s.isProduction) {
    list.fail('auth', 'JWT_SECRET is required when NODE_ENV=production: generate one with openssl rand -hex 32, or set JWKS_URL for an identity provider.');
  } else {
    list.ok(`auth: development secret kept in ${path.join(s.dataDir, 'jwt-secret')} (set JWT_SECRET in production)`);
  }
}

// ---------------------------------------------------------------------------------------
// Local mode: the seed's "Local storage not working".

async function checkLocalStorage(ctx: Context, s: Readonly<Settings>): Promise<void> {
  const { list } = ctx;
  const root = path.resolve(s.localStoragePath);
  list.ok(`storage mode: local disk (USE_LOCAL_STORAGE=true), LOCAL_STORAGE_PATH=${root}`);
  const what = `LOCAL_STORAGE_PATH ${root}`;
  const usable = await (async (): Promise<boolean> => {
    try {
      const info = await stat(root);
      if (!info.isDirectory()) {
        list.fail(what, 'it is a file, not a folder: set LOCAL_STORAGE_PATH to a folder (or move the file away).');
        return false;
      }
      list.ok(`${what} is a folder`);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') {
        list.fail(what, 'a part of this path is a file, not a folder: set LOCAL_STORAGE_PATH to a folder path.');
        return false;
      }
      if (code !== 'ENOENT') {
        list.fail(what, `cannot be read (${describeError(error)}): make it readable by this user, or set LOCAL_STORAGE_PATH to another folder.`);
        return false;
      }
    }
    try {
      // Not mkdir({ recursive }): it reports EROFS as ENOENT, and loops forever under /proc.
      await makeFolders(root);
      list.ok(`${what} did not exist: created it`);
      return true;
    } catch (error) {
      list.fail(what, `does not exist and cannot be created (${whyNoFolder(error)}): ${fixNoFolder((error as NodeJS.ErrnoException).code, root)}`);
      return false;
    }
  })();
  if (!usable) {
    list.skip('probe file', 'LOCAL_STORAGE_PATH is not a usable folder');
    return;
  }
  const { storage } = await createStorageLayer(s, { logger: silentLogger });
  try {
    await probeObject(ctx, storage, {
      write: 'write a probe file under LOCAL_STORAGE_PATH',
      read: 'read it back',
      remove: 'delete it',
    }, () => {
      list.skip('public URLs', `served by customify serve at ${s.publicBaseUrl}/static/…, which is not checked here`);
    });
  } finally {
    await storage.close();
  }
}

function whyNoFolder(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOTDIR' || code === 'EEXIST') return 'a part of this path is a file, not a folder';
  if (code === 'EROFS') return 'EROFS: the file system is read-only';
  if (code === 'EACCES' || code === 'EPERM') return `${code}: permission denied`;
  if (code === 'ENOSPC') return 'ENOSPC: the disk is full';
  if (code === 'EDQUOT') return 'EDQUOT: the disk quota is used up';
  return describeError(error);
}

function fixNoFolder(code: string | undefined, root: string): string {
  const elsewhere = 'or set LOCAL_STORAGE_PATH to another folder.';
  if (code === 'EROFS') return `mount that file system read-write (mount -o remount,rw, or drop :ro from the container volume), ${elsewhere}`;
  if (code === 'ENOSPC' || code === 'EDQUOT') return `free space on that disk, ${elsewhere}`;
  if (code === 'ENOENT') return 'set LOCAL_STORAGE_PATH to a folder on a real disk (not /proc or /sys).';
  return `create it (mkdir -p ${root}) and make it writable by this user, ${elsewhere}`;
}

// ---------------------------------------------------------------------------------------
// S3 mode: the seed's "NoCredentialsError", "Access Denied" and AWS Setup.

async function checkS3Storage(ctx: Context, s: Readonly<Settings>): Promise<void> {
  const { list } = ctx;
  list.ok(
    `storage mode: S3 (USE_LOCAL_STORAGE=false), bucket "${s.s3BucketName}" in ${s.awsRegion}` +
      `${s.s3Endpoint ? ` at ${s.s3Endpoint}` : ''}, S3_PUBLIC_BUCKET=${s.s3PublicBucket}`,
  );
  const { storage } = await createStorageLayer(s, { logger: silentLogger });
  try {
    const driver = storage.driver as S3Driver;
    if (!(await checkCredentials(list, s, driver))) return list.skip('bucket, permissions and public access', 'no credentials to check them with');
    if ((await checkBucket(list, s, storage, driver)) === 'stop') return list.skip('permissions and public access', 'fix the line above first');

    try {
      await storage.list('doctor/', { limit: 1 });
      list.ok('list objects (s3:ListBucket, needed by customify cleanup)');
    } catch (error) {
      list.fail('list objects', messageOf(error));
    }

    await checkCors(list, driver);

    await probeObject(ctx, storage, {
      write: 'upload a probe object (s3:PutObject)',
      read: 'read it back (s3:GetObject)',
      remove: 'delete it (s3:DeleteObject)',
    }, (key) => checkPublicAccess(ctx, s, storage, key));

    if (s.s3PublicBucket) await checkPrivatePrefixes(ctx, s, storage);
  } finally {
    await storage.close();
  }
}

/**
 * A public bucket must still keep `staging/` and `quarantine/` private (the seed's policy on
 * `bucket/*` publishes unscanned and infected uploads to anyone who has the key), and the
 * print files under `designs/` too (a policy on `designs/*` publishes them: production files,
 * issue #12). One probe each, read anonymously.
 */
async function checkPrivatePrefixes(ctx: Context, s: Readonly<Settings>, storage: ObjectStorage): Promise<void> {
  const { list } = ctx;
  const probes = [
    { what: 'private uploads', where: 'staging/', key: `staging/doctor-probe-${randomBytes(8).toString('hex')}`, exposed: 'staging/ and quarantine/ (unscanned and infected uploads)' },
    { what: 'private print files', where: 'designs/<id>/print.pdf', key: printFileKey(randomUUID(), 'pdf'), exposed: 'print files (designs/<id>/print.pdf and print.png)' },
  ];
  for (const probe of probes) {
    if (s.cloudfrontDomain) {
      list.skip(probe.what, `CLOUDFRONT_DOMAIN is set, so URLs point at the CDN, which is not checked from here; check that the bucket policy allows anonymous reads only of ${PUBLIC_READ_LIST}`);
      continue;
    }
    try {
      await storage.put(probe.key, Buffer.from(PROBE_BODY), { contentType: 'text/plain', kind: 'doctor' });
    } catch (error) {
      list.fail(probe.what, `cannot write a probe under ${probe.where} to check it is not public: ${messageOf(error)}`);
      continue;
    }
    try {
      const url = storage.publicUrl(probe.key);
      const answer = await fetchStatus(ctx, url);
      if (answer.status === 200) {
        list.fail(
          probe.what,
          `an anonymous GET of ${url} answered 200: the bucket policy makes ${probe.exposed} public. ` +
            `Run node bin/customify.js s3 setup-policy, which replaces it with one that allows anonymous reads only of ${PUBLIC_READ_LIST}.`,
        );
      } else if (answer.status === undefined) {
        list.fail(probe.what, `could not GET ${url} to check that ${probe.where} is not public (${answer.describe}): check S3_ENDPOINT and network access.`);
      } else {
        list.ok(`${probe.what}: an anonymous GET under ${probe.where} answers ${answer.status}`);
      }
    } finally {
      await storage.deleteMany([probe.key]).catch(() => []);
    }
  }
}

async function checkCredentials(list: Checklist, s: Readonly<Settings>, driver: S3Driver): Promise<boolean> {
  if (s.awsAccessKeyId) {
    list.ok(`credentials configured: AWS_ACCESS_KEY_ID=${mask(s.awsAccessKeyId)} and AWS_SECRET_ACCESS_KEY are set`);
    return true;
  }
  try {
    // The SDK's default chain: environment, profile, SSO, container or instance role.
    await driver.client.config.credentials();
    list.ok('credentials: found by the AWS SDK default chain (AWS_ACCESS_KEY_ID is not set: IAM role or profile)');
    return true;
  } catch {
    list.fail('credentials', 'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (in .env or the environment), or run with an IAM role (EC2/ECS/EKS) or an AWS profile, then restart the worker.');
    return false;
  }
}

/** 'ok', 'unknown' (cannot tell, go on), or 'stop' (nothing else can work). */
async function checkBucket(list: Checklist, s: Readonly<Settings>, storage: ObjectStorage, driver: S3Driver): Promise<'ok' | 'unknown' | 'stop'> {
  const what = `bucket "${s.s3BucketName}"`;
  try {
    await driver.assertBucket();
    list.ok(`${what} exists in region ${s.awsRegion}`);
    return 'ok';
  } catch (error) {
    if (isStorageError(error, 'STORAGE_ACCESS_DENIED')) {
      // HEAD answers a bare 403 both for wrong keys and for a missing permission; a
      // listing's error body tells them apart.
      try {
        await storage.list('doctor/', { limit: 1 });
      } catch (listError) {
        if (isStorageError(listError, 'STORAGE_INVALID_CREDENTIALS')) {
          list.fail('credentials', messageOf(listError));
          return 'stop';
        }
      }
      list.fail(what, `cannot check that it exists: ${messageOf(error)}`);
      return 'unknown';
    }
    if (isStorageError(error, 'STORAGE_INVALID_CREDENTIALS')) {
      list.fail('credentials', messageOf(error));
      return 'stop';
    }
    list.fail(isStorageError(error, 'STORAGE_UNAVAILABLE') ? 'S3 endpoint' : what, messageOf(error));
    return 'stop';
  }
}

/** The seed's bucket setup allows cross-origin GET and HEAD from any origin with any header. */
async function checkCors(list: Checklist, driver: S3Driver): Promise<void> {
  let gaps: string[];
  try {
    gaps = corsGaps(await readBucketCors(driver));
  } catch (error) {
    list.fail('bucket CORS', `cannot read the bucket's CORS rules: ${messageOf(error)}`);
    return;
  }
  if (gaps.length === 0) {
    list.ok('bucket CORS: GET and HEAD allowed from any origin with any header (the seed\'s rules)');
  } else {
    list.fail(
      'bucket CORS',
      `${gaps.join('; ')}, so web pages on other origins cannot fetch previews with fetch() or canvas. ` +
        `Apply the seed's rules with customify s3 setup-cors (or aws s3api put-bucket-cors --bucket ${driver.bucket} ${awsCliTarget(driver)} ` +
        `--cors-configuration '{"CORSRules":[{"AllowedHeaders":["*"],"AllowedMethods":["GET","HEAD"],"AllowedOrigins":["*"]}]}').`,
    );
  }
}

async function checkPublicAccess(ctx: Context, s: Readonly<Settings>, storage: ObjectStorage, key: string): Promise<void> {
  const { list } = ctx;
  if (s.cloudfrontDomain) {
    list.skip('public read', `CLOUDFRONT_DOMAIN is set, so public URLs point at the CDN (${storage.publicUrl(key)}), which is not checked from here; open a published preview URL to check it`);
  } else {
    const url = storage.publicUrl(key);
    const answer = await fetchStatus(ctx, url);
    if (s.s3PublicBucket) {
      if (answer.status === 200 && answer.body === PROBE_BODY) {
        list.ok(`public read: an anonymous GET of ${url} answers 200`);
      } else {
        list.fail(
          'public read',
          `an anonymous GET of ${url} answered ${answer.describe}, but S3_PUBLIC_BUCKET=true hands out such URLs: add the PublicReadGetObject bucket policy ` +
            `(Allow s3:GetObject to Principal "*" on ${publicReadResources(s.s3BucketName).join(', ')}; customify s3 setup-policy applies it; on AWS first allow public policies in Block Public Access), or set S3_PUBLIC_BUCKET=false to hand out signed URLs.`,
        );
      }
    } else if (answer.status === 200) {
      list.fail(
        'private bucket',
        `an anonymous GET of ${url} answered 200: the bucket is public although S3_PUBLIC_BUCKET=false. Remove the public-read bucket policy or ACL (and turn Block Public Access on), or set S3_PUBLIC_BUCKET=true if public is intended.`,
      );
    } else if (answer.status === undefined) {
      list.fail('private bucket', `could not GET ${url} to check it is not public (${answer.describe}): check S3_ENDPOINT and network access.`);
    } else {
      list.ok(`private bucket: an anonymous GET answers ${answer.status}`);
    }
  }
  if (!s.s3PublicBucket) {
    let signed: string;
    try {
      signed = await storage.signedUrl(key, 300);
    } catch (error) {
      list.fail('signed URL', messageOf(error));
      return;
    }
    const answer = await fetchStatus(ctx, signed);
    if (answer.status === 200 && answer.body === PROBE_BODY) {
      list.ok('signed URL: a presigned GET answers 200');
    } else {
      list.fail(
        'signed URL',
        `a presigned GET answered ${answer.describe}: check that the credentials have s3:GetObject, that this machine's clock is right (signatures expire), and S3_ENDPOINT / AWS_REGION.`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------
// Both modes: write, read and delete a probe object through the storage layer.

async function probeObject(
  ctx: Context,
  storage: ObjectStorage,
  labels: { write: string; read: string; remove: string },
  whileStored: (key: string) => void | Promise<void>,
): Promise<void> {
  const { list } = ctx;
  const key = `doctor/probe-${randomBytes(8).toString('hex')}.txt`;
  try {
    await storage.put(key, Buffer.from(PROBE_BODY), { contentType: 'text/plain', kind: 'doctor' });
    list.ok(`${labels.write}: ${key}`);
  } catch (error) {
    list.fail(labels.write, messageOf(error));
    return;
  }
  let deleted = false;
  try {
    try {
      const info = await storage.head(key);
      const object = info ? await storage.get(key) : undefined;
      const body = object ? await readAll(object.body) : undefined;
      if (body === PROBE_BODY) list.ok(labels.read);
      else list.fail(labels.read, info ? 'the probe came back with different content: check for a proxy or another process rewriting objects.' : 'the probe was not found right after it was written: check that nothing else deletes objects under doctor/.');
    } catch (error) {
      list.fail(labels.read, messageOf(error));
    }
    await whileStored(key);
    try {
      // deleteMany (DeleteObjects) needs s3:DeleteObject only; delete() checks existence
      // first, which would also need s3:GetObject and blur what this line reports.
      deleted = (await storage.deleteMany([key])).includes(key);
      if (deleted) list.ok(labels.remove);
      else list.fail(labels.remove, 'the probe was already gone: check that nothing else deletes objects under doctor/.');
    } catch (error) {
      list.fail(labels.remove, `${messageOf(error)} (remove ${key} by hand)`);
      deleted = true; // retrying the same denied call below would not help
    }
  } finally {
    if (!deleted) await storage.deleteMany([key]).catch(() => []);
  }
}

// ---------------------------------------------------------------------------------------

async function checkDatabase(ctx: Context, s: Readonly<Settings>): Promise<void> {
  const { list } = ctx;
  const shown = redactUrl(s.databaseUrl);
  const what = `database ${shown}`;
  const missing = missingSqliteFile(s.databaseUrl);
  if (missing) {
    list.ok(`${what}: no file yet; customify migrate (or the first start) creates it`);
    return;
  }
  const db = createDatabase(s.databaseUrl);
  try {
    await withTimeout(sql`select 1`.execute(db), ctx.timeoutMs, () => new Error(`no answer within ${ctx.timeoutMs} ms`));
    const { applied, pending } = await withTimeout(migrationStatus(db), ctx.timeoutMs, () => new Error(`no answer within ${ctx.timeoutMs} ms`));
    list.ok(
      pending.length === 0
        ? `${what}: connected, migrations up to date (${applied.length} applied)`
        : `${what}: connected; ${plural(pending.length, 'migration')} pending (${pending.join(', ')}), applied at the next start or by customify migrate`,
    );
  } catch (error) {
    list.fail(what, `cannot use it (${describeError(error)}): check DATABASE_URL and that the database server is running and reachable.`);
  } finally {
    await withTimeout(closeDatabase(db), ctx.timeoutMs, () => new Error(`close within ${ctx.timeoutMs} ms`)).catch(() => undefined);
  }
}

async function checkRedis(ctx: Context, s: Readonly<Settings>): Promise<void> {
  const { list } = ctx;
  if (!s.redisUrl) {
    list.skip('Redis', 'REDIS_URL is not set; customify serve renders in-process (set REDIS_URL to run separate workers)');
    return;
  }
  const shown = redactUrl(s.redisUrl);
  const { Redis } = await import('ioredis');
  const redis = new Redis(s.redisUrl, {
    lazyConnect: true,
    connectTimeout: ctx.timeoutMs,
    commandTimeout: ctx.timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  redis.on('error', (error: unknown) => (lastError = error));
  try {
    await redis.connect();
    const pong = await redis.ping();
    if (pong !== 'PONG') throw new Error(`PING answered ${String(pong)}`);
    list.ok(`Redis at REDIS_URL=${shown} answers PING`);
    const policy = /maxmemory_policy:(\S+)/.exec(await redis.info('memory').catch(() => ''))?.[1];
    if (policy && policy !== 'noeviction') {
      list.fail('Redis maxmemory-policy', `is ${policy}; BullMQ needs noeviction or queued renders can be evicted: redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf).`);
    }
  } catch (error) {
    const cause = (error as NodeJS.ErrnoException).code ? error : (lastError ?? error);
    list.fail(`Redis at REDIS_URL=${shown}`, `cannot connect (${describeError(cause)}): start Redis or fix REDIS_URL, or unset it to render in-process.`);
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------
// Uploads' virus scanner (issue #11): clamd answers, really detects, and takes our largest file.

async function checkScanner(ctx: Context, s: Readonly<Settings>): Promise<void> {
  const { list } = ctx;
  if (!s.clamdHost) {
    if (s.scanRequired) list.fail('virus scanner', 'SCAN_REQUIRED is true but CLAMD_HOST is not set: customify serve and worker refuse to start. Set CLAMD_HOST (and CLAMD_PORT) to a running clamd.');
    else list.skip('virus scanner', 'CLAMD_HOST is not set: uploads are published unscanned (set CLAMD_HOST, and SCAN_REQUIRED=true, in production)');
    return;
  }
  const where = `clamd at CLAMD_HOST=${s.clamdHost} CLAMD_PORT=${s.clamdPort}`;
  const scanner = new ClamdScanner({ host: s.clamdHost, port: s.clamdPort, connectTimeoutMs: ctx.timeoutMs, readTimeoutMs: ctx.timeoutMs });
  try {
    list.ok(`${where} answers (${await scanner.version()})`);
  } catch (error) {
    list.fail(where, `${errorText(error)} Uploads stay SCANNING until it answers.`);
    return;
  }
  // A clamd without signatures answers every scan "OK": only a known virus proves it scans.
  try {
    const verdict = await scanner.scan(Buffer.from(EICAR_TEST_FILE));
    if (verdict.status === 'infected') list.ok(`${where} detects the EICAR test file (${verdict.signature})`);
    else {
      list.fail(`${where} EICAR test`, 'clamd answered that the EICAR test file is clean: its signature database is missing or empty, so uploads are not really scanned. ' +
        'Run freshclam (or check DatabaseDirectory in clamd.conf) and restart clamd.');
    }
  } catch (error) {
    list.fail(`${where} EICAR test`, errorText(error));
  }
  await checkStreamLimit(ctx, s, scanner, where);
}

/** Sends UPLOAD_MAX_BYTES (zeros, generated as sent) so a file we accept is never one clamd refuses. */
async function checkStreamLimit(ctx: Context, s: Readonly<Settings>, scanner: ClamdScanner, where: string): Promise<void> {
  const { list } = ctx;
  const max = s.uploadMaxBytes;
  const fix = `set StreamMaxLength in clamd.conf to at least ${max} (UPLOAD_MAX_BYTES) and restart clamd, or lower UPLOAD_MAX_BYTES`;
  if (s.clamdStreamMaxBytes > 0 && s.clamdStreamMaxBytes < max) {
    list.fail('CLAMD_STREAM_MAX_BYTES', `${s.clamdStreamMaxBytes} is below UPLOAD_MAX_BYTES (${max}): files in between could never be scanned; ${fix} (and CLAMD_STREAM_MAX_BYTES with it).`);
    return;
  }
  const zeros = Buffer.alloc(Math.min(max, 1024 * 1024));
  function* pieces(): Generator<Buffer> {
    for (let left = max; left > 0; left -= zeros.length) yield left >= zeros.length ? zeros : zeros.subarray(0, left);
  }
  try {
    await scanner.scan(Readable.from(pieces()));
    list.ok(`${where} takes a file of UPLOAD_MAX_BYTES (${formatBytes(max)})`);
  } catch (error) {
    if (isScanError(error) && error.code === 'SCAN_TOO_LARGE') list.fail(`${where} StreamMaxLength`, `clamd refused a stream of UPLOAD_MAX_BYTES (${max} bytes): uploads that large could never be scanned; ${fix}.`);
    else list.fail(`${where} stream of UPLOAD_MAX_BYTES`, errorText(error));
  }
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return /[.!]$/.test(text) ? text : `${text}.`;
}

// ---------------------------------------------------------------------------------------

interface FetchAnswer {
  status: number | undefined;
  body: string | undefined;
  describe: string;
}

async function fetchStatus(ctx: Context, url: string): Promise<FetchAnswer> {
  try {
    const response = await ctx.fetch(url, { signal: AbortSignal.timeout(ctx.timeoutMs), redirect: 'manual' });
    const body = await response.text();
    return { status: response.status, body, describe: `${response.status}` };
  } catch (error) {
    return { status: undefined, body: undefined, describe: `no answer: ${describeError(error)}` };
  }
}

async function readAll(stream: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function mask(value: string): string {
  return value.length <= 8 ? '****' : `${value.slice(0, 4)}…${value.slice(-4)}`;
}

