import type { Settings } from '../config.js';
import { getConfig } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { DesignAssetStorage } from './design-asset-storage.js';
import type { ObjectStoreDriver } from './object-store.js';
import { ObjectStorage } from './object-storage.js';
import { S3ClientWrapper } from './s3-client.js';
import type { StorageObserver } from './storage-metrics.js';
import type { StorageRepository } from './storage-repository.js';

export * from './keys.js';
export * from './object-store.js';
export * from './storage-errors.js';
export type { StorageRepository } from './storage-repository.js';
export type { StorageObserver } from './storage-metrics.js';
export { ObjectStorage } from './object-storage.js';
export { DesignAssetStorage, IMMUTABLE_PUBLIC_CACHE } from './design-asset-storage.js';
export type { RenditionFile } from './design-asset-storage.js';
export { S3ClientWrapper } from './s3-client.js';

type StorageSettings = Pick<Settings,
  | 'useLocalStorage' | 'localStoragePath' | 'localStorageFsync' | 'publicBaseUrl' | 's3BucketName' | 'awsRegion' | 's3Endpoint'
  | 's3ForcePathStyle' | 'awsAccessKeyId' | 'awsSecretAccessKey' | 's3BaseUrl' | 's3Sse' | 's3SseKmsKeyId'
  | 's3PublicBucket' | 's3SignedUrlExpires'>;

/** The bucket and how to reach it, from settings: for the S3 driver and for anything else on the same bucket (the tus store). */
export function s3Connection(settings: Pick<StorageSettings, 's3BucketName' | 'awsRegion' | 's3Endpoint' | 's3ForcePathStyle' | 'awsAccessKeyId' | 'awsSecretAccessKey' | 's3Sse' | 's3SseKmsKeyId'>) {
  return {
    bucket: settings.s3BucketName,
    region: settings.awsRegion,
    endpoint: settings.s3Endpoint,
    forcePathStyle: settings.s3ForcePathStyle,
    accessKeyId: settings.awsAccessKeyId,
    secretAccessKey: settings.awsSecretAccessKey,
    serverSideEncryption: settings.s3Sse,
    kmsKeyId: settings.s3SseKmsKeyId,
  };
}

/**
 * The only place a driver is constructed. The S3 driver is imported on demand so local
 * mode never loads the AWS SDK.
 */
export async function createDriver(settings: StorageSettings): Promise<ObjectStoreDriver> {
  if (settings.useLocalStorage) {
    const { LocalDriver } = await import('./local.driver.js');
    return new LocalDriver({ root: settings.localStoragePath, publicBaseUrl: settings.publicBaseUrl, durable: settings.localStorageFsync });
  }
  const { S3Driver } = await import('./s3.driver.js');
  return new S3Driver({ ...s3Connection(settings), publicBaseUrl: settings.s3BaseUrl });
}

export interface StorageLayer {
  storage: ObjectStorage;
  repository: StorageRepository;
  s3Client: S3ClientWrapper;
}

/** Builds the storage layer from explicit settings (tests, tools, the composition root). */
export async function createStorageLayer(settings: StorageSettings, deps: { logger: Logger; observer?: StorageObserver }): Promise<StorageLayer> {
  const storage = new ObjectStorage(await createDriver(settings), deps.logger, deps.observer);
  const urlOptions = { publicBucket: settings.useLocalStorage || settings.s3PublicBucket, signedUrlExpiresSeconds: settings.s3SignedUrlExpires };
  return {
    storage,
    repository: new DesignAssetStorage(storage, urlOptions, deps.logger),
    s3Client: new S3ClientWrapper(storage, urlOptions),
  };
}

let layer: Promise<StorageLayer> | undefined;

function defaultLayer(): Promise<StorageLayer> {
  layer ??= (() => {
    const settings = getConfig();
    return createStorageLayer(settings, { logger: createLogger(settings, 'storage') });
  })();
  return layer;
}

/** The seed's `get_storage_repository()`: S3 or local from USE_LOCAL_STORAGE, built once. */
export async function getStorageRepository(): Promise<StorageRepository> {
  return (await defaultLayer()).repository;
}

/** The seed's module-level `s3_client`, built once from the process configuration. */
export async function getS3Client(): Promise<S3ClientWrapper> {
  return (await defaultLayer()).s3Client;
}
