import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { configFrom, type Environment, type Settings } from '../../src/config.js';
import { applyPublicReadPolicy } from '../../src/storage/s3-bucket-setup.js';
import { createS3Client } from '../../src/storage/s3.driver.js';
import { freshPidFolder } from './pid-folder.js';

/**
 * The S3-protocol server the tests (and bench/) run against, resolved once per process:
 *  1. S3_ENDPOINT / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment (CI's
 *     .ci/run exports them after starting Ceph);
 *  2. else Ceph RGW on http://127.0.0.1:7480 with its test keys (shared/tools/ceph-rgw.sh);
 *  3. else, when CI is set, fail; otherwise an in-process s3rver (which checks no signatures,
 *     enforces no bucket policies and cannot page listings on Node >= 17).
 * S3_TEST_SERVER=s3rver forces the fallback, to check it on a machine that has Ceph.
 */
export interface S3TestServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** False when the server accepts any signature: tampered and expired URLs, wrong secrets are then untestable. */
  verifiesSignatures: boolean;
  /** Bucket policies (public read, Deny) are stored and enforced. s3rver answers NotImplemented. */
  enforcesBucketPolicies: boolean;
  /**
   * ListObjectsV2 continuation works. s3rver builds its tokens with DES, which OpenSSL 3
   * (Node >= 17) refuses: every listing longer than one page fails (jamhall/s3rver#818).
   */
  paginatesListings: boolean;
  kind: 'ceph' | 's3rver' | 'env';
}

export const CEPH_DEFAULTS = {
  endpoint: 'http://127.0.0.1:7480',
  accessKeyId: 'TESTACCESSKEY0000001',
  secretAccessKey: 'testsecretkey0000000000000000000000000001',
  region: 'us-east-1',
} as const;

let resolved: Promise<S3TestServer> | undefined;

export function getS3TestServer(): Promise<S3TestServer> {
  resolved ??= resolveServer();
  return resolved;
}

/** An admin client for the test server, built like the app builds its own (checksums, Content-MD5). */
export function testS3Client(server: S3TestServer, overrides: { secretAccessKey?: string } = {}): S3Client {
  return createS3Client({
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    accessKeyId: server.accessKeyId,
    secretAccessKey: overrides.secretAccessKey ?? server.secretAccessKey,
  });
}

/** Creates a bucket no other test file uses: `t-<label>-<random>`. */
export async function createTestBucket(server: S3TestServer, label = 'x'): Promise<string> {
  const bucket = `t-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 30)}-${randomBytes(5).toString('hex')}`;
  const client = testS3Client(server);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return bucket;
}

/**
 * A test bucket with the public-read policy `customify s3 setup-policy` applies
 * (S3_PUBLIC_BUCKET=true, the default): previews, uploads and avatars public; staging/,
 * quarantine/ and print files not. s3rver enforces no policies: there the bucket is only created.
 */
export async function createPublicTestBucket(server: S3TestServer, label = 'x'): Promise<string> {
  const bucket = await createTestBucket(server, label);
  if (server.enforcesBucketPolicies) {
    const client = testS3Client(server);
    await applyPublicReadPolicy({ client, bucket, region: server.region, endpoint: server.endpoint }).finally(() => client.destroy());
  }
  return bucket;
}

/**
 * Deletes every object, then the bucket. Always re-lists the first page instead of following
 * continuation tokens, so it also works on s3rver.
 */
export async function deleteTestBucket(server: S3TestServer, bucket: string): Promise<void> {
  const client = testS3Client(server);
  try {
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) break;
      const out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      if (out.Errors?.length) throw new Error(`could not empty test bucket ${bucket}: ${JSON.stringify(out.Errors[0])}`);
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

/** Puts the seed's "PublicReadGetObject" bucket policy (spec: AWS Setup, step 2). */
export async function putPublicReadPolicy(server: S3TestServer, bucket: string, extraStatements: object[] = []): Promise<void> {
  const policy = {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'PublicReadGetObject', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
      ...extraStatements,
    ],
  };
  const client = testS3Client(server);
  try {
    await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
  } finally {
    client.destroy();
  }
}

/** The environment of S3 mode against the test server and `bucket`, as `.env` would give it. */
export function s3Env(server: Pick<S3TestServer, 'endpoint' | 'accessKeyId' | 'secretAccessKey' | 'region'>, bucket: string, extra: Environment = {}): Environment {
  return {
    USE_LOCAL_STORAGE: 'false',
    S3_ENDPOINT: server.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_REGION: server.region,
    S3_BUCKET_NAME: bucket,
    ...extra,
  };
}

/** Settings for S3 mode against the test server and `bucket`. */
export function s3Settings(server: S3TestServer, bucket: string, overrides: Environment = {}): Readonly<Settings> {
  return configFrom(s3Env(server, bucket, overrides));
}

async function resolveServer(): Promise<S3TestServer> {
  const env = process.env;
  if (env.S3_TEST_SERVER === 's3rver') return startS3rver();
  if (env.S3_ENDPOINT) {
    const candidate = {
      endpoint: env.S3_ENDPOINT.replace(/\/+$/, ''),
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
      region: env.AWS_REGION || 'us-east-1',
    };
    const answer = await probe(candidate);
    if (answer !== 'ok') throw new Error(`S3_ENDPOINT=${candidate.endpoint} is set but the server ${answer === 'unreachable' ? 'does not answer' : `refused the keys: ${answer}`}.`);
    return { ...candidate, kind: 'env', verifiesSignatures: await verifiesSignatures(candidate), enforcesBucketPolicies: true, paginatesListings: true };
  }
  const answer = await probe(CEPH_DEFAULTS);
  if (answer === 'ok') {
    return { ...CEPH_DEFAULTS, kind: 'ceph', verifiesSignatures: await verifiesSignatures(CEPH_DEFAULTS), enforcesBucketPolicies: true, paginatesListings: true };
  }
  if (answer !== 'unreachable') throw new Error(`A server answers on ${CEPH_DEFAULTS.endpoint} but refuses the Ceph test keys: ${answer}. Start it with shared/tools/ceph-rgw.sh start.`);
  if (env.CI) {
    throw new Error(`No S3 server for the tests: S3_ENDPOINT is not set and nothing answers on ${CEPH_DEFAULTS.endpoint}. CI must start Ceph RGW (shared/tools/ceph-rgw.sh start) and export its variables.`);
  }
  return startS3rver();
}

type Candidate = Pick<S3TestServer, 'endpoint' | 'accessKeyId' | 'secretAccessKey' | 'region'>;

/** 'ok', 'unreachable', or the error name the server answered with. */
async function probe(candidate: Candidate): Promise<string> {
  const client = createS3Client({ ...candidate, forcePathStyle: true });
  try {
    await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(3_000) });
    return 'ok';
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return status === undefined ? 'unreachable' : (error as Error).name;
  } finally {
    client.destroy();
  }
}

async function verifiesSignatures(candidate: Candidate): Promise<boolean> {
  return (await probe({ ...candidate, secretAccessKey: `${candidate.secretAccessKey}-wrong` })) !== 'ok';
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: { unref(): void };
}
type S3rverConstructor = new (options: { port: number; address: string; silent: boolean; directory: string }) => S3rverInstance;

async function startS3rver(): Promise<S3TestServer> {
  // s3rver ships no types; load it only when it is needed.
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const directory = freshPidFolder('customify-s3rver');
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
  const { port } = await server.run();
  server.httpServer?.unref();
  console.warn(
    `[test/helpers/s3] ${process.env.S3_TEST_SERVER === 's3rver' ? 'S3_TEST_SERVER=s3rver' : `No Ceph RGW on ${CEPH_DEFAULTS.endpoint}`}: using an in-process s3rver on port ${port}. ` +
      'Signature and expiry tests are skipped because s3rver checks no signatures; bucket-policy, >1,000-object ' +
      'listing and S3 tus-store tests are skipped too. Start Ceph with shared/tools/ceph-rgw.sh start to run them.',
  );
  const candidate = { endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' };
  return { ...candidate, kind: 's3rver', verifiesSignatures: await verifiesSignatures(candidate), enforcesBucketPolicies: false, paginatesListings: false };
}

