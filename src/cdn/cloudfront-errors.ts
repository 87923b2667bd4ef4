/** What failed, as stored in cdn_invalidations.last_error, and what an operator can do about it. */
export interface CloudFrontFailure {
  /** `AccessDenied (HTTP 403): <CloudFront's message>` */
  reason: string;
  advice: string;
}

const CREDENTIAL_ERRORS = new Set(['InvalidClientTokenId', 'SignatureDoesNotMatch', 'IncompleteSignature', 'InvalidSignatureException', 'UnrecognizedClientException', 'ExpiredToken', 'ExpiredTokenException', 'MissingAuthenticationToken']);
const THROTTLING_ERRORS = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'TooManyInvalidationsInProgress']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

/**
 * Reads an AWS SDK error (its `name`, `$metadata.httpStatusCode`, or a Node network `code`).
 * Every failure is retried whatever it is, since rows are never dropped; the advice says
 * whether waiting is enough or someone must change something.
 */
export function describeCloudFrontFailure(error: unknown, distributionId: string): CloudFrontFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const message = e.message || (error instanceof Error ? '' : String(error));
  const reason = `${name}${status ? ` (HTTP ${status})` : ''}${message && message !== name ? `: ${message}` : ''}`;
  const advice = ((): string => {
    if (name === 'AccessDenied' || name === 'AccessDeniedException') {
      return `grant cloudfront:CreateInvalidation on arn:aws:cloudfront::<account>:distribution/${distributionId} to the user or role behind these credentials`;
    }
    if (name === 'NoSuchDistribution' || status === 404) return `check CLOUDFRONT_DISTRIBUTION_ID (${distributionId}): CloudFront has no such distribution for these credentials`;
    if (name === 'CredentialsProviderError' || /could not load credentials|unable to locate credentials/i.test(message)) {
      return 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM role or an AWS profile';
    }
    if (CREDENTIAL_ERRORS.has(name) || status === 401 || status === 403) return 'check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and the clock: signatures expire)';
    if (THROTTLING_ERRORS.has(name) || status === 429) return 'CloudFront is limiting requests or invalidations in progress; nothing to do unless it lasts';
    if ((e.code && NETWORK_CODES.has(e.code)) || name === 'TimeoutError' || name === 'RequestTimeout' || status === undefined) {
      return 'CloudFront could not be reached: check the network (and CLOUDFRONT_ENDPOINT if set)';
    }
    if (status >= 500) return 'CloudFront is failing on its side; nothing to do unless it lasts (see the AWS Health Dashboard)';
    return 'CloudFront refused the request; check CLOUDFRONT_DISTRIBUTION_ID and the logged reason';
  })();
  return { reason, advice };
}
