import { CreateMultipartUploadCommand, PutObjectCommand, type S3 } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { S3TusStore } from '../../src/uploads/tus-s3.store.js';
import { uploadIdOfFileId } from '../../src/uploads/tus-store.js';

/** What the S3 tus store would send, caught before it leaves (no server needed for these). */
async function sentInput(store: S3TusStore, command: CreateMultipartUploadCommand | PutObjectCommand): Promise<Record<string, unknown>> {
  const client: S3 = store.datastore.s3;
  let input: Record<string, unknown> = {};
  client.middlewareStack.add(() => (args) => {
    input = args.input as Record<string, unknown>;
    return Promise.reject(new Error('caught'));
  }, { step: 'finalizeRequest', name: 'catchInput' });
  await expect(client.send(command as never)).rejects.toThrow('caught');
  client.middlewareStack.remove('catchInput');
  return input;
}

const options = { bucket: 'b', region: 'us-east-1', endpoint: 'http://127.0.0.1:1', forcePathStyle: true, accessKeyId: 'a', secretAccessKey: 's', expiryMs: 86_400_000 };

describe('the S3 tus store', () => {
  it('encrypts what it writes when S3_SSE is set (the multipart upload and its records), and not otherwise', async () => {
    const kms = new S3TusStore({ ...options, serverSideEncryption: 'aws:kms', kmsKeyId: 'key-1' });
    expect(await sentInput(kms, new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'staging/x' }))).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'key-1' });
    expect(await sentInput(kms, new PutObjectCommand({ Bucket: 'b', Key: 'staging/tus/x.info', Body: '{}' }))).toMatchObject({ ServerSideEncryption: 'aws:kms' });
    const plain = new S3TusStore({ ...options, serverSideEncryption: 'none' });
    expect(await sentInput(plain, new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'staging/x' }))).not.toHaveProperty('ServerSideEncryption');
    kms.close();
    plain.close();
  });

  it('maps tus file ids to upload ids only for staging/{uuid}', () => {
    expect(uploadIdOfFileId('staging/3F2B6C1E-8A4D-4E2F-9B1A-0C5D7E9F1A2B')).toBe('3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b');
    for (const id of ['staging/tus/3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b', 'uploads/3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b', 'staging/../x', 'staging/']) expect(uploadIdOfFileId(id)).toBeUndefined();
  });
});
