import { randomBytes } from 'node:crypto';
import { describeChange } from '../events/event-types.js';
import type { StateChange } from '../events/state-change.js';

/**
 * The events webhooks carry: the ends of a design's render and of an upload's checks. Names and
 * the reading of a change are the event stream's (issue #14's shared contract): `describeChange`.
 */
export const WEBHOOK_EVENT_TYPES = ['design.published', 'design.failed', 'upload.published', 'upload.rejected'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A change worth a webhook: which event, about what, and which change of it (see `subjectVersion`). */
export interface WebhookChange {
  type: WebhookEventType;
  subjectId: string;
  /** `ChangeDescription.version`: the log's key for the change, with subject and type. */
  subjectVersion: number;
  /** When it happened: the event's `created_at`. */
  occurredAt: Date;
}

const isWebhookEventType = (type: string): type is WebhookEventType => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type);

/**
 * The webhook event a committed state change is, or null for every other change (a claim,
 * a print change, a deletion...): `describeChange` kept to the four webhook types. A PUBLISHED
 * design counts only on the change that published it; a FAILED one on its failure, not when
 * `customify cleanup` later clears its old images.
 */
export function webhookChange(change: StateChange): WebhookChange | null {
  const described = describeChange(change);
  if (!described || !isWebhookEventType(described.type)) return null;
  return { type: described.type, subjectId: described.subjectId, subjectVersion: described.version, occurredAt: described.occurredAt };
}

/**
 * A new event id, `evt_` + the time it happened (12 hex digits of epoch ms) + 16 random hex
 * digits: unique, opaque to receivers, and sorted as the events happened (deliveries of one
 * design go in that order).
 */
export function newEventId(occurredAt: Date): string {
  return `evt_${occurredAt.getTime().toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
}

/** The JSON body POSTed: `data` is the design or upload as the API's GET answers it. */
export interface WebhookBody {
  id: string;
  type: WebhookEventType;
  created_at: string;
  data: unknown;
}

export function webhookBody(eventId: string, change: WebhookChange, data: unknown): string {
  const body: WebhookBody = { id: eventId, type: change.type, created_at: change.occurredAt.toISOString(), data };
  return JSON.stringify(body);
}
