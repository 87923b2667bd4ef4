import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { DeleteBucketPolicyCommand, GetBucketCorsCommand, ListObjectsV2Command, PutBucketCorsCommand, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { doctorCommand, runDoctor, type DoctorReport } from '../../src/cli/doctor.js';
import { s3Command } from '../../src/cli/s3.js';
import { configFrom, type Environment, type Settings } from '../../src/config.js';
import { MIGRATIONS } from '../../src/db/migrate.js';
import { silentLogger } from '../../src/logger.js';
import { createStorageLayer, listAll } from '../../src/storage/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { createTestBucket, deleteTestBucket, getS3TestServer, putPublicReadPolicy, s3Settings, testS3Client } from '../helpers/s3.js';
import { spawnCustomify } from '../helpers/services.js';
import { createTempDir, localSettings, removeTempDir } from '../helpers/tmp.js';
import { clamdBinaryPath, clamdTarget, skipClamd, startPrivateClamd, type PrivateClamd } from '../helpers/clamd.js';

// Every migration, in order: the doctor reports them pending on a bare database.
const ALL_MIGRATIONS = Object.keys(MIGRATIONS);

interface Run extends DoctorReport {
  lines: string[];
}

async function doctor(settings: Readonly<Settings> | (() => Readonly<Settings>)): Promise<Run> {
  const lines: string[] = [];
  const report = await runDoctor(settings, { print: (line) => lines.push(line), timeoutMs: 3000 });
  expect(lines).toHaveLength(report.results.length);
  for (const line of lines) expect(line).toMatch(/^(ok {2}\S|FAIL \S.*: \S|skip \S.*: \S)/);
  return { ...report, lines };
}

const fails = (run: Run) => run.lines.filter((l) => l.startsWith('FAIL '));

/** `customify s3 ...args` in-process with `settings`; throws what the command throws. */
async function s3Cli(settings: Readonly<Settings>, args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await s3Command(args, () => settings, (line) => out.push(line));
  return { code, out };
}

let dir: string;
let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase('sqlite');
});
afterAll(async () => {
  await tdb?.destroy();
});
beforeEach(async () => {
  dir = await createTempDir('cli-doctor');
});
afterEach(async () => {
  await removeTempDir(dir);
});

/** A local setup that should pass: a storage folder to be created, a migrated database. */
function local(overrides: Environment = {}): Readonly<Settings> {
  return localSettings(path.join(dir, 'storage'), { DATABASE_URL: tdb.url, DATA_DIR: dir, ...overrides });
}

describe('doctor in local mode', () => {
  it('passes on a healthy setup, creating the storage folder and leaving no probe behind', async () => {
    const lines: string[] = [];
    expect(await doctorCommand(local(), (line) => lines.push(line))).toBe(0);
    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(lines).toEqual(expect.arrayContaining([
      'ok  configuration loads (NODE_ENV=development)',
      expect.stringMatching(/^ok {2}storage mode: local disk/),
      expect.stringMatching(/^ok {2}LOCAL_STORAGE_PATH .* did not exist: created it$/),
      expect.stringMatching(/^ok {2}write a probe file under LOCAL_STORAGE_PATH: doctor\/probe-[0-9a-f]+\.txt$/),
      'ok  read it back',
      'ok  delete it',
      expect.stringMatching(new RegExp(`^ok {2}database sqlite:.*: connected, migrations up to date \\(${ALL_MIGRATIONS.length} applied\\)$`)),
      expect.stringMatching(/^skip Redis: REDIS_URL is not set/),
    ]));
    expect(lines.at(-1)).toBe('All checks passed.');
    const { storage } = await createStorageLayer(local(), { logger: silentLogger });
    const left = [];
    for await (const object of listAll(storage, '')) left.push(object.key);
    expect(left).toEqual([]);
  });

  it('fails naming LOCAL_STORAGE_PATH when it is a file', async () => {
    const file = path.join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    const run = await doctor(local({ LOCAL_STORAGE_PATH: file }));
    expect(run.ok).toBe(false);
    expect(fails(run)).toEqual([`FAIL LOCAL_STORAGE_PATH ${file}: it is a file, not a folder: set LOCAL_STORAGE_PATH to a folder (or move the file away).`]);
    expect(run.lines).toContain('skip probe file: LOCAL_STORAGE_PATH is not a usable folder');
  });

  it('fails naming LOCAL_STORAGE_PATH when it lies under a file (ENOTDIR)', async () => {
    const file = path.join(dir, 'file');
    await writeFile(file, 'x');
    const lines: string[] = [];
    expect(await doctorCommand(local({ LOCAL_STORAGE_PATH: path.join(file, 'storage') }), (line) => lines.push(line))).toBe(1);
    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([expect.stringMatching(/^FAIL LOCAL_STORAGE_PATH .*\/file\/storage: a part of this path is a file, not a folder: set LOCAL_STORAGE_PATH/)]);
    expect(lines.at(-1)).toBe('1 problem found: fix the FAIL lines above and run customify doctor again.');
  });

  it('reports a configuration error as one FAIL line naming the variable', async () => {
    const run = await doctor(() => configFrom({ S3_PUBLIC_BUCKET: 'maybe' }));
    expect(run.lines).toEqual(['FAIL configuration: S3_PUBLIC_BUCKET must be true or false (also accepted: 1/0, yes/no, on/off), got "maybe"']);
    expect(run.ok).toBe(false);
  });

  it('fails on production without JWT_SECRET', async () => {
    const run = await doctor(local({ NODE_ENV: 'production' }));
    expect(fails(run)).toEqual([expect.stringMatching(/^FAIL auth: JWT_SECRET is required when NODE_ENV=production/)]);
  });

  it('fails naming DATABASE_URL when the database does not answer, and reports pending migrations', async () => {
    const down = await doctor(local({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' }));
    expect(fails(down)).toEqual([expect.stringMatching(/^FAIL database postgres:\/\/postgres@127\.0\.0\.1:1\/test: cannot use it \(.*ECONNREFUSED.*\): check DATABASE_URL/)]);

    const bare = await createTestDatabase('sqlite', { migrate: false });
    try {
      await bare.db.selectNoFrom((eb) => eb.lit(1).as('one')).execute();
      const run = await doctor(local({ DATABASE_URL: bare.url }));
      expect(run.ok).toBe(true);
      expect(run.lines).toContainEqual(expect.stringMatching(new RegExp(`^ok {2}database .*: connected; ${ALL_MIGRATIONS.length} migrations pending \\(${ALL_MIGRATIONS.join(', ')}\\), applied at the next start or by customify migrate$`)));
    } finally {
      await bare.destroy();
    }
  });

  it('fails naming REDIS_URL when Redis does not answer', async () => {
    const run = await doctor(local({ REDIS_URL: 'redis://127.0.0.1:1' }));
    expect(fails(run)).toEqual([expect.stringMatching(/^FAIL Redis at REDIS_URL=redis:\/\/127\.0\.0\.1:1: cannot connect \(.*ECONNREFUSED.*\): start Redis or fix REDIS_URL/)]);
  });

  it.skipIf(skipRedis)('passes with a reachable Redis', async () => {
    const run = await doctor(local({ REDIS_URL }));
    expect(run.ok).toBe(true);
    expect(run.lines).toContain(`ok  Redis at REDIS_URL=${REDIS_URL} answers PING`);
  });
});

// ---------------------------------------------------------------------------------------

const server = await getS3TestServer();

describe(`doctor in S3 mode (${server.kind} at ${server.endpoint})`, () => {
  let publicBucket: string;
  let privateBucket: string;
  beforeAll(async () => {
    publicBucket = await createTestBucket(server, 'doctor-public');
    privateBucket = await createTestBucket(server, 'doctor-private');
    if (server.enforcesBucketPolicies) await s3Cli(s3(publicBucket), ['setup-policy']);
    // The seed's bucket setup includes CORS, which doctor checks.
    for (const bucket of [publicBucket, privateBucket]) await s3Cli(s3(bucket), ['setup-cors']);
  });
  afterAll(async () => {
    if (publicBucket) await deleteTestBucket(server, publicBucket);
    if (privateBucket) await deleteTestBucket(server, privateBucket);
  });

  // SCAN_REQUIRED=false: these are the storage checks; the scanner's have their own suite.
  const s3 = (bucket: string, overrides: Environment = {}) => s3Settings(server, bucket, { DATABASE_URL: tdb.url, DATA_DIR: dir, SCAN_REQUIRED: 'false', ...overrides });

  async function probesLeft(bucket: string): Promise<string[]> {
    const { storage } = await createStorageLayer(s3(bucket), { logger: silentLogger });
    try {
      const keys = [];
      for await (const object of listAll(storage, 'doctor/')) keys.push(object.key);
      return keys;
    } finally {
      await storage.close();
    }
  }

  it.skipIf(!server.enforcesBucketPolicies)('passes with a public-read bucket and S3_PUBLIC_BUCKET=true, leaving no probe', async () => {
    const run = await doctor(s3(publicBucket, { S3_PUBLIC_BUCKET: 'true' }));
    expect(fails(run)).toEqual([]);
    expect(run.ok).toBe(true);
    expect(run.lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^ok {2}credentials configured: AWS_ACCESS_KEY_ID=/),
      `ok  bucket "${publicBucket}" exists in region ${server.region}`,
      'ok  list objects (s3:ListBucket, needed by customify cleanup)',
      "ok  bucket CORS: GET and HEAD allowed from any origin with any header (the seed's rules)",
      expect.stringMatching(/^ok {2}upload a probe object \(s3:PutObject\): doctor\/probe-/),
      'ok  read it back (s3:GetObject)',
      expect.stringMatching(/^ok {2}public read: an anonymous GET of .* answers 200$/),
      'ok  delete it (s3:DeleteObject)',
      'ok  private uploads: an anonymous GET under staging/ answers 403',
      'ok  private print files: an anonymous GET under designs/<id>/print.pdf answers 403',
    ]));
    expect(await probesLeft(publicBucket)).toEqual([]);
  });

  it.skipIf(!server.enforcesBucketPolicies)('passes with a private bucket and S3_PUBLIC_BUCKET=false: anonymous read refused, signed URL works', async () => {
    const lines: string[] = [];
    expect(await doctorCommand(s3(privateBucket, { S3_PUBLIC_BUCKET: 'false' }), (line) => lines.push(line))).toBe(0);
    expect(lines).toEqual(expect.arrayContaining([
      'ok  private bucket: an anonymous GET answers 403',
      'ok  signed URL: a presigned GET answers 200',
    ]));
  });

  it.skipIf(!server.enforcesBucketPolicies)('fails when the bucket is public although S3_PUBLIC_BUCKET=false', async () => {
    const run = await doctor(s3(publicBucket, { S3_PUBLIC_BUCKET: 'false' }));
    expect(fails(run)).toEqual([expect.stringMatching(/^FAIL private bucket: an anonymous GET of .* answered 200: the bucket is public although S3_PUBLIC_BUCKET=false\. Remove the public-read bucket policy/)]);
    expect(run.lines).toContain('ok  signed URL: a presigned GET answers 200');
    expect(await probesLeft(publicBucket)).toEqual([]);
  });

  it.skipIf(!server.enforcesBucketPolicies)('fails when S3_PUBLIC_BUCKET=true but the bucket has no public-read policy', async () => {
    const run = await doctor(s3(privateBucket, { S3_PUBLIC_BUCKET: 'true' }));
    expect(fails(run)).toEqual([expect.stringMatching(new RegExp(`^FAIL public read: an anonymous GET of .* answered 403, but S3_PUBLIC_BUCKET=true .*PublicReadGetObject .*arn:aws:s3:::${privateBucket}/designs/\\*/preview\\.png, .*or set S3_PUBLIC_BUCKET=false`))]);
    expect(await probesLeft(privateBucket)).toEqual([]);
  });

  it('skips the public read check when CLOUDFRONT_DOMAIN is set, saying why', async () => {
    const run = await doctor(s3(privateBucket, { S3_PUBLIC_BUCKET: 'true', CLOUDFRONT_DOMAIN: 'd123abc.cloudfront.net' }));
    expect(run.ok).toBe(true);
    expect(run.lines).toContainEqual(expect.stringMatching(/^skip public read: CLOUDFRONT_DOMAIN is set, so public URLs point at the CDN \(https:\/\/d123abc\.cloudfront\.net\/doctor\/probe-.*\), which is not checked from here/));
  });

  it('fails naming the bucket, its region and the command that creates it when the bucket is missing', async () => {
    const missing = `${privateBucket}-missing`;
    const run = await doctor(s3(missing));
    expect(fails(run)).toEqual([
      `FAIL bucket "${missing}": Bucket "${missing}" does not exist in region ${server.region}. Create it (aws s3 mb s3://${missing} --endpoint-url ${server.endpoint} --region ${server.region}) or set S3_BUCKET_NAME and AWS_REGION to an existing one.`,
    ]);
    expect(run.lines).toContain('skip permissions and public access: fix the line above first');
  });

  it('fails naming S3_ENDPOINT when nothing answers there', async () => {
    const run = await doctor(s3(privateBucket, { S3_ENDPOINT: 'http://127.0.0.1:1' }));
    expect(fails(run)).toEqual([expect.stringMatching(/^FAIL S3 endpoint: S3 is unreachable or failing \(ECONNREFUSED\) .*Check S3_ENDPOINT/)]);
  });

  it.skipIf(!server.verifiesSignatures)('fails naming the credential variables when the secret is wrong', async () => {
    const run = await doctor(s3(privateBucket, { AWS_SECRET_ACCESS_KEY: 'wrong-secret-wrong-secret-wrong-secret00' }));
    expect(fails(run)).toEqual([expect.stringMatching(/^FAIL credentials: S3 refused the credentials \(SignatureDoesNotMatch\).*Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/)]);
  });

  it.skipIf(!server.enforcesBucketPolicies)('names the IAM action a bucket policy denies', async () => {
    const bucket = await createTestBucket(server, 'doctor-deny');
    const client = testS3Client(server);
    const deny = (action: string) =>
      client.send(new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: action, Resource: `arn:aws:s3:::${bucket}/doctor/*` }] }),
      }));
    try {
      await s3Cli(s3(bucket), ['setup-cors']);
      await deny('s3:PutObject');
      const put = await doctor(s3(bucket, { S3_PUBLIC_BUCKET: 'false' }));
      expect(fails(put)).toEqual([expect.stringMatching(/^FAIL upload a probe object \(s3:PutObject\): Access denied: PutObject on s3:\/\/.*\/doctor\/probe-.* needs the IAM permission s3:PutObject\. Grant s3:PutObject on arn:aws:s3:::.*\/\*/)]);

      await deny('s3:GetObject');
      const get = await doctor(s3(bucket, { S3_PUBLIC_BUCKET: 'false' }));
      expect(fails(get)).toEqual([
        expect.stringMatching(/^FAIL read it back \(s3:GetObject\): Access denied: .* needs the IAM permission s3:GetObject/),
        expect.stringMatching(/^FAIL signed URL: a presigned GET answered 403: check that the credentials have s3:GetObject/),
      ]);
      expect(get.lines).toContain('ok  delete it (s3:DeleteObject)');
      expect(await probesLeft(bucket)).toEqual([]);
    } finally {
      await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
      client.destroy();
      await deleteTestBucket(server, bucket);
    }
  });

  it.skipIf(!server.enforcesBucketPolicies)("the seed's policy on bucket/* publishes staging/ and quarantine/: doctor fails naming setup-policy, which narrows it to the published prefixes", async () => {
    const bucket = await createTestBucket(server, 'doctor-prefixes');
    const client = testS3Client(server);
    const anonymousGet = async (key: string) => (await fetch(`${server.endpoint}/${bucket}/${key}`)).status;
    try {
      await s3Cli(s3(bucket), ['setup-cors']);
      await putPublicReadPolicy(server, bucket);
      const keys = ['designs/x/preview.png', 'designs/x/print.pdf', 'uploads/x/original.jpg', 'staging/x', 'quarantine/x'];
      for (const key of keys) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
      // The hole: anyone with an upload's id reads its unscanned or infected bytes.
      expect(await anonymousGet('staging/x')).toBe(200);
      expect(await anonymousGet('quarantine/x')).toBe(200);

      const before = await doctor(s3(bucket, { S3_PUBLIC_BUCKET: 'true' }));
      expect(before.lines).toContainEqual(expect.stringMatching(/^ok {2}public read: /));
      const onlyReads = 'Run node bin/customify\\.js s3 setup-policy, which replaces it with one that allows anonymous reads only of ' +
        'designs/\\*/preview\\.png, designs/\\*/thumbnail\\.png, designs/\\*/\\*/\\*, uploads/\\*, avatars/\\* and doctor/\\*\\.$';
      expect(fails(before)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^FAIL private uploads: an anonymous GET of ${server.endpoint}/${bucket}/staging/doctor-probe-[0-9a-f]{16} answered 200: the bucket policy makes staging/ and quarantine/ \\(unscanned and infected uploads\\) public\\. ${onlyReads}`,
          ),
        ),
        // The print files beside the previews (issue #12) are production files, never public.
        expect.stringMatching(
          new RegExp(
            `^FAIL private print files: an anonymous GET of ${server.endpoint}/${bucket}/designs/[0-9a-f-]{36}/print\\.pdf answered 200: the bucket policy makes print files \\(designs/<id>/print\\.pdf and print\\.png\\) public\\. ${onlyReads}`,
          ),
        ),
      ]);

      const applied = await s3Cli(s3(bucket), ['setup-policy']);
      expect(applied.out[0]).toContain(
        `arn:aws:s3:::${bucket}/designs/*/preview.png, arn:aws:s3:::${bucket}/designs/*/thumbnail.png, arn:aws:s3:::${bucket}/designs/*/*/*, arn:aws:s3:::${bucket}/uploads/*, arn:aws:s3:::${bucket}/avatars/*, arn:aws:s3:::${bucket}/doctor/*`,
      );
      const after = await doctor(s3(bucket, { S3_PUBLIC_BUCKET: 'true' }));
      expect(fails(after)).toEqual([]);
      expect(after.lines).toContain('ok  private uploads: an anonymous GET under staging/ answers 403');
      expect(after.lines).toContain('ok  private print files: an anonymous GET under designs/<id>/print.pdf answers 403');
      expect(Object.fromEntries(await Promise.all(keys.map(async (key) => [key, await anonymousGet(key)])))).toEqual({
        'designs/x/preview.png': 200,
        'designs/x/print.pdf': 403,
        'uploads/x/original.jpg': 200,
        'staging/x': 403,
        'quarantine/x': 403,
      });
      // Both doctor runs removed their staging probes.
      const left = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'staging/' }));
      expect((left.Contents ?? []).map((o) => o.Key)).toEqual(['staging/x']);
    } finally {
      client.destroy();
      await deleteTestBucket(server, bucket);
    }
  });

  describe('the seed\'s bucket setup: customify s3 setup-policy and setup-cors (issue #9 items 9 and 15)', () => {
    let bucket: string;
    beforeEach(async () => {
      bucket = await createTestBucket(server, 'doctor-setup');
    });
    afterEach(async () => {
      await deleteTestBucket(server, bucket);
    });

    it.skipIf(!server.enforcesBucketPolicies)('a new bucket fails doctor on CORS and public read, naming the commands; after them doctor passes and a preflight is answered', async () => {
      const before = await doctor(s3(bucket, { S3_PUBLIC_BUCKET: 'true' }));
      expect(fails(before)).toEqual([
        expect.stringMatching(new RegExp(`^FAIL bucket CORS: no CORS rules at all, .*customify s3 setup-cors \\(or aws s3api put-bucket-cors --bucket ${bucket} --endpoint-url ${server.endpoint} --region ${server.region} `)),
        expect.stringMatching(/^FAIL public read: .*customify s3 setup-policy applies it/),
      ]);

      const dry = await s3Cli(s3(bucket), ['setup-policy', '--dry-run']);
      expect(dry.code).toBe(0);
      expect(dry.out.join('\n')).toContain(`aws s3api put-bucket-policy --bucket ${bucket} --endpoint-url ${server.endpoint} --region ${server.region} --policy`);
      expect(fails(await doctor(s3(bucket)))).toHaveLength(2); // a dry run changes nothing

      expect((await s3Cli(s3(bucket), ['setup-policy'])).code).toBe(0);
      const cors = await s3Cli(s3(bucket), ['setup-cors']);
      expect(cors.out).toEqual([`Bucket "${bucket}": put the seed's CORS rules [{"AllowedHeaders":["*"],"AllowedMethods":["GET","HEAD"],"AllowedOrigins":["*"],"ExposeHeaders":[]}].`]);
      const after = await doctor(s3(bucket, { S3_PUBLIC_BUCKET: 'true' }));
      expect(fails(after)).toEqual([]);
      expect(after.lines).toContain("ok  bucket CORS: GET and HEAD allowed from any origin with any header (the seed's rules)");

      // The rules work: the S3 server answers a browser's preflight for any origin and header.
      const preflight = await fetch(`${server.endpoint}/${bucket}/designs/x/preview.png`, {
        method: 'OPTIONS',
        headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-anything' },
      });
      expect(preflight.status).toBe(200);
      expect(preflight.headers.get('access-control-allow-origin')).toMatch(/^(\*|https:\/\/shop\.example)$/);
      expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-anything');
    });

    // The doctor also checks that S3_PUBLIC_BUCKET=false is private, which needs a server that enforces bucket policies.
    it.skipIf(!server.enforcesBucketPolicies)('names what narrower CORS rules lack, and setup-cors replaces them', async () => {
      const client = testS3Client(server);
      try {
        await client.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['https://shop.example'], AllowedHeaders: ['authorization'] }] } }));
        const run = await doctor(s3(bucket, { S3_PUBLIC_BUCKET: 'false' }));
        expect(fails(run)).toEqual([expect.stringMatching(/^FAIL bucket CORS: GET is allowed only from https:\/\/shop\.example, not from any origin \(\*\); HEAD is not allowed, so web pages/)]);
        await s3Cli(s3(bucket), ['setup-cors']);
        const rules = (await client.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules;
        expect(rules).toEqual([expect.objectContaining({ AllowedMethods: ['GET', 'HEAD'], AllowedOrigins: ['*'], AllowedHeaders: ['*'] })]);
        expect(fails(await doctor(s3(bucket, { S3_PUBLIC_BUCKET: 'false' })))).toEqual([]);
      } finally {
        client.destroy();
      }
    });

    it('is a command of the customify CLI: `customify s3 setup-cors --dry-run` prints the rules and the aws command, and changes nothing', async () => {
      const p = spawnCustomify(['s3', 'setup-cors', '--dry-run'], {
        USE_LOCAL_STORAGE: 'false', S3_ENDPOINT: server.endpoint, AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
        AWS_REGION: server.region, S3_BUCKET_NAME: bucket, DATA_DIR: dir,
      });
      const { code } = await p.exited;
      expect(code, p.output()).toBe(0);
      expect(p.output()).toContain(`Bucket "${bucket}" CORS now: none (no CORS rules at all).`);
      expect(p.output()).toContain(`aws s3api put-bucket-cors --bucket ${bucket} --endpoint-url ${server.endpoint} --region ${server.region} --cors-configuration`);
      const client = testS3Client(server);
      try {
        await expect(client.send(new GetBucketCorsCommand({ Bucket: bucket }))).rejects.toMatchObject({ name: 'NoSuchCORSConfiguration' });
      } finally {
        client.destroy();
      }
      const help = spawnCustomify(['s3', '--help'], { DATA_DIR: dir });
      expect((await help.exited).code).toBe(0);
      expect(help.output()).toMatch(/setup-policy .*\n.*setup-cors /);
    });

    it('setup-policy refuses to make a bucket public while S3_PUBLIC_BUCKET=false; customify s3 refuses local mode', async () => {
      await expect(s3Cli(s3(bucket, { S3_PUBLIC_BUCKET: 'false' }), ['setup-policy'])).rejects.toMatchObject({ code: 'S3_BUCKET_PRIVATE', message: expect.stringMatching(/S3_PUBLIC_BUCKET=false/) as unknown });
      await expect(s3Cli(local(), ['setup-cors'])).rejects.toMatchObject({ code: 'S3_MODE_REQUIRED', message: expect.stringMatching(/USE_LOCAL_STORAGE=false/) as unknown });
      await expect(s3Cli(s3(`${bucket}-missing`), ['setup-cors'])).rejects.toMatchObject({ code: 'STORAGE_BUCKET_NOT_FOUND', message: expect.stringContaining(`--endpoint-url ${server.endpoint}`) as unknown });
    });
  });

  it('fails naming AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY when no credentials can be found', async () => {
    // Empty the SDK's default chain: no keys in the environment, no profile files, no instance metadata.
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI']) {
      vi.stubEnv(name, undefined);
    }
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', path.join(dir, 'no-credentials'));
    vi.stubEnv('AWS_CONFIG_FILE', path.join(dir, 'no-config'));
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    try {
      const run = await doctor(s3(privateBucket, { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }));
      expect(fails(run)).toEqual([expect.stringMatching(/^FAIL credentials: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/)]);
      expect(run.lines).toContain('skip bucket, permissions and public access: no credentials to check them with');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

// ---------------------------------------------------------------------------------------
// Issue #9 items 13 and 14: the real errno, and no hang.

describe("doctor's virus scanner check (issue #11)", () => {
  let clamd: PrivateClamd | undefined;
  afterEach(async () => {
    await clamd?.stop();
    clamd = undefined;
  });
  const scanLines = (run: Run) => run.lines.filter((l) => /clamd|virus scanner|CLAMD_/.test(l));

  it.skipIf(skipClamd)('passes against the real clamd: it answers, detects the EICAR test file, and takes a file of UPLOAD_MAX_BYTES', async () => {
    const run = await doctor(local({ CLAMD_HOST: clamdTarget.host, CLAMD_PORT: String(clamdTarget.port) }));
    expect(fails(run)).toEqual([]);
    const where = `clamd at CLAMD_HOST=${clamdTarget.host} CLAMD_PORT=${clamdTarget.port}`;
    expect(scanLines(run)).toEqual([
      expect.stringMatching(new RegExp(`^ok {2}${where} answers \\(ClamAV `)),
      `ok  ${where} detects the EICAR test file (Eicar-Test-Signature.UNOFFICIAL)`,
      `ok  ${where} takes a file of UPLOAD_MAX_BYTES (52.4 MB)`,
    ]);
  });

  it.skipIf(!clamdBinaryPath && !process.env.CI)('fails when clamd answers but does not detect EICAR (no signatures for it), saying what to do', async () => {
    // A database with one harmless signature that matches nothing we send: clamd starts and answers "OK" to everything.
    const db = path.join(dir, 'other-db');
    await mkdir(db);
    await writeFile(path.join(db, 'other.ndb'), `Not-Eicar:0:*:${Buffer.from('customify: nothing sends this').toString('hex')}\n`);
    clamd = await startPrivateClamd({ DatabaseDirectory: db });
    const run = await doctor(local({ CLAMD_HOST: clamd.host, CLAMD_PORT: String(clamd.port), UPLOAD_MAX_BYTES: '1000000' }));
    expect(fails(run)).toEqual([expect.stringMatching(/^FAIL clamd at .* EICAR test: clamd answered that the EICAR test file is clean: its signature database is missing or empty.*freshclam/)]);
  });

  it.skipIf(!clamdBinaryPath && !process.env.CI)('fails when clamd\'s StreamMaxLength is below UPLOAD_MAX_BYTES, naming both', async () => {
    clamd = await startPrivateClamd({ StreamMaxLength: '1M' });
    const run = await doctor(local({ CLAMD_HOST: clamd.host, CLAMD_PORT: String(clamd.port), UPLOAD_MAX_BYTES: String(4 * 1024 * 1024) }));
    expect(fails(run)).toEqual([expect.stringMatching(/^FAIL clamd at .* StreamMaxLength: clamd refused a stream of UPLOAD_MAX_BYTES \(4194304 bytes\).*set StreamMaxLength in clamd.conf to at least 4194304/)]);
    // At its limit it passes.
    const fits = await doctor(local({ CLAMD_HOST: clamd.host, CLAMD_PORT: String(clamd.port), UPLOAD_MAX_BYTES: String(1024 * 1024) }));
    expect(fails(fits)).toEqual([]);
  });

  it('fails naming CLAMD_HOST when nothing answers there; skips without CLAMD_HOST, or fails if SCAN_REQUIRED', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const down = await doctor(local({ CLAMD_HOST: '127.0.0.1', CLAMD_PORT: String(port) }));
    expect(fails(down)).toEqual([expect.stringMatching(new RegExp(`^FAIL clamd at CLAMD_HOST=127\\.0\\.0\\.1 CLAMD_PORT=${port}: ClamAV at .* is unreachable \\(ECONNREFUSED\\).*Uploads stay SCANNING until it answers\\.$`))]);
    expect(scanLines(await doctor(local()))).toEqual([expect.stringMatching(/^skip virus scanner: CLAMD_HOST is not set: uploads are published unscanned/)]);
    expect(fails(await doctor(local({ SCAN_REQUIRED: 'true' })))).toEqual([expect.stringMatching(/^FAIL virus scanner: SCAN_REQUIRED is true but CLAMD_HOST is not set/)]);
  });
});

describe('doctor on a storage path that cannot hold folders', () => {
  it('an S3 endpoint that accepts connections and never answers: one FAIL line at the deadline, and the next checks still run', async () => {
    // The SDK's own limits (60 s per attempt, 3 attempts) would hold the command for minutes.
    const sockets = new Set<Socket>();
    const blackHole = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const { port } = blackHole.address() as AddressInfo;
    try {
      const lines: string[] = [];
      const settings = configFrom({
        USE_LOCAL_STORAGE: 'false', S3_ENDPOINT: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-secret-secret',
        S3_BUCKET_NAME: 'never-answers', DATABASE_URL: tdb.url, DATA_DIR: dir, SCAN_REQUIRED: 'false',
      });
      const report = await runDoctor(settings, { print: (line) => lines.push(line), timeoutMs: 500 });
      expect(report.abandoned).toBe(true);
      expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual(['FAIL S3 checks: did not finish within 3 s (a hung file system or an unreachable service?): check what the lines above point at and run customify doctor again.']);
      expect(lines).toContainEqual(expect.stringMatching(/^ok {2}database /));
      expect(lines).toContainEqual(expect.stringMatching(/^skip Redis/));
      expect(lines).toHaveLength(report.results.length);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    }
  });

  it('LOCAL_STORAGE_PATH=/proc/customify: one FAIL line that says to use a real disk, and the command ends', async () => {
    const root = `/proc/customify-${Date.now().toString(36)}`;
    const run = await doctor(local({ LOCAL_STORAGE_PATH: root }));
    expect(run.ok).toBe(false);
    expect(fails(run)).toEqual([`FAIL LOCAL_STORAGE_PATH ${root}: does not exist and cannot be created (cannot create the folder ${root}: the file system refuses new folders in /proc (a virtual file system such as /proc or /sys?), or that folder was removed meanwhile): set LOCAL_STORAGE_PATH to a folder on a real disk (not /proc or /sys).`]);
    expect(run.abandoned).toBe(false);
  });

  it.skipIf(process.getuid?.() !== 0)('a folder that does not exist yet on a read-only mount: FAIL naming EROFS, not "not found"', async () => {
    const mountPoint = path.join(dir, 'ro');
    await mkdir(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint]);
    try {
      execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
      const root = path.join(mountPoint, 'new', 'storage');
      const run = await doctor(local({ LOCAL_STORAGE_PATH: root }));
      expect(fails(run)).toEqual([`FAIL LOCAL_STORAGE_PATH ${root}: does not exist and cannot be created (EROFS: the file system is read-only): mount that file system read-write (mount -o remount,rw, or drop :ro from the container volume), or set LOCAL_STORAGE_PATH to another folder.`]);
    } finally {
      execFileSync('umount', ['-l', mountPoint]);
    }
  });
});
