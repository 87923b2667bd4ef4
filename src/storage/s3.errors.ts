import { StorageError } from './storage-errors.js';

export type S3Operation =
  | 'PutObject' | 'HeadObject' | 'GetObject' | 'DeleteObject' | 'DeleteObjects' | 'ListObjectsV2' | 'HeadBucket'
  | 'GetBucketCors' | 'PutBucketCors' | 'GetBucketPolicy' | 'PutBucketPolicy';

/** The IAM action each operation needs: what an AccessDenied message must name. */
const IAM_ACTION: Record<S3Operation, string> = {
  PutObject: 's3:PutObject',
  HeadObject: 's3:GetObject',
  GetObject: 's3:GetObject',
  DeleteObject: 's3:DeleteObject',
  DeleteObjects: 's3:DeleteObject',
  ListObjectsV2: 's3:ListBucket',
  HeadBucket: 's3:ListBucket',
  GetBucketCors: 's3:GetBucketCORS',
  PutBucketCors: 's3:PutBucketCORS',
  GetBucketPolicy: 's3:GetBucketPolicy',
  PutBucketPolicy: 's3:PutBucketPolicy',
};

/** Bucket-level actions: granted on the bucket's ARN, not on its objects. */
const BUCKET_ACTIONS = new Set(['s3:ListBucket', 's3:GetBucketCORS', 's3:PutBucketCORS', 's3:GetBucketPolicy', 's3:PutBucketPolicy']);

/** The AWS CLI's options for this endpoint: without --endpoint-url a copied command goes to AWS. */
export function awsCliTarget(ctx: { region: string; endpoint?: string }): string {
  return ctx.endpoint ? `--endpoint-url ${ctx.endpoint} --region ${ctx.region}` : `--region ${ctx.region}`;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);
const THROTTLE_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'ServiceUnavailable']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'AbortError']);

interface SdkErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
}

/**
 * Translates an AWS SDK (or socket) failure into a StorageError with a stable code, a
 * message that says what to do, and whether retrying can help. Reads the error's name,
 * code and status only: Ceph RGW sends empty messages.
 */
export function mapS3Error(error: unknown, ctx: { operation: S3Operation; bucket: string; region: string; endpoint?: string; key?: string }): StorageError {
  if (error instanceof StorageError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  const name = e.name ?? e.Code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const sysCode = e.code ?? (e as { cause?: { code?: string } }).cause?.code ?? '';
  const where = ctx.key ? `s3://${ctx.bucket}/${ctx.key}` : `s3://${ctx.bucket}`;
  const opts = { cause: error, details: { operation: ctx.operation, bucket: ctx.bucket, key: ctx.key, awsCode: name || undefined, httpStatus: status } };

  if (name === 'CredentialsProviderError' || /could not load credentials|unable to locate credentials/i.test(e.message ?? '')) {
    return new StorageError('STORAGE_CREDENTIALS_MISSING', 'No AWS credentials found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM role (EC2/ECS/EKS) or an AWS profile.', opts);
  }
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'InvalidToken' || name === 'ExpiredToken') {
    return new StorageError('STORAGE_INVALID_CREDENTIALS', `S3 refused the credentials (${name}) for ${ctx.operation} on ${where}. Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and the clock, for expired signatures).`, opts);
  }
  if (name === 'NoSuchBucket' || (ctx.operation === 'HeadBucket' && status === 404)) {
    return new StorageError('STORAGE_BUCKET_NOT_FOUND', `Bucket "${ctx.bucket}" does not exist in region ${ctx.region}. Create it (aws s3 mb s3://${ctx.bucket} ${awsCliTarget(ctx)}) or set S3_BUCKET_NAME and AWS_REGION to an existing one.`, opts);
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return new StorageError('STORAGE_OBJECT_NOT_FOUND', `No object at key "${ctx.key ?? ''}" in bucket "${ctx.bucket}".`, opts);
  }
  if (name === 'AccessDenied' || name === 'Forbidden' || name === 'AllAccessDisabled' || status === 403) {
    const action = IAM_ACTION[ctx.operation];
    return new StorageError('STORAGE_ACCESS_DENIED', `Access denied: ${ctx.operation} on ${where} needs the IAM permission ${action}. Grant ${action} on arn:aws:s3:::${ctx.bucket}${BUCKET_ACTIONS.has(action) ? '' : '/*'} to the user or role behind these credentials.`, { ...opts, details: { ...opts.details, action } });
  }
  if (name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed' || status === 301) {
    return new StorageError('STORAGE_BUCKET_NOT_FOUND', `Bucket "${ctx.bucket}" is not in region ${ctx.region}. Set AWS_REGION to the bucket's region.`, opts);
  }
  if (THROTTLE_NAMES.has(name) || status === 429 || status === 503) {
    return new StorageError('STORAGE_THROTTLED', `S3 is throttling requests (${name || status}) for ${ctx.operation} on ${where}; it will be retried with backoff.`, opts);
  }
  if (NETWORK_CODES.has(sysCode) || NETWORK_CODES.has(name) || TIMEOUT_NAMES.has(name) || (status !== undefined && status >= 500) || e.$fault === 'server') {
    return new StorageError('STORAGE_UNAVAILABLE', `S3 is unreachable or failing (${sysCode || name || status}) for ${ctx.operation} on ${where}. Check S3_ENDPOINT / network access; the operation can be retried.`, opts);
  }
  return new StorageError('STORAGE_ERROR', `S3 ${ctx.operation} on ${where} failed: ${name || 'error'}${e.message ? ` (${e.message})` : ''}.`, opts);
}
