import { randomUUID } from 'node:crypto';
import type { CloudFrontClient, CloudFrontClientConfig } from '@aws-sdk/client-cloudfront';
import type { Settings } from '../config.js';

export type CloudFrontSettings = Pick<Settings, 'cloudfrontDistributionId' | 'cloudfrontEndpoint' | 'awsRegion' | 'awsAccessKeyId' | 'awsSecretAccessKey'>;

/** Sends one CreateInvalidation; throws the SDK's error as it is (the caller records it). */
export interface InvalidationSender {
  send(paths: readonly string[]): Promise<void>;
  /** Closes the client's connections, when the sender built it. */
  close(): void;
}

/**
 * The one AWS SDK call. The SDK is imported on first use, so a process with CloudFront
 * disabled never loads it.
 *
 * The client makes one attempt per call (`maxAttempts: 1`): retries belong to the outbox,
 * which outlives the process, backs off for minutes rather than seconds, and counts each
 * failure in /metrics, where in-memory SDK retries would hide them and hold the claim.
 * The region picks the partition (aws: signed for us-east-1 whatever the region; aws-cn:
 * cn-northwest-1); with CLOUDFRONT_ENDPOINT set, requests are signed for AWS_REGION.
 */
export function createInvalidationSender(settings: CloudFrontSettings, client?: CloudFrontClient): InvalidationSender {
  let built: Promise<CloudFrontClient> | undefined;
  const getClient = (): Promise<CloudFrontClient> => {
    if (client) return Promise.resolve(client);
    built ??= import('@aws-sdk/client-cloudfront').then((sdk) => new sdk.CloudFrontClient(cloudFrontClientConfig(settings)));
    return built;
  };
  return {
    async send(paths) {
      const [cf, { CreateInvalidationCommand }] = await Promise.all([getClient(), import('@aws-sdk/client-cloudfront')]);
      await cf.send(new CreateInvalidationCommand({
        DistributionId: settings.cloudfrontDistributionId,
        // Unique per request: CloudFront refuses a reused reference with a different batch.
        InvalidationBatch: { CallerReference: `customify-${Date.now()}-${randomUUID()}`, Paths: { Quantity: paths.length, Items: [...paths] } },
      }));
    },
    close() {
      if (built) void built.then((cf) => cf.destroy(), () => {});
    },
  };
}

export function cloudFrontClientConfig(settings: CloudFrontSettings): CloudFrontClientConfig {
  const config: CloudFrontClientConfig = {
    region: settings.awsRegion,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
  };
  if (settings.cloudfrontEndpoint) config.endpoint = settings.cloudfrontEndpoint;
  if (settings.awsAccessKeyId && settings.awsSecretAccessKey) {
    config.credentials = { accessKeyId: settings.awsAccessKeyId, secretAccessKey: settings.awsSecretAccessKey };
  }
  return config;
}
