import { describe, expect, it } from 'vitest';
import { describeCloudFrontFailure } from '../../src/cdn/cloudfront-errors.js';
import { cloudFrontClientConfig } from '../../src/cdn/cloudfront.sender.js';

/** An error shaped as the AWS SDK throws it. */
function sdkError(name: string, status: number | undefined, message = 'message from CloudFront'): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

describe('describeCloudFrontFailure', () => {
  it.each([
    [sdkError('AccessDenied', 403), /^AccessDenied \(HTTP 403\): message from CloudFront$/, /grant cloudfront:CreateInvalidation on arn:aws:cloudfront::<account>:distribution\/E123/],
    [sdkError('NoSuchDistribution', 404), /^NoSuchDistribution \(HTTP 404\)/, /check CLOUDFRONT_DISTRIBUTION_ID \(E123\)/],
    [sdkError('SignatureDoesNotMatch', 403), /^SignatureDoesNotMatch/, /check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/],
    [sdkError('InvalidClientTokenId', 403), /^InvalidClientTokenId/, /check AWS_ACCESS_KEY_ID/],
    [sdkError('CredentialsProviderError', undefined, 'Could not load credentials from any providers'), /^CredentialsProviderError: Could not load/, /set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM role/],
    [sdkError('Throttling', 400, 'Rate exceeded'), /^Throttling \(HTTP 400\): Rate exceeded/, /limiting requests/],
    [sdkError('TooManyInvalidationsInProgress', 400), /^TooManyInvalidationsInProgress/, /limiting requests or invalidations in progress/],
    [sdkError('ServiceUnavailable', 503), /^ServiceUnavailable \(HTTP 503\)/, /failing on its side/],
    [sdkError('Unknown', 500, 'UnknownError'), /^Unknown \(HTTP 500\): UnknownError/, /failing on its side/],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), /ECONNREFUSED/, /could not be reached.*CLOUDFRONT_ENDPOINT/],
    [sdkError('TimeoutError', undefined, 'socket hang up'), /^TimeoutError: socket hang up$/, /could not be reached/],
    [sdkError('InvalidArgument', 400), /^InvalidArgument \(HTTP 400\)/, /refused the request/],
    ['a string thrown', /^Error: a string thrown$/, /could not be reached/],
  ])('%s', (error, reason, advice) => {
    const failure = describeCloudFrontFailure(error, 'E123');
    expect(failure.reason).toMatch(reason);
    expect(failure.advice).toMatch(advice);
  });
});

describe('cloudFrontClientConfig', () => {
  const base = { cloudfrontDistributionId: 'E123', cloudfrontEndpoint: '', awsRegion: 'eu-central-1', awsAccessKeyId: '', awsSecretAccessKey: '' };

  it('makes one attempt per call (the outbox retries), with timeouts, and leaves AWS endpoint and credential chain alone by default', () => {
    const config = cloudFrontClientConfig(base);
    expect(config).toMatchObject({ region: 'eu-central-1', maxAttempts: 1, requestHandler: { connectionTimeout: 5000, requestTimeout: 30_000 } });
    expect(config.endpoint).toBeUndefined();
    expect(config.credentials).toBeUndefined();
  });

  it('uses CLOUDFRONT_ENDPOINT and static keys when set', () => {
    const config = cloudFrontClientConfig({ ...base, cloudfrontEndpoint: 'http://127.0.0.1:9999', awsAccessKeyId: 'AKIA1', awsSecretAccessKey: 's3cr3t' });
    expect(config.endpoint).toBe('http://127.0.0.1:9999');
    expect(config.credentials).toEqual({ accessKeyId: 'AKIA1', secretAccessKey: 's3cr3t' });
  });
});
