import type { Design } from '../designs/design.js';
import { describeError } from '../errors.js';
import type { StateChange, StateChangeListener } from '../events/state-change.js';
import type { RenderQueue } from '../jobs/render-queue.js';
import type { Logger } from '../logger.js';
import type { Upload } from '../uploads/upload.js';
import type { WebhookDeliveryLog } from './delivery-log.js';
import { newEventId, webhookBody, webhookChange, type WebhookChange } from './webhook-event.js';

export interface WebhookOutboxDeps {
  log: WebhookDeliveryLog;
  /** The delivery queue: job id = event id, so one event is queued at most once at a time. */
  queue: Pick<RenderQueue, 'enqueue' | 'enqueueMany'>;
  /** The event's `data`: the design or upload exactly as the API's GET answers it. */
  views: { design: (design: Design) => Promise<unknown>; upload: (upload: Upload) => Promise<unknown> };
  /** Live designs and uploads by id, for the reconciliation sweep. */
  load: { designs: (ids: string[]) => Promise<Design[]>; upload: (id: string) => Promise<Upload | null> };
  /** WEBHOOK_MAX_AGE: changes older than this are not announced by the reconciliation sweep. */
  maxAgeMs: number;
  logger: Logger;
  clock?: () => number;
}

/**
 * Where webhook events come from, and how no event is lost on the way to the queue.
 *
 * Durability: the listener records the event after the state change has committed (the
 * repositories tell listeners after the commit). A crash between that commit and the recording
 * would lose it, so `reconcile` looks for PUBLISHED/FAILED designs and PUBLISHED/REJECTED uploads
 * that changed within WEBHOOK_MAX_AGE with no event recorded for that change, and records them;
 * it runs at every start and then periodically. The same change always gets the same
 * (subject, type, version) key, unique in the log, so the listener and the sweep can race and
 * still record it once. (The alternative, recording inside the repositories' transactions,
 * would put webhook code inside every status change; this keeps the repositories unaware of
 * webhooks at the cost of a late event after a crash.)
 *
 * Jobs: a recorded event is queued at once; `enqueueDue` queues every pending event whose
 * time has come (first tries whose job was lost, and retries, which are a time in the row, not
 * a job waiting in the queue).
 */
export class WebhookOutbox {
  private readonly clock: () => number;
  /** Recordings in flight, awaited by `settle` (tests, shutdown). */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: WebhookOutboxDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  /** The state-change listener: records and queues the change's event in the background. */
  readonly listener: StateChangeListener = (change) => {
    if (!webhookChange(change)) return;
    const recording = this.recordChange(change).then(
      () => undefined,
      (error: unknown) => this.deps.logger.warn(`Could not record a webhook event (the reconciliation sweep records it later): ${describeError(error)}`),
    );
    this.inFlight.add(recording);
    void recording.finally(() => this.inFlight.delete(recording));
  };

  /** Records the change's event (once per change) and queues it; false when not a webhook event or already recorded. */
  async recordChange(change: StateChange): Promise<boolean> {
    const event = webhookChange(change);
    if (!event) return false;
    const data = change.kind === 'design' ? await this.deps.views.design(change.design) : await this.deps.views.upload(change.upload);
    return this.record(event, data);
  }

  /**
   * Records the events of changes that have none (see the class comment); returns how many.
   * Each is recorded under the key the log matched (not re-derived from the row read now,
   * which may have changed since: a print request after a publish), so what `unrecorded`
   * finds is recorded and not found again.
   */
  async reconcile(): Promise<number> {
    const missing = await this.deps.log.unrecorded(this.clock() - this.deps.maxAgeMs);
    let recorded = 0;
    const designIds = missing.filter((m) => m.kind === 'design').map((m) => m.id);
    const designs = new Map((designIds.length > 0 ? await this.deps.load.designs(designIds) : []).map((d) => [d.id, d]));
    for (const change of missing) {
      // A subject gone since (deleted) is not found again either: the log looks at live rows only.
      const design = change.kind === 'design' ? designs.get(change.id) : undefined;
      const upload = change.kind === 'upload' ? await this.deps.load.upload(change.id) : null;
      const data = design ? await this.deps.views.design(design) : upload ? await this.deps.views.upload(upload) : undefined;
      if (data === undefined) continue;
      if (await this.record({ type: change.type, subjectId: change.id, subjectVersion: change.version, occurredAt: change.occurredAt }, data)) recorded++;
    }
    if (recorded > 0) this.deps.logger.warn({ recorded }, `Recorded ${recorded} webhook event(s) whose recording a stop or a database outage had interrupted`);
    return recorded;
  }

  /** Records `event` with `data` once (by its subject, type and version) and queues it if this call recorded it. */
  private async record(event: WebhookChange, data: unknown): Promise<boolean> {
    const eventId = newEventId(event.occurredAt);
    const recorded = await this.deps.log.record(
      { eventId, type: event.type, subjectId: event.subjectId, subjectVersion: event.subjectVersion, body: webhookBody(eventId, event, data), createdAt: event.occurredAt },
      this.clock(),
    );
    // Queued only if recorded here: a row recorded by another path is queued by that path or the sweep.
    if (recorded) {
      await this.deps.queue.enqueue(eventId).catch((error: unknown) =>
        this.deps.logger.warn(`Webhook ${eventId} recorded but not queued (the sweep queues it): ${describeError(error)}`));
    }
    return recorded;
  }

  /** Queues every pending event that is due (and first in line for its design or upload). */
  async enqueueDue(): Promise<number> {
    const due = await this.deps.log.due(this.clock());
    if (due.length > 0) await this.deps.queue.enqueueMany(due);
    return due.length;
  }

  /** Waits for recordings the listener started. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
