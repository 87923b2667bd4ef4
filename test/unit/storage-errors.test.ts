import { NoSuchBucket, NoSuchKey, S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { mapS3Error } from '../../src/storage/s3.errors.js';

/**
 * The translation table of s3.errors.ts, fed the SDK's own exception classes shaped as the
 * SDK builds them from a response. Most rows are also produced for real against Ceph in
 * test/integration/storage-s3.test.ts; this covers the rest (throttling, redirects, 5xx) and
 * AccessDenied where the server has no bucket policies (s3rver).
 */
const ctx = { operation: 'PutObject' as const, bucket: 'customify-production', region: 'us-east-1', key: 'designs/x/preview.png' };

function sdkError(name: string, status: number, fault: 'client' | 'server' = status >= 500 ? 'server' : 'client'): S3ServiceException {
  // Ceph RGW sends empty messages; the mapping must not depend on them.
  return new S3ServiceException({ name, $fault: fault, $metadata: { httpStatusCode: status }, message: '' });
}

describe('mapS3Error', () => {
  it.each([
    ['AccessDenied', 403, 'STORAGE_ACCESS_DENIED', false],
    ['Forbidden', 403, 'STORAGE_ACCESS_DENIED', false],
    ['SignatureDoesNotMatch', 403, 'STORAGE_INVALID_CREDENTIALS', false],
    ['InvalidAccessKeyId', 403, 'STORAGE_INVALID_CREDENTIALS', false],
    ['NoSuchBucket', 404, 'STORAGE_BUCKET_NOT_FOUND', false],
    ['NoSuchKey', 404, 'STORAGE_OBJECT_NOT_FOUND', false],
    ['PermanentRedirect', 301, 'STORAGE_BUCKET_NOT_FOUND', false],
    ['SlowDown', 503, 'STORAGE_THROTTLED', true],
    ['InternalError', 500, 'STORAGE_UNAVAILABLE', true],
    ['TimeoutError', 0, 'STORAGE_UNAVAILABLE', true],
    ['SomethingNew', 400, 'STORAGE_ERROR', false],
  ] as const)('%s (%i) → %s, retryable %s, cause kept', (name, status, code, retryable) => {
    const original = sdkError(name, status);
    const mapped = mapS3Error(original, ctx);
    expect(mapped).toMatchObject({ code, retryable });
    expect(mapped.cause).toBe(original);
    expect(mapped.message).not.toBe('');
  });

  it('AccessDenied names the IAM action the operation needs and the resource to grant it on', () => {
    const put = mapS3Error(sdkError('AccessDenied', 403), ctx);
    expect(put.message).toContain('s3:PutObject');
    expect(put.message).toContain('arn:aws:s3:::customify-production/*');
    expect(put.details).toMatchObject({ action: 's3:PutObject', awsCode: 'AccessDenied', httpStatus: 403 });
    expect(mapS3Error(sdkError('AccessDenied', 403), { ...ctx, operation: 'ListObjectsV2' }).message).toContain('s3:ListBucket');
    expect(mapS3Error(sdkError('AccessDenied', 403), { ...ctx, operation: 'DeleteObject' }).message).toContain('s3:DeleteObject');
  });

  it('the command that creates a missing bucket goes where S3_ENDPOINT points (AWS without it)', () => {
    const missing = () => sdkError('NoSuchBucket', 404);
    expect(mapS3Error(missing(), ctx).message).toContain('(aws s3 mb s3://customify-production --region us-east-1)');
    expect(mapS3Error(missing(), { ...ctx, endpoint: 'http://127.0.0.1:7480' }).message)
      .toContain('(aws s3 mb s3://customify-production --endpoint-url http://127.0.0.1:7480 --region us-east-1)');
  });

  it('AccessDenied on a bucket-level setup call names the bucket ARN, not its objects', () => {
    const message = mapS3Error(sdkError('AccessDenied', 403), { ...ctx, operation: 'PutBucketCors' }).message;
    expect(message).toContain('s3:PutBucketCORS');
    expect(message).toContain('on arn:aws:s3:::customify-production to');
  });

  it('the SDK\'s modelled NoSuchBucket / NoSuchKey classes map by name', () => {
    const bucket = mapS3Error(new NoSuchBucket({ $metadata: { httpStatusCode: 404 }, message: '' }), ctx);
    expect(bucket.code).toBe('STORAGE_BUCKET_NOT_FOUND');
    expect(bucket.message).toContain('"customify-production"');
    expect(bucket.message).toContain('us-east-1');
    const key = mapS3Error(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: '' }), ctx);
    expect(key.code).toBe('STORAGE_OBJECT_NOT_FOUND');
    expect(key.message).toContain('designs/x/preview.png');
  });
});
