import { AvatarPublisher, AvatarRepository, AvatarService } from './avatars/index.js';
import type { Settings } from './config.js';
import { closeDatabase, createDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { DesignRepository } from './designs/design-repository.js';
import { DesignService } from './designs/design-service.js';
import { tell, type StateChangeListener } from './events/state-change.js';
import { createEventBus, createEventPublisher, type EventBus } from './events/index.js';
import { ConfigError, describeError } from './errors.js';
import { createCdnInvalidator, type CdnInvalidator } from './cdn/index.js';
import { BullmqRenderQueue, BullmqRenderWorker } from './jobs/bullmq.queue.js';
import { InProcessRenderQueue } from './jobs/in-process.queue.js';
import { startSweep, sweepStaleDesigns, sweepStalePrints, sweepStaleUploads } from './jobs/pending-sweep.js';
import { createPrintDesignTask, type PrintDesignTask } from './jobs/print-design.task.js';
import { renderPrintFiles } from './print/index.js';
import { createRenderDesignTask, type Attempt, type RenderDesignTask } from './jobs/render-design.task.js';
import type { RenderQueue, RenderWorker } from './jobs/render-queue.js';
import type { RetryPolicy } from './jobs/retry-policy.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { disableSharpCache, EAGER_FILES, loadWatermark, renderRenditions, renditionPlan, RenderPool, type RenditionRenderOptions } from './rendering/index.js';
import { RenditionMaker } from './designs/rendition-maker.js';
import { keyToUrlPath } from './storage/index.js';
import { removeSupersededImages } from './designs/superseded-images.js';
import { ClamdScanner, DisabledScanner, type VirusScanner } from './scanning/index.js';
import { createStorageLayer, s3Connection, STALE_TEMP_FILE_AGE_MS, type StorageLayer } from './storage/index.js';
import { createProcessUploadTask } from './uploads/process-upload.task.js';
import { UploadRepository } from './uploads/upload-repository.js';
import { UploadService } from './uploads/upload-service.js';
import { UploadStorage } from './uploads/upload-storage.js';
import { LocalTusStore, type TusStagingStore } from './uploads/tus-store.js';
import { TusUploads } from './uploads/tus-uploads.js';
import type { PreviewDeps } from './http/previews.routes.js';
import { createDeliverWebhookTask, sendWebhook, WebhookDeliveryLog, WebhookOutbox, type DeliverWebhookTask } from './webhooks/index.js';

/** What a process runs: the API (with the in-process worker when there is no Redis), or BullMQ workers only. */
export type Role = 'serve' | 'worker' | 'cli';

export interface Container {
  settings: Readonly<Settings>;
  logger: Logger;
  db: Database;
  designs: DesignRepository;
  storage: StorageLayer;
  queue: RenderQueue;
  /** Set for `serve` without Redis (in-process) and for `worker`. */
  worker: RenderWorker | undefined;
  task: RenderDesignTask;
  service: DesignService;
  metrics: Metrics;
  /** User uploads (issue #11): their own queue (same adapters and retry policy as renders). */
  uploads: UploadRepository;
  uploadService: UploadService;
  uploadQueue: RenderQueue;
  scanner: VirusScanner;
  /** The caller's avatar (/api/v1/users/me/avatar): uploads of kind avatar, published by the upload task. */
  avatarService: AvatarService;
  /** Resumable uploads (/api/v1/uploads/tus) and where they keep their bytes while they arrive. */
  tus: TusUploads;
  tusStore: TusStagingStore;
  /**
   * Print files (issue #12): their own queue (same adapters and retry policy as renders,
   * PRINT_CONCURRENCY jobs at a time), so a burst of print orders never starves previews.
   */
  printQueue: RenderQueue;
  printTask: PrintDesignTask;
  /** CloudFront invalidation of public bytes removed (issue #13); a no-op without CLOUDFRONT_DISTRIBUTION_ID. */
  cdn: CdnInvalidator;
  /** Renditions made on their first request, and where the API serves them (`/static/...`). */
  renditions: { maker: RenditionMaker; url: (key: string) => Promise<string>; publicBucket: boolean };
  /** Instant previews (POST /api/v1/previews): the render's own options, and the per-user rate's store (Redis with REDIS_URL). */
  previews: PreviewDeps;
  /**
   * Live status (issue #14): every committed change published on the bus (in memory, or a Redis
   * stream with REDIS_URL so a worker's changes reach every API process), and how the API streams it.
   */
  events: { bus: EventBus; heartbeatMs: number; maxBufferedBytes: number };

  /**
   * Signed webhooks (issue #14). `log` is always there (`customify webhooks list`); the rest
   * only with WEBHOOK_URL: the outbox (the state-change listener and its sweeps), the delivery
   * queue (`<RENDER_QUEUE_NAME>-webhooks`) and the task that sends one event.
   */
  webhooks: { log: WebhookDeliveryLog; outbox?: WebhookOutbox; queue?: RenderQueue; deliver?: DeliverWebhookTask };
  /** Starts the worker, queues designs a crash left behind, and starts the periodic sweep. */
  startBackground(): Promise<void>;
  close(): Promise<void>;
}

/** The only place that picks implementations: database dialect, storage driver, queue adapter. */
export async function buildContainer(settings: Readonly<Settings>, options: { logger: Logger; role: Role; migrate?: boolean }): Promise<Container> {
  const { logger, role } = options;
  disableSharpCache();
  const db = createDatabase(settings.databaseUrl, { onPoolError: (error) => logger.warn(`Database connection lost: ${describeError(error)}`) });
  const closers: Array<() => Promise<void>> = [() => closeDatabase(db)];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.warn(`While closing: ${describeError(error)}`));
    closers.length = 0;
  };
  try {
    if (options.migrate ?? true) {
      const { applied } = await migrateToLatest(db);
      if (applied.length > 0) logger.info({ applied }, `Applied ${applied.length} migration(s)`);
    }
    const designs = new DesignRepository(db);
    // Every committed change of a design's or an upload's state, told to each listener (the
    // event stream, the webhook outbox); one that throws is logged and the others still hear it.
    const stateListeners: StateChangeListener[] = [];
    const onChange: StateChangeListener = (change) => {
      for (const listener of stateListeners) tell(listener, change, (error) => logger.warn(`A state-change listener failed: ${describeError(error)}`));
    };
    designs.onChange = onChange;
    // The queue is built after the task that reports to metrics; the gauge reads it when scraped.
    const built: { queue?: RenderQueue; printQueue?: RenderQueue; uploadQueue?: RenderQueue } = {};
    const metrics = new Metrics({
      queueDepths: {
        render: () => built.queue?.depth() ?? Promise.resolve(0),
        print: () => built.printQueue?.depth() ?? Promise.resolve(0),
        uploads: () => built.uploadQueue?.depth() ?? Promise.resolve(0),
      },
    });
    // Before the storage layer's closer: a pending burst is sent, then storage and database close.
    const cdn = createCdnInvalidator({ db, settings, logger, metrics });
    closers.push(() => cdn.close());
    if (settings.cloudfrontDomain && !cdn.enabled && role !== 'cli') {
      logger.warn('CLOUDFRONT_DOMAIN is set but CLOUDFRONT_DISTRIBUTION_ID is not: deleted images stay in CloudFront caches until they expire. Set CLOUDFRONT_DISTRIBUTION_ID and grant cloudfront:CreateInvalidation on the distribution.');
    }
    const storage = await createStorageLayer(settings, { logger, observer: metrics.storageObserver });
    closers.push(() => storage.storage.close());
    // Every removal of public bytes (a deleted design or upload, a replaced avatar, superseded images) reaches the CDN.
    if (cdn.enabled) storage.storage.onRemoved = (keys) => cdn.invalidate(keys);
    const policy: RetryPolicy = { maxRetries: settings.renderMaxRetries, backoffMs: settings.renderBackoffMs };
    // The preview is laid out in each product's print area, PRINT_SPECS_FILE included, as its print files are.
    // A watermark file that is missing or cannot be used stops the start here, not a render later.
    const renderOptions: RenditionRenderOptions = {
      compressionLevel: settings.pngCompressionLevel, printAreas: settings.printSpecs,
      renditions: settings.renditions, formats: settings.imageFormats, watermark: await loadWatermark(settings), subset: EAGER_FILES,
    };
    // Threads start on the first render, so processes that never render never start them.
    const pool = settings.renderThreads > 0
      ? new RenderPool({ threads: settings.renderThreads, renderOptions, onThreadError: (error) => logger.warn(`A render thread stopped while idle: ${describeError(error)}`) })
      : undefined;
    if (pool) closers.push(() => pool.close());
    // What consumes the state changes the job workers make: closed after every worker pushed
    // below (closers run in reverse) and before storage and the database, in this order: webhook
    // recordings in flight finish and queue their jobs, the webhook worker and queue close, then
    // the event publisher drains (its views sign URLs: storage must still be open) and the bus closes.
    const changeConsumers: Array<() => Promise<void>> = [];
    closers.push(async () => {
      for (const close of changeConsumers.reverse()) await close().catch((error: unknown) => logger.warn(`While closing: ${describeError(error)}`));
      changeConsumers.length = 0;
    });
    const uploads = new UploadRepository(db);
    uploads.onChange = onChange;
    const uploadStorage = new UploadStorage(storage.storage, {
      publicBucket: settings.useLocalStorage || settings.s3PublicBucket, signedUrlExpiresSeconds: settings.s3SignedUrlExpires,
    });
    const imageSource = { find: (id: string) => uploads.findById(id), read: (key: string) => uploadStorage.readOriginal(key) };
    const asBuffer = (image: Uint8Array | undefined) => image && Buffer.from(image.buffer, image.byteOffset, image.byteLength);
    // A render makes the seed's two PNGs; every other size and format is made on its first request.
    const task = createRenderDesignTask({
      designs,
      storage: storage.repository,
      renderAssets: pool
        ? (spec, image, watermarked) => pool.render(spec, image, watermarked)
        : (spec, image, watermarked) => renderRenditions(spec, { ...renderOptions, watermarked }, asBuffer(image)),
      gracePeriodMs: settings.assetGracePeriodMs,
      plan: renditionPlan(settings.renditions, settings.imageFormats),
      images: imageSource,
      logger,
      leaseMs: settings.renderLeaseMs,
      observer: metrics.renderObserver,
    });
    const publicBucket = settings.useLocalStorage || settings.s3PublicBucket;
    const renditions = {
      maker: new RenditionMaker({
        designs, storage: storage.repository, images: imageSource, logger, observer: metrics.renditionObserver,
        exists: async (key) => (await storage.storage.head(key)) !== null,
        render: (spec, image, watermarked, file) => renderRenditions(spec, { ...renderOptions, watermarked, subset: [file] }, asBuffer(image)),
      }),
      url: (key: string) => storage.repository.urlFor(key),
      publicBucket,
    };
    // The preview a render would make (same options, watermark included), in the format asked
    // for whatever IMAGE_FORMATS lists: it is answered, never stored.
    const previews: PreviewDeps = {
      render: async (spec, image, watermarked, format) => {
        const [file] = await renderRenditions(spec, { ...renderOptions, formats: [format], watermarked, subset: [{ name: 'preview', format }] }, asBuffer(image));
        return file!;
      },
      images: { find: (id, ownerId) => uploads.findByIdForOwner(id, ownerId), read: (key) => uploadStorage.readOriginal(key) },
      watermarkDefault: settings.watermarkDefault,
      rateLimit: { max: settings.previewRateLimit, timeWindowMs: settings.previewRateWindowMs },
    };
    // With REDIS_URL every API process counts against one limit per user; only `serve` answers previews.
    if (settings.redisUrl && role === 'serve') {
      const { Redis } = await import('ioredis');
      // No offline queue: while Redis is down a count fails at once and the preview goes unlimited
      // (the route skips the count) instead of waiting out reconnects. Said once per outage.
      const redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
      let down = false;
      redis.on('error', (error: unknown) => {
        if (!down) logger.warn(`Preview rate limit not enforced while Redis is unreachable: ${describeError(error)}`);
        down = true;
      });
      redis.on('ready', () => { down = false; });
      closers.push(() => redis.quit().then(() => undefined, () => redis.disconnect()));
      previews.rateLimit.redis = redis;
    }

    if (!settings.redisUrl && role === 'worker') throw new Error('customify worker needs REDIS_URL (redis://host:6379): without it, `customify serve` renders in-process.');
    const { queue, worker } = jobQueue({ settings, role, policy, logger, closers }, { queueName: settings.renderQueueName, task, concurrency: settings.renderConcurrency, inProcessRoles: ['serve'] });
    built.queue = queue;

    const printTask = metrics.observePrints(createPrintDesignTask({
      designs, storage: storage.repository, printSpecs: settings.printSpecs, renderPrintFiles,
      images: { find: (id) => uploads.findById(id), read: (key) => uploadStorage.readOriginal(key) },
      logger, leaseMs: settings.renderLeaseMs, compressionLevel: settings.pngCompressionLevel,
    }));
    // `customify print` without Redis makes the files itself (src/cli/print.ts).
    const { queue: printQueue, worker: printWorker } = jobQueue({ settings, role, policy, logger, closers }, {
      queueName: `${settings.renderQueueName}-print`, jobName: 'print-design', task: printTask, concurrency: settings.printConcurrency, inProcessRoles: ['serve', 'cli'],
    });
    built.printQueue = printQueue;

    const service = new DesignService({
      designs, storage: storage.repository, queue, printQueue, logger, uploads, watermarkDefault: settings.watermarkDefault,
      // Not made yet: the API's route makes it on the first request (in local mode that is its storage URL anyway).
      unmadeRenditionUrl: (key) => `${settings.publicBaseUrl}/static/${keyToUrlPath(key)}`,
      printFileRoute: (designId, name) => `${settings.publicBaseUrl}/api/v1/designs/${designId}/print-files/${name}`,
    });
    let stopSweep: (() => Promise<void>) | undefined;

    // Webhooks: every event recorded in the delivery log before it is sent, one job per
    // attempt on a queue of their own (in-process in serve without Redis, BullMQ workers with it).
    const webhookLog = new WebhookDeliveryLog(db);
    const webhooks: Container['webhooks'] = { log: webhookLog };
    let webhookWorker: RenderWorker | undefined;
    if (settings.webhookUrl) {
      const target = { url: settings.webhookUrl, secret: settings.webhookSecret, timeoutMs: settings.webhookTimeoutMs };
      const deliver = createDeliverWebhookTask({
        log: webhookLog, send: (event, now) => sendWebhook(target, event, now), timeoutMs: settings.webhookTimeoutMs,
        maxAgeMs: settings.webhookMaxAgeMs, backoff: { baseMs: settings.webhookBackoffMs, maxMs: 3_600_000 }, logger, observer: metrics.webhookObserver,
      });
      const webhookJobs = jobQueue({ settings, role, policy, logger, closers: changeConsumers }, {
        queueName: `${settings.renderQueueName}-webhooks`, jobName: 'deliver-webhook', task: (eventId) => deliver(eventId), concurrency: 8, inProcessRoles: ['serve'],
      });
      webhookWorker = webhookJobs.worker;
      const outbox = new WebhookOutbox({
        log: webhookLog, queue: webhookJobs.queue, logger, maxAgeMs: settings.webhookMaxAgeMs,
        // Resolved when called: the services are made further down.
        views: { design: (design) => service.view(design), upload: (upload) => uploadService.view(upload) },
        load: { designs: (ids) => designs.findByIds(ids), upload: (id) => uploads.findById(id) },
      });
      // After the queue's closer is pushed, so it runs first: recordings in flight finish and queue their jobs.
      changeConsumers.push(() => outbox.settle());
      stateListeners.push(outbox.listener);
      Object.assign(webhooks, { outbox, queue: webhookJobs.queue, deliver });
    }

    // Uploads: a second queue beside the render queue, so a burst of uploads never delays
    // renders (nor the reverse); same adapter choice, retry policy and concurrency.
    const scanner: VirusScanner = settings.clamdHost
      ? new ClamdScanner({ host: settings.clamdHost, port: settings.clamdPort, ...(settings.clamdStreamMaxBytes > 0 ? { maxStreamBytes: settings.clamdStreamMaxBytes } : {}) })
      : new DisabledScanner();
    if (!scanner.enabled && role !== 'cli') {
      logger.warn('Virus scanning is disabled (CLAMD_HOST is not set): uploads are published unscanned. Set CLAMD_HOST (and SCAN_REQUIRED=true) in production.');
    }
    const avatars = new AvatarRepository(db);
    const avatarPublisher = new AvatarPublisher({ avatars, storage: uploadStorage, logger, maxInputPixels: settings.uploadMaxPixels });
    const uploadTask = createProcessUploadTask({
      uploads, storage: uploadStorage, scanner, logger, leaseMs: settings.renderLeaseMs, publishers: { avatar: avatarPublisher },
      maxBytes: settings.uploadMaxBytes, maxInputPixels: settings.uploadMaxPixels, observer: metrics.uploadObserver,
      retry: { backoffMs: policy.backoffMs },
      // Designs whose image this upload is waited in PENDING: their renders start now.
      onSettled: async (uploadId) => {
        for (const designId of await designs.idsWaitingForUpload(uploadId)) await queue.enqueue(designId);
      },
    });
    const { queue: uploadQueue, worker: uploadWorker } = jobQueue({ settings, role, policy, logger, closers }, {
      queueName: `${settings.renderQueueName}-uploads`, jobName: 'process-upload', task: uploadTask, concurrency: settings.renderConcurrency, inProcessRoles: ['serve'],
    });
    built.uploadQueue = uploadQueue;
    const uploadService = new UploadService({
      uploads, storage: uploadStorage, queue: uploadQueue, logger, maxBytes: settings.uploadMaxBytes,
      designsUsing: (uploadId) => designs.idsUsingUpload(uploadId),
    });
    const avatarService = new AvatarService({ uploads: uploadService, avatars, storage: uploadStorage, logger, maxBytes: settings.avatarMaxBytes });
    const tusStore = await createTusStore(settings);
    closers.push(() => Promise.resolve(tusStore.close()));
    const tus = new TusUploads({ store: tusStore, uploads: uploadService, path: '/api/v1/uploads/tus', maxBytes: settings.uploadMaxBytes, logger });
    const sweepUploads = (before: Date) => sweepStaleUploads({ uploads, queue: uploadQueue, logger }, before);

    // Every sweep runs at half PENDING_SWEEP_AFTER, between 1 and 10 seconds.
    const sweepEveryMs = Math.max(1000, Math.min(settings.pendingSweepAfterMs / 2, 10_000));
    /** Queues what `sweep` finds now, then every few seconds what has been waiting longer than PENDING_SWEEP_AFTER. */
    const sweepLeftovers = async (what: string, sweep: (before: Date) => Promise<number>): Promise<void> => {
      await sweep(new Date()).catch((error: unknown) => logger.warn(`Could not queue leftover ${what} at start: ${describeError(error)}`));
      const timer = setInterval(() => {
        void sweep(new Date(Date.now() - settings.pendingSweepAfterMs)).catch((error: unknown) => logger.warn(`Sweep of ${what} failed: ${describeError(error)}`));
      }, sweepEveryMs);
      timer.unref();
      closers.push(() => Promise.resolve(clearInterval(timer)));
    };

    // Changes become events once committed, in every role: a worker's reach the API through Redis.
    // The bus closes last of the change consumers (first in their list), once what was told is published.
    const bus = await createEventBus(settings, logger);
    const publisher = createEventPublisher({ bus, designView: (d) => service.view(d), uploadView: (u) => uploadService.view(u), logger });
    changeConsumers.unshift(async () => {
      await publisher.drain();
      await bus.close();
    });
    stateListeners.push(publisher.listener);
    const events = { bus, heartbeatMs: settings.sseHeartbeatMs, maxBufferedBytes: settings.sseMaxBufferedBytes };

    /**
     * Webhooks: events whose recording a crash interrupted, at start and every minute; pending
     * events whose time has come (retries, and first tries whose job was lost), often. Run only
     * by processes that run the delivery worker (see startBackground).
     */
    const startWebhookSweeps = (outbox: WebhookOutbox) => {
      const every = (what: string, ms: number, run: () => Promise<unknown>) => {
        const timer = setInterval(() => void run().catch((error: unknown) => logger.warn(`Webhook ${what} failed: ${describeError(error)}`)), ms);
        timer.unref();
        closers.push(() => Promise.resolve(clearInterval(timer)));
      };
      void outbox.reconcile().then(() => outbox.enqueueDue()).catch((error: unknown) => logger.warn(`Could not queue leftover webhook events at start: ${describeError(error)}`));
      every('reconciliation', 60_000, () => outbox.reconcile());
      every('sweep', Math.max(200, Math.min(settings.webhookBackoffMs / 2, 5_000)), () => outbox.enqueueDue());
    };

    return {
      settings, logger, db, designs, storage, queue, worker, task, service, metrics,
      uploads, uploadService, uploadQueue, scanner, avatarService, tus, tusStore, printQueue, printTask, cdn, renditions, previews, events, webhooks,
      async startBackground() {
        if (worker) await worker.start();
        if (webhookWorker) await webhookWorker.start();
        if (uploadWorker) await uploadWorker.start();
        if (printWorker) await printWorker.start();
        if (role === 'cli') return;
        // Print jobs and uploads a crash or a lost in-process queue left: all at start, then the stale ones.
        await sweepLeftovers('print jobs', (before) => sweepStalePrints({ designs, queue: printQueue, logger }, before));
        await sweepLeftovers('uploads', sweepUploads);
        // Only where the delivery worker runs (`serve` without Redis, `worker` with it): one set of
        // sweeps per deployment's workers, not one more per API process.
        if (webhooks.outbox && webhookWorker) startWebhookSweeps(webhooks.outbox);
        // Images re-renders replaced, once ASSET_GRACE_PERIOD is over (the sweep passes `now`).
        await sweepLeftovers('superseded images', () => removeSupersededImages({ designs, storage: storage.repository, logger }));
        // Temp files a crash left mid-write (local storage). In the background: a large tree
        // must not delay the start. Young ones may be another process's write in progress.
        void storage.storage.removeStaleTempFiles({ olderThanMs: STALE_TEMP_FILE_AGE_MS }).then(
          (removed) => { if (storage.storage.driver.removeStaleTempFiles) logger.info({ removed: removed.length }, `Removed ${removed.length} stale temp file(s) left by interrupted writes`); },
          (error: unknown) => logger.warn(`Could not remove stale temp files at start: ${describeError(error)}`),
        );
        const sweepDeps = {
          designs, queue, logger, pendingAfterMs: settings.pendingSweepAfterMs,
          finishDeletions: (before: Date) => service.finishInterruptedDeletions(before),
        };
        // At start, every PENDING design is queued, not only old ones: an in-process queue lost them all.
        await sweepStaleDesigns(sweepDeps, { pendingBefore: new Date(), limit: 10_000 }).catch((error: unknown) =>
          logger.warn(`Could not queue leftover designs at start: ${describeError(error)}`),
        );
        stopSweep = startSweep(sweepDeps, sweepEveryMs);
        closers.push(() => stopSweep!());
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * SCAN_REQUIRED (default true with USE_LOCAL_STORAGE=false): a process that would accept or
 * publish uploads refuses to start without a virus scanner. Checked by `serve` and `worker`.
 */
export function assertScanningConfigured(settings: Pick<Settings, 'scanRequired' | 'clamdHost' | 'clamdStreamMaxBytes' | 'uploadMaxBytes'>): void {
  // A file clamd cannot take could never be scanned: refuse to accept such files at all.
  if (settings.clamdHost && settings.clamdStreamMaxBytes > 0 && settings.uploadMaxBytes > settings.clamdStreamMaxBytes) {
    throw new ConfigError(
      `UPLOAD_MAX_BYTES (${settings.uploadMaxBytes}) is above CLAMD_STREAM_MAX_BYTES (${settings.clamdStreamMaxBytes}), clamd's StreamMaxLength: uploads in between could never be scanned. ` +
        'Lower UPLOAD_MAX_BYTES, or raise StreamMaxLength in clamd.conf and CLAMD_STREAM_MAX_BYTES with it.',
      'UPLOAD_MAX_BYTES',
    );
  }
  if (settings.scanRequired && !settings.clamdHost) {
    throw new ConfigError(
      'SCAN_REQUIRED is true (the default with USE_LOCAL_STORAGE=false) but CLAMD_HOST is not set: uploads would be published unscanned. ' +
        'Set CLAMD_HOST (and CLAMD_PORT) to a running clamd, or SCAN_REQUIRED=false to accept unscanned uploads.',
      'CLAMD_HOST',
    );
  }
}

type TusStoreSettings = Pick<Settings,
  | 'useLocalStorage' | 'localStoragePath' | 'uploadExpiryMs' | 's3BucketName' | 'awsRegion' | 's3Endpoint' | 's3ForcePathStyle'
  | 'awsAccessKeyId' | 'awsSecretAccessKey' | 's3Sse' | 's3SseKmsKeyId'>;

/**
 * The tus store beside the storage driver: @tus/file-store under LOCAL_STORAGE_PATH, or
 * @tus/s3-store on the same bucket (imported on demand, like the S3 driver).
 */
export async function createTusStore(settings: TusStoreSettings, options: { partSize?: number; maxConcurrentPartUploads?: number } = {}): Promise<TusStagingStore> {
  if (settings.useLocalStorage) return new LocalTusStore({ root: settings.localStoragePath, expiryMs: settings.uploadExpiryMs });
  const { S3TusStore } = await import('./uploads/tus-s3.store.js');
  return new S3TusStore({ ...s3Connection(settings), expiryMs: settings.uploadExpiryMs, ...options });
}

interface JobQueueContext {
  settings: Readonly<Settings>;
  role: Role;
  policy: RetryPolicy;
  logger: Logger;
  /** Workers close before their queue, and both before the database (closers run in reverse). */
  closers: Array<() => Promise<void>>;
}

interface JobQueueOptions {
  queueName: string;
  /** The BullMQ job name; the render queue's when left out. */
  jobName?: string;
  task: (id: string, attempt: Attempt) => Promise<unknown>;
  concurrency: number;
  /** The roles that run this queue's jobs themselves when there is no Redis. */
  inProcessRoles: readonly Role[];
}

/**
 * One kind of job on a queue of its own (renders, uploads, print files), so a burst of one
 * never delays another: BullMQ with REDIS_URL, its jobs run by `customify worker`; without
 * Redis an in-process queue, run by the roles `inProcessRoles` names. The same retry policy
 * for all.
 */
function jobQueue(context: JobQueueContext, options: JobQueueOptions): { queue: RenderQueue; worker: RenderWorker | undefined } {
  const { settings, role, policy, logger, closers } = context;
  let queue: RenderQueue;
  let worker: RenderWorker | undefined;
  if (settings.redisUrl) {
    const shared = { redisUrl: settings.redisUrl, queueName: options.queueName, policy, logger, ...(options.jobName ? { jobName: options.jobName } : {}) };
    queue = new BullmqRenderQueue(shared);
    if (role === 'worker') {
      worker = new BullmqRenderWorker({
        ...shared, task: options.task, concurrency: options.concurrency,
        lockDurationMs: settings.renderLockDurationMs, stalledIntervalMs: settings.renderStalledIntervalMs,
      });
    }
  } else {
    const inProcess = new InProcessRenderQueue({ task: options.task, policy, concurrency: options.concurrency, logger });
    queue = inProcess;
    if (options.inProcessRoles.includes(role)) worker = inProcess;
  }
  closers.push(() => queue.close());
  if (worker && (worker as unknown) !== queue) closers.push(() => worker.close());
  return { queue, worker };
}
