import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildContainer, type Container } from '../../src/composition-root.js';
import { configFrom, type Environment } from '../../src/config.js';
import type { DesignView } from '../../src/designs/design-service.js';
import { silentLogger } from '../../src/logger.js';
import { verifySignature, type Delivery, type WebhookBody } from '../../src/webhooks/index.js';
import { SAMPLE_DESIGN, TEST_JWT_SECRET } from '../helpers/app.js';
import { createTestDatabase, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, skipRedis } from '../helpers/redis.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { eventually, WebhookReceiver, type ReceivedWebhook } from './webhooks-receiver.js';

/**
 * Signed webhooks against a real receiver (node:http in the test), in the embedded mode
 * (SQLite, the in-process queue inside `serve`) and in production mode (PostgreSQL, BullMQ
 * on Redis, a separate worker container running renders and deliveries). Every request is
 * checked with the procedure README's "Webhooks" section documents (verifySignature).
 * Short backoff and timeout come from configuration; outcomes are polled with a deadline.
 */

const SECRET = 'whsec-test-0123456789abcdef';

interface Stack {
  name: string;
  skip: boolean;
  /** The stack's own env (database, queue) for a test, and how to clean it up. */
  prepare(): Promise<{ env: Environment; worker: boolean; cleanup: () => Promise<void> }>;
}

const STACKS: Stack[] = [
  { name: 'embedded: SQLite, in-process queue', skip: false, prepare: () => Promise.resolve({ env: {}, worker: false, cleanup: async () => {} }) },
  {
    name: 'production: PostgreSQL, BullMQ worker',
    skip: skipDialect('postgres') || skipRedis,
    async prepare() {
      const db: TestDatabase = await createTestDatabase('postgres', { migrate: false });
      return { env: { DATABASE_URL: db.url, REDIS_URL, RENDER_QUEUE_NAME: `webhooks-${randomUUID().slice(0, 8)}` }, worker: true, cleanup: () => db.destroy() };
    },
  },
];

for (const stack of STACKS) {
  describe.skipIf(stack.skip)(`webhooks, ${stack.name}`, () => {
    let dir: string;
    let receiver: WebhookReceiver;
    let env: Environment;
    let withWorker: boolean;
    let cleanup: () => Promise<void>;
    const containers: Container[] = [];

    beforeEach(async () => {
      dir = await createTempDir('webhooks');
      receiver = new WebhookReceiver();
      await receiver.listen();
      const prepared = await stack.prepare();
      withWorker = prepared.worker;
      cleanup = prepared.cleanup;
      env = {
        DATABASE_URL: `sqlite:${path.join(dir, 'db.sqlite')}`, LOCAL_STORAGE_PATH: path.join(dir, 'storage'), DATA_DIR: path.join(dir, 'data'),
        JWT_SECRET: TEST_JWT_SECRET, RENDER_BACKOFF_MS: '10', LOG_LEVEL: 'silent',
        WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_BACKOFF: '50ms', WEBHOOK_TIMEOUT: '500ms',
        ...prepared.env,
      };
    });

    afterEach(async () => {
      for (const container of containers.splice(0).reverse()) await container.close();
      await receiver.close();
      await cleanup();
      await removeTempDir(dir);
    });

    /** The API container (and, in production mode, a worker container beside it), started. */
    async function start(overrides: Environment = {}): Promise<Container> {
      const settings = configFrom({ ...env, ...overrides });
      const api = await buildContainer(settings, { logger: silentLogger, role: 'serve' });
      containers.push(api);
      await api.startBackground();
      if (withWorker) {
        const worker = await buildContainer(settings, { logger: silentLogger, role: 'worker', migrate: false });
        containers.push(worker);
        await worker.startBackground();
      }
      return api;
    }

    async function publishedDesign(api: Container): Promise<DesignView> {
      const created = await api.service.create('user-a', SAMPLE_DESIGN);
      return eventually(`design ${created.id} PUBLISHED`, async () => {
        const view = await api.service.get('user-a', created.id);
        if (view.status === 'FAILED') throw new Error(`design failed: ${view.error}`);
        return view.status === 'PUBLISHED' ? view : undefined;
      });
    }

    /** The documented check: signature over "<t>.<raw body>" with the shared secret, within the tolerance window. */
    function verified(request: ReceivedWebhook): WebhookBody {
      expect(verifySignature({ secret: SECRET, header: request.headers['customify-signature'] as string, body: request.body })).toBe(true);
      expect(verifySignature({ secret: 'another-secret-0123456789', header: request.headers['customify-signature'] as string, body: request.body })).toBe(false);
      expect(request.headers['content-type']).toBe('application/json');
      const body = JSON.parse(request.body) as WebhookBody;
      expect(request.headers['customify-event-id']).toBe(body.id);
      expect(request.headers['customify-event-type']).toBe(body.type);
      expect(request.headers['customify-signature']).toBe(`t=${String(request.headers['customify-timestamp'])},v1=${(request.headers['customify-signature'] as string).split('v1=')[1]}`);
      return body;
    }

    async function onlyDelivery(api: Container): Promise<Delivery> {
      const all = await api.webhooks.log.list();
      expect(all).toHaveLength(1);
      return all[0]!;
    }

    async function settledAs(api: Container, status: Delivery['status']): Promise<Delivery> {
      return eventually(`the delivery ${status}`, async () => {
        const [delivery] = await api.webhooks.log.list();
        return delivery?.status === status ? delivery : undefined;
      });
    }

    it('POSTs design.published once, signed, with the design as GET answers it; a delivered event is not sent again', async () => {
      const api = await start();
      const design = await publishedDesign(api);
      const delivery = await settledAs(api, 'delivered');
      expect(receiver.requests).toHaveLength(1);
      const body = verified(receiver.requests[0]!);
      expect(body).toMatchObject({ id: delivery.eventId, type: 'design.published', data: { id: design.id, status: 'PUBLISHED', preview_url: design.preview_url } });
      expect(new Date(body.created_at).toISOString()).toBe(body.created_at);
      expect(delivery).toMatchObject({ attempts: 1, lastStatusCode: 200, lastError: null });
      // The sweep finds nothing due: delivered means never again (unless replayed).
      expect(await api.webhooks.outbox!.enqueueDue()).toBe(0);
      expect(await api.webhooks.outbox!.reconcile()).toBe(0);
      expect(receiver.requests).toHaveLength(1);
      expect(await onlyDelivery(api)).toMatchObject({ status: 'delivered', attempts: 1 });
      // Counted in /metrics by the process that delivered it (the worker in production mode).
      const scraped = (await Promise.all(containers.map((c) => c.metrics.registry.metrics()))).join('\n');
      expect(scraped).toMatch(/customify_webhook_deliveries_total\{outcome="delivered"\} 1/);
    });

    it('POSTs upload.published and upload.rejected with the upload as GET answers it', async () => {
      const api = await start();
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
      const good = await api.uploadService.receive('user-a', Readable.from([png]), { filename: 'ok.png' });
      const bad = await api.uploadService.receive('user-a', Readable.from([Buffer.from('not an image at all')]), { filename: 'bad.png' });
      await eventually('two deliveries', async () => {
        const all = await api.webhooks.log.list();
        return all.length === 2 && all.every((d) => d.status === 'delivered') ? all : undefined;
      });
      const bodies = receiver.requests.map(verified);
      const published = bodies.find((b) => b.type === 'upload.published');
      const rejected = bodies.find((b) => b.type === 'upload.rejected');
      expect(published?.data).toEqual(await api.uploadService.get('user-a', good.id));
      expect(rejected?.data).toEqual(await api.uploadService.get('user-a', bad.id));
      expect(rejected?.data).toMatchObject({ status: 'REJECTED', reason: 'UNSUPPORTED_TYPE' });
      expect(receiver.requests).toHaveLength(2);
    });

    it('POSTs design.failed when a render fails for good, with the error as GET answers it', async () => {
      const api = await start();
      // A design waiting for its image, whose upload is then rejected: its render fails it (not retried).
      const uploadId = randomUUID();
      await api.uploads.create({ id: uploadId, ownerId: 'user-a', kind: 'design-image', stagingKey: `staging/${uploadId}`, bytes: 3, filename: null });
      const design = await api.service.create('user-a', { product_type: 'mug', design_data: { text: 'x', font: 'Roboto-Bold', color: '#FFF', image: { upload_id: uploadId } } });
      expect(design.status).toBe('PENDING');
      await api.uploads.claim(uploadId, 1000);
      await api.uploads.markRejected(uploadId, 'CORRUPT', 'The file is truncated.');
      await api.queue.enqueue(design.id);
      await eventually('both deliveries', async () => {
        const all = await api.webhooks.log.list();
        return all.length === 2 && all.every((d) => d.status === 'delivered') ? all : undefined;
      });
      const bodies = receiver.requests.map(verified);
      expect(bodies.map((b) => b.type).sort()).toEqual(['design.failed', 'upload.rejected']);
      const failed = bodies.find((b) => b.type === 'design.failed')!;
      expect(failed.data).toEqual(await api.service.get('user-a', design.id));
      expect(failed.data).toMatchObject({ id: design.id, status: 'FAILED', error: expect.stringMatching(/rejected \(CORRUPT\)/) as unknown });
      expect(receiver.requests).toHaveLength(2);
    });

    it('retries a receiver that is down and delivers once it is up: nothing lost', async () => {
      const port = receiver.port;
      await receiver.close();
      const api = await start();
      await publishedDesign(api);
      const failing = await eventually('two refused attempts', async () => {
        const [d] = await api.webhooks.log.list();
        return d && d.attempts >= 2 ? d : undefined;
      });
      expect(failing).toMatchObject({ status: 'pending', lastStatusCode: null });
      expect(failing.lastError).toMatch(/ECONNREFUSED|reach the receiver/);
      await receiver.listen(port);
      const delivered = await settledAs(api, 'delivered');
      expect(receiver.requests).toHaveLength(1);
      expect(verified(receiver.requests[0]!).id).toBe(delivered.eventId);
    });

    it('retries a receiver slower than WEBHOOK_TIMEOUT, then delivers', async () => {
      receiver.answer = (_req, n) => (n === 0 ? { status: 200, delayMs: 3000 } : { status: 200 });
      const api = await start();
      await publishedDesign(api);
      const delivered = await settledAs(api, 'delivered');
      expect(delivered.attempts).toBeGreaterThanOrEqual(2);
      expect(receiver.requests.length).toBe(delivered.attempts);
      for (const request of receiver.requests) expect(verified(request).id).toBe(delivered.eventId);
    });

    it('retries a 500 and delivers on the 200 after it', async () => {
      receiver.answer = (_req, n) => ({ status: n === 0 ? 500 : 200 });
      const api = await start();
      await publishedDesign(api);
      const delivered = await settledAs(api, 'delivered');
      expect(delivered).toMatchObject({ attempts: 2, lastStatusCode: 200 });
      expect(receiver.requests).toHaveLength(2);
      expect(receiver.requests.map((r) => verified(r).id)).toEqual([delivered.eventId, delivered.eventId]);
    });

    it('stops at 410 Gone and records it', async () => {
      receiver.answer = () => ({ status: 410 });
      const api = await start();
      await publishedDesign(api);
      const failed = await settledAs(api, 'failed');
      expect(failed).toMatchObject({ attempts: 1, lastStatusCode: 410 });
      expect(failed.lastError).toMatch(/410 Gone/);
      expect(await api.webhooks.outbox!.enqueueDue()).toBe(0);
      expect(receiver.requests).toHaveLength(1);
    });

    it('does not follow a redirect: a 3xx is a failed attempt, retried', async () => {
      receiver.answer = () => ({ status: 302, headers: { location: `http://127.0.0.1:${receiver.port}/elsewhere` } });
      const api = await start();
      await publishedDesign(api);
      const pending = await eventually('two redirected attempts', async () => {
        const [d] = await api.webhooks.log.list();
        return d && d.attempts >= 2 ? d : undefined;
      });
      expect(pending).toMatchObject({ status: 'pending', lastStatusCode: 302 });
      expect(pending.lastError).toMatch(/redirects are not followed/);
      expect(receiver.requests.length).toBeGreaterThanOrEqual(2);
      expect(receiver.requests.every((r) => r.path === '/hooks/customify')).toBe(true);
    });

    it('sends the event of a change whose recording a stop lost (reconciliation at start)', async () => {
      // Webhooks off: the design is published and nothing is recorded, as if the process had
      // died between the commit and the recording.
      const first = await start({ WEBHOOK_URL: '', WEBHOOK_SECRET: '' });
      const design = await publishedDesign(first);
      // A print request after the publish moves updated_at on: the publish is still the change to announce.
      await first.service.requestPrint('user-a', design.id);
      expect(await first.webhooks.log.list()).toEqual([]);
      for (const container of containers.splice(0).reverse()) await container.close();
      const api = await start();
      const delivered = await settledAs(api, 'delivered');
      expect(receiver.requests).toHaveLength(1);
      expect(verified(receiver.requests[0]!)).toMatchObject({ id: delivered.eventId, type: 'design.published', created_at: design.published_at, data: { id: design.id } });
      // Recorded under the key the sweep looks for: nothing is found (and skipped) again.
      expect(await api.webhooks.log.unrecorded(0)).toEqual([]);
      expect(await api.webhooks.outbox!.reconcile()).toBe(0);
    });
  });
}
