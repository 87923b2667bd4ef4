/**
 * The production stack's services, one isolated, throw-away piece of each per benchmark
 * run: a PostgreSQL database `bench_<random>`, a BullMQ queue name `bench-<label>-<random>`
 * on Redis, and a fresh S3 bucket on Ceph RGW (test/helpers/s3.ts resolves the server).
 * Each `create*` registers its own removal with the cleanup registry.
 */
import { randomBytes } from 'node:crypto';
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTestBucket, deleteTestBucket, getS3TestServer, testS3Client, type S3TestServer } from '../../test/helpers/s3.js';
import { deferCleanup } from './cleanup.js';

export const POSTGRES_ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const randomSuffix = () => randomBytes(5).toString('hex');

export interface Disposable<T> {
  value: T;
  /** Removes it now; also runs on Ctrl-C. Idempotent. */
  dispose(): Promise<void>;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new, empty PostgreSQL database; `value` is its URL. Dropped (WITH (FORCE)) by dispose. */
export async function createPostgresDatabase(): Promise<Disposable<string>> {
  const name = `bench_${randomSuffix()}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  const dispose = deferCleanup(`drop database ${name}`, async () => {
    await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });
  return { value: url.toString(), dispose };
}

/** A queue name nobody else uses; dispose deletes every Redis key BullMQ made for it. */
export function createQueueName(label: string): Disposable<string> {
  const name = `bench-${label}-${randomSuffix()}`;
  const dispose = deferCleanup(`delete Redis keys of queue ${name}`, async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `bull:${name}:*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });
  return { value: name, dispose };
}

/** Keys left under a queue name (0 after dispose). */
export async function countQueueKeys(name: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `bull:${name}:*`, 'COUNT', 1000);
      count += keys.length;
      cursor = next;
    } while (cursor !== '0');
    return count;
  } finally {
    redis.disconnect();
  }
}

/** A fresh bucket on the S3 test server; dispose aborts unfinished multipart uploads, empties and deletes it. */
export async function createBucket(label: string): Promise<Disposable<{ server: S3TestServer; bucket: string }>> {
  const server = await getS3TestServer();
  const bucket = await createTestBucket(server, label);
  const dispose = deferCleanup(`delete bucket ${bucket}`, async () => {
    const client = testS3Client(server);
    try {
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const upload of uploads.Uploads ?? []) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key!, UploadId: upload.UploadId! }));
      }
    } finally {
      client.destroy();
    }
    await deleteTestBucket(server, bucket);
  });
  return { value: { server, bucket }, dispose };
}
