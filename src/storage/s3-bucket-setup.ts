import { GetBucketCorsCommand, PutBucketCorsCommand, PutBucketPolicyCommand, type CORSRule } from '@aws-sdk/client-s3';
import { PUBLIC_READ_PATTERNS } from './keys.js';
import type { S3Driver } from './s3.driver.js';
import { mapS3Error, type S3Operation } from './s3.errors.js';

/**
 * The seed's bucket setup (spec: AWS Setup, steps 2 and 3) as data, and the calls that read
 * and apply it: what `customify doctor` checks and `customify s3 setup-policy|setup-cors` apply.
 */

/** Step 3, "Enable CORS": cross-origin GET and HEAD from any origin, with any request header. */
export const SEED_CORS_RULES: readonly CORSRule[] = Object.freeze([
  { AllowedHeaders: ['*'], AllowedMethods: ['GET', 'HEAD'], AllowedOrigins: ['*'], ExposeHeaders: [] },
]);

/**
 * Step 2, "Configure Bucket Policy (Public)", narrowed: the seed grants anonymous s3:GetObject
 * on `bucket/*`, which would also publish `staging/` (unscanned uploads) and `quarantine/`
 * (infected ones) and the print files. This grants it only on the published keys
 * (PUBLIC_READ_PATTERNS: the rendered images under designs/, and uploads/, avatars/, doctor/).
 */
export function publicReadPolicy(bucket: string): { Version: string; Statement: object[] } {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'PublicReadGetObject', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: publicReadResources(bucket) }],
  };
}

/** The ARNs the public-read policy covers, one per pattern of PUBLIC_READ_PATTERNS (`arn:aws:s3:::bucket/` + pattern). */
export function publicReadResources(bucket: string): string[] {
  return PUBLIC_READ_PATTERNS.map((pattern) => `arn:aws:s3:::${bucket}/${pattern}`);
}

type Bucket = Pick<S3Driver, 'client' | 'bucket' | 'region' | 'endpoint'>;

/** The bucket's CORS rules, or null when it has none. Throws StorageError (access denied: s3:GetBucketCORS). */
export async function readBucketCors(s3: Bucket): Promise<CORSRule[] | null> {
  try {
    return (await s3.client.send(new GetBucketCorsCommand({ Bucket: s3.bucket }))).CORSRules ?? [];
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchCORSConfiguration') return null;
    throw mapped(error, s3, 'GetBucketCors');
  }
}

/** Replaces the bucket's CORS configuration with the seed's. Throws StorageError (s3:PutBucketCORS). */
export async function applySeedCors(s3: Bucket): Promise<void> {
  try {
    await s3.client.send(new PutBucketCorsCommand({ Bucket: s3.bucket, CORSConfiguration: { CORSRules: SEED_CORS_RULES.map((r) => ({ ...r })) } }));
  } catch (error) {
    throw mapped(error, s3, 'PutBucketCors');
  }
}

/**
 * Replaces the bucket policy with the public-read one (publicReadPolicy). Throws StorageError
 * (s3:PutBucketPolicy; on AWS also Block Public Access, which refuses public policies).
 */
export async function applyPublicReadPolicy(s3: Bucket): Promise<void> {
  try {
    await s3.client.send(new PutBucketPolicyCommand({ Bucket: s3.bucket, Policy: JSON.stringify(publicReadPolicy(s3.bucket)) }));
  } catch (error) {
    throw mapped(error, s3, 'PutBucketPolicy');
  }
}

/**
 * What the seed's CORS rules allow that `rules` do not, one phrase each; empty when they
 * allow at least as much. Each method must be allowed by one rule for any origin and any header.
 */
export function corsGaps(rules: readonly CORSRule[] | null): string[] {
  if (rules === null || rules.length === 0) return ['no CORS rules at all'];
  const gaps: string[] = [];
  for (const method of ['GET', 'HEAD']) {
    const forMethod = rules.filter((r) => r.AllowedMethods?.some((m) => m.toUpperCase() === method));
    if (forMethod.length === 0) {
      gaps.push(`${method} is not allowed`);
      continue;
    }
    const anyOrigin = forMethod.filter((r) => r.AllowedOrigins?.includes('*'));
    if (anyOrigin.length === 0) gaps.push(`${method} is allowed only from ${forMethod.flatMap((r) => r.AllowedOrigins ?? []).join(', ') || 'no origin'}, not from any origin (*)`);
    else if (!anyOrigin.some((r) => r.AllowedHeaders?.includes('*'))) gaps.push(`${method} from any origin does not allow any request header (AllowedHeaders: ["*"])`);
  }
  return gaps;
}

function mapped(error: unknown, s3: Bucket, operation: S3Operation) {
  return mapS3Error(error, { operation, bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint });
}
