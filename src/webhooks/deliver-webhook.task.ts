import { retryDelayMs, type Backoff } from '../jobs/retry-policy.js';
import type { Logger } from '../logger.js';
import type { Delivery, WebhookDeliveryLog } from './delivery-log.js';
import type { OutgoingEvent, SendResult } from './webhook-sender.js';

/** How a delivery attempt ended, for metrics and logs. */
export type DeliveryOutcome = 'delivered' | 'retry' | 'gave-up' | 'gone' | 'skipped';

export interface WebhookObserver {
  delivered(outcome: Exclude<DeliveryOutcome, 'skipped'>): void;
}

export interface DeliverWebhookDeps {
  log: Pick<WebhookDeliveryLog, 'claim' | 'delivered' | 'retryLater' | 'giveUp'>;
  send: (event: OutgoingEvent, nowMs: number) => Promise<SendResult>;
  /** WEBHOOK_TIMEOUT: the lease outlasts it, so a send in flight is never overtaken. */
  timeoutMs: number;
  /** WEBHOOK_MAX_AGE: no retry is scheduled past window start + this. */
  maxAgeMs: number;
  /** WEBHOOK_BACKOFF (first retry) and the longest wait between two tries. */
  backoff: Backoff;
  logger: Logger;
  observer?: WebhookObserver;
  clock?: () => number;
}

export interface DeliverOptions {
  /** A replay skips the per-design order (the operator asked for this one, now). */
  inOrder?: boolean;
}

/** The longest a send may hold its lease beyond WEBHOOK_TIMEOUT (recording the outcome). */
const LEASE_MARGIN_MS = 60_000;

/**
 * One delivery attempt of `eventId`: claim it (pending, due, not being sent, first in line for
 * its design or upload), POST it, and record what happened:
 *
 * - 2xx: delivered; it is never sent again unless `customify webhooks replay` asks.
 * - 410 Gone: failed at once (the receiver said it wants no more of it), recorded with 410.
 * - anything else (3xx, 4xx, 5xx, timeout, refused): tried again after an exponential backoff
 *   with jitter, while that stays within WEBHOOK_MAX_AGE of the event; then failed (gave up).
 *
 * The next try is not a job waiting in the queue: it is the row's next_attempt_at, and the
 * sweep (webhook-outbox.ts) queues rows when they are due, so a lost in-process queue or a
 * Redis flush loses no retry. Throws only the log's database errors (the queue retries them).
 */
export function createDeliverWebhookTask(deps: DeliverWebhookDeps) {
  const clock = deps.clock ?? Date.now;
  return async (eventId: string, options: DeliverOptions = {}): Promise<{ outcome: DeliveryOutcome; delivery: Delivery | null; result?: SendResult }> => {
    const claimedAt = clock();
    const claim = await deps.log.claim(eventId, claimedAt, claimedAt + deps.timeoutMs + LEASE_MARGIN_MS, { inOrder: options.inOrder ?? true });
    if (!claim) return { outcome: 'skipped', delivery: null };
    const giveUpAt = claim.windowStartedAt.getTime() + deps.maxAgeMs;
    if (claimedAt > giveUpAt) {
      // Found too late (a long outage of every worker): not sent, marked failed.
      await deps.log.giveUp(claim, claimedAt, claim.lastStatusCode, `Not delivered within WEBHOOK_MAX_AGE; last error: ${claim.lastError ?? 'none (never sent)'}`, false);
      return report('gave-up', claim);
    }
    const result = await deps.send({ eventId: claim.eventId, type: claim.type, body: claim.body }, claimedAt);
    const now = clock();
    if (result.outcome === 'delivered') {
      await deps.log.delivered(claim, now, result.statusCode);
      return report('delivered', claim, result);
    }
    if (result.outcome === 'gone') {
      await deps.log.giveUp(claim, now, 410, 'Answered 410 Gone: this event is not sent again (customify webhooks replay sends it anyway).', true);
      return report('gone', claim, result);
    }
    const next = now + retryDelayMs(claim.attempts + 1, deps.backoff);
    if (next > giveUpAt) {
      await deps.log.giveUp(claim, now, result.statusCode, `Gave up after ${claim.attempts + 1} attempt(s) within WEBHOOK_MAX_AGE: ${result.error}`, true);
      return report('gave-up', claim, result);
    }
    await deps.log.retryLater(claim, now, next, result.statusCode, result.error);
    return report('retry', claim, result);
  };

  function report(outcome: Exclude<DeliveryOutcome, 'skipped'>, delivery: Delivery, result?: SendResult) {
    deps.observer?.delivered(outcome);
    const error = result?.outcome === 'failed' ? result.error : undefined;
    deps.logger[outcome === 'delivered' ? 'debug' : 'warn']({ eventId: delivery.eventId, type: delivery.type, outcome, statusCode: result?.statusCode, error }, `Webhook ${delivery.eventId} (${delivery.type}): ${outcome}${error ? `: ${error}` : ''}`);
    return { outcome, delivery, ...(result ? { result } : {}) };
  }
}

export type DeliverWebhookTask = ReturnType<typeof createDeliverWebhookTask>;
