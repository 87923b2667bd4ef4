import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CdnObserver } from './cdn/cdn-invalidator.js';
import type { PrintDesignTask } from './jobs/print-design.task.js';
import type { RenderObserver } from './jobs/render-design.task.js';
import { isRetryable } from './jobs/retry-policy.js';
import type { StorageObserver } from './storage/index.js';
import type { UploadObserver } from './uploads/process-upload.task.js';
import type { WebhookObserver } from './webhooks/deliver-webhook.task.js';

/** Reads a queue's depth for its gauge. */
export interface QueueDepths {
  render?: () => Promise<number>;
  print?: () => Promise<number>;
  uploads?: () => Promise<number>;
}

/**
 * The seed's monitoring section, for our own process: uploads and bytes by kind, upload
 * and render durations, errors by code, renders, uploads and print jobs by outcome, the depth
 * of each queue. One registry per
 * container so tests and several apps in one process don't collide.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly uploads = new Counter({ name: 'customify_uploads_total', help: 'Objects uploaded, by asset kind', labelNames: ['kind'], registers: [this.registry] });
  readonly uploadBytes = new Counter({ name: 'customify_upload_bytes_total', help: 'Bytes uploaded, by asset kind', labelNames: ['kind'], registers: [this.registry] });
  readonly uploadSeconds = new Histogram({ name: 'customify_upload_duration_seconds', help: 'Upload duration, by asset kind', labelNames: ['kind'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [this.registry] });
  readonly storageErrors = new Counter({ name: 'customify_storage_errors_total', help: 'Storage failures, by operation and error code', labelNames: ['operation', 'code'], registers: [this.registry] });
  readonly renders = new Counter({ name: 'customify_renders_total', help: 'Render task runs, by outcome (published, retry, failed, skipped)', labelNames: ['outcome'], registers: [this.registry] });
  readonly renderSeconds = new Histogram({ name: 'customify_render_duration_seconds', help: 'Render task duration (render, thumbnail, upload, record), by outcome', labelNames: ['outcome'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly httpRequests = new Counter({ name: 'customify_http_requests_total', help: 'HTTP requests, by method, route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  readonly httpSeconds = new Histogram({ name: 'customify_http_request_duration_seconds', help: 'HTTP request duration, by method and route', labelNames: ['method', 'route'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [this.registry] });
  readonly errors = new Counter({ name: 'customify_errors_total', help: 'Errors answered by the API, by error code', labelNames: ['code'], registers: [this.registry] });
  // User uploads (issue #11): pipeline runs by outcome, rejections by reason, infected files found.
  readonly uploadPipeline = new Counter({ name: 'customify_upload_pipeline_total', help: 'Upload pipeline runs, by outcome (published, rejected, retry, scanner-unavailable, failed, skipped)', labelNames: ['outcome'], registers: [this.registry] });
  readonly uploadRejections = new Counter({ name: 'customify_upload_rejections_total', help: 'Uploads rejected, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly uploadsInfected = new Counter({ name: 'customify_uploads_infected_total', help: 'Uploads the virus scanner found infected (quarantined)', registers: [this.registry] });
  // Print files (issue #12): jobs by outcome and how long they took.
  readonly prints = new Counter({ name: 'customify_print_jobs_total', help: 'Print job runs, by outcome (ready, skipped, retry, failed)', labelNames: ['outcome'], registers: [this.registry] });
  readonly printSeconds = new Histogram({ name: 'customify_print_duration_seconds', help: 'Print job duration (layout, print.png and print.pdf, upload, record), by outcome', labelNames: ['outcome'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] });
  // CloudFront invalidation (issue #13): requests by outcome, paths accepted, paths waiting.
  readonly cdnInvalidationRequests = new Counter({ name: 'customify_cdn_invalidation_requests_total', help: 'CloudFront CreateInvalidation requests, by outcome (sent; failed: its paths are retried)', labelNames: ['outcome'], registers: [this.registry] });
  readonly cdnInvalidationPaths = new Counter({ name: 'customify_cdn_invalidation_paths_total', help: 'Paths CloudFront accepted for invalidation', registers: [this.registry] });
  private cdnBacklogReader: (() => Promise<number>) | undefined;
  // Renditions made on their first request (issue #13): how many, and how long each took.
  readonly renditionsMade = new Counter({ name: 'customify_renditions_made_total', help: 'Renditions made on their first request (the render makes only the seed\'s two PNGs)', registers: [this.registry] });
  readonly renditionSeconds = new Histogram({ name: 'customify_rendition_duration_seconds', help: 'Making one rendition on request (lay out, paint, encode, store, record)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] });
  // Signed webhooks (issue #14): delivery attempts by how they ended.
  readonly webhookDeliveries = new Counter({ name: 'customify_webhook_deliveries_total', help: 'Webhook delivery attempts, by outcome (delivered; retry: failed, tried again later; gone: 410, stopped; gave-up: WEBHOOK_MAX_AGE passed)', labelNames: ['outcome'], registers: [this.registry] });

  // Live status (issue #14): event streams open now (GET /api/v1/events, /api/v1/designs/{id}/events).
  readonly sseConnections = new Gauge({ name: 'customify_sse_connections', help: 'Server-Sent Events streams open now', registers: [this.registry] });

  /**
   * `queueDepths`: each queue's jobs waiting, delayed or running, read when /metrics is
   * scraped (-1 when the queue cannot be read, e.g. Redis is down).
   */
  constructor(options: { queueDepths?: QueueDepths; defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'customify_' });
    const { render, print, uploads } = options.queueDepths ?? {};
    if (render) this.depthGauge('customify_render_queue_depth', 'Render jobs waiting, delayed or running', render);
    if (print) this.depthGauge('customify_print_queue_depth', 'Print jobs waiting, delayed or running', print);
    if (uploads) this.depthGauge('customify_upload_queue_depth', 'Upload pipeline jobs waiting, delayed or running', uploads);
  }

  private depthGauge(name: string, help: string, depth: () => Promise<number>): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        this.set(await depth().catch(() => -1));
      },
    });
  }

  /** `task`, counted and timed by outcome: a thrown error is a retry when the queue will retry it, else a failure. */
  observePrints(task: PrintDesignTask): PrintDesignTask {
    return async (designId, attempt) => {
      const started = performance.now();
      const record = (outcome: string) => {
        this.prints.inc({ outcome });
        this.printSeconds.observe({ outcome }, (performance.now() - started) / 1000);
      };
      try {
        const result = await task(designId, attempt);
        record(result.status === 'READY' ? 'ready' : 'skipped');
        return result;
      } catch (error) {
        record(isRetryable(error) && attempt.attempt < attempt.maxAttempts ? 'retry' : 'failed');
        throw error;
      }
    };
  }

  readonly storageObserver: StorageObserver = {
    uploaded: ({ kind, bytes, seconds }) => {
      this.uploads.inc({ kind });
      this.uploadBytes.inc({ kind }, bytes);
      this.uploadSeconds.observe({ kind }, seconds);
    },
    failed: ({ operation, code }) => this.storageErrors.inc({ operation, code }),
  };

  readonly renderObserver: RenderObserver = {
    rendered: ({ outcome, seconds }) => {
      this.renders.inc({ outcome });
      this.renderSeconds.observe({ outcome }, seconds);
    },
  };

  readonly renditionObserver = {
    made: ({ seconds }: { seconds: number }) => {
      this.renditionsMade.inc();
      this.renditionSeconds.observe(seconds);
    },
  };

  readonly cdnObserver: CdnObserver = {
    sent: (paths) => {
      this.cdnInvalidationRequests.inc({ outcome: 'sent' });
      this.cdnInvalidationPaths.inc(paths);
    },
    failed: () => this.cdnInvalidationRequests.inc({ outcome: 'failed' }),
    // The gauge appears once an invalidator is enabled; -1 when the database cannot be read.
    backlog: (read) => {
      if (!this.cdnBacklogReader) {
        const reader = () => this.cdnBacklogReader?.() ?? Promise.resolve(0);
        this.depthGauge('customify_cdn_invalidation_backlog', 'CloudFront paths waiting to be invalidated (recorded, not yet accepted), from the database', reader);
      }
      this.cdnBacklogReader = read;
    },
  };

  readonly webhookObserver: WebhookObserver = {
    delivered: (outcome) => this.webhookDeliveries.inc({ outcome }),
  };

  readonly uploadObserver: UploadObserver = {
    processed: ({ outcome, reason }) => {
      this.uploadPipeline.inc({ outcome });
      if (reason) this.uploadRejections.inc({ reason });
      if (reason === 'INFECTED') this.uploadsInfected.inc();
    },
  };
}
