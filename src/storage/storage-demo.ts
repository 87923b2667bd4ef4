import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { silentLogger } from '../logger.js';
import { createStorageLayer } from './index.js';

type DemoSettings = Parameters<typeof createStorageLayer>[0];

/**
 * The seed's "Test Direct S3 Upload", in whichever mode the settings select: stores a
 * 600x600 preview and its 200x200 thumbnail for a fresh design through the StorageRepository,
 * prints their URLs, then uploads, checks and deletes `test/upload.png` through the S3 client
 * wrapper, printing what the seed printed. Storage failures propagate as StorageErrors.
 */
export async function runStorageDemo(settings: DemoSettings, print: (line: string) => void): Promise<void> {
  const { repository, s3Client, storage } = await createStorageLayer(settings, { logger: silentLogger });
  try {
    print(settings.useLocalStorage
      ? `Storage: local folder ${settings.localStoragePath}, served at ${settings.publicBaseUrl}/static/`
      : `Storage: S3 bucket ${settings.s3BucketName} in ${settings.awsRegion}${settings.s3Endpoint ? ` at ${settings.s3Endpoint}` : ''}`);

    // Solid-colour PNGs stand in for a render: the demo checks storage, not drawing.
    const preview = await sharp({ create: { width: 600, height: 600, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const thumbnail = await sharp(preview).resize(200, 200).png().toBuffer();
    const designId = randomUUID();
    print(`Design: ${designId}`);
    print(`Preview: ${await repository.uploadDesignPreview(designId, preview)}`);
    print(`Thumbnail: ${await repository.uploadDesignThumbnail(designId, thumbnail)}`);

    const url = await s3Client.uploadFile(Buffer.from('test image data'), 'test/upload.png');
    print(`Uploaded: ${url}`);
    print(`Exists: ${await s3Client.fileExists('test/upload.png')}`);
    print(`Deleted: ${await s3Client.deleteFile('test/upload.png')}`);
  } finally {
    await storage.close();
  }
}
