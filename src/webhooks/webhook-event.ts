import { randomBytes } from 'node:crypto';
import { ASSETS_REMOVED_ERROR } from '../designs/design-repository.js';
import type { StateChange } from '../events/state-change.js';

/**
 * The events webhooks carry: the ends of a design's render and of an upload's checks. The
 * names are the event stream's (issue #14's shared contract); this is the webhooks' own small
 * mapping of those four, so webhooks do not depend on the event stream's classifier.
 */
export const WEBHOOK_EVENT_TYPES = ['design.published', 'design.failed', 'upload.published', 'upload.rejected'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A change worth a webhook: which event, about what, and which change of it (see `subjectVersion`). */
export interface WebhookChange {
  type: WebhookEventType;
  subjectId: string;
  /**
   * Tells one such change of the subject from another, from the row alone, so the listener
   * and the reconciliation sweep name the same change the same way: a design's published_at
   * (set by each publish), its updated_at when FAILED (set by the failure), 0 for an upload
   * (PUBLISHED and REJECTED are final: an upload ends once).
   */
  subjectVersion: number;
  /** When it happened: the event's `created_at`. */
  occurredAt: Date;
}

/**
 * The webhook event a committed state change is, or null for every other change (a claim,
 * a print status, a deletion...). A PUBLISHED design counts only on the change that published
 * it (updated_at = published_at; later changes such as print files move updated_at on); a
 * FAILED one on its failure, not when `customify cleanup` later clears its old images.
 */
export function webhookChange(change: StateChange): WebhookChange | null {
  if (change.deleted) return null;
  if (change.kind === 'design') {
    const d = change.design;
    if (d.status === 'PUBLISHED' && d.publishedAt && d.publishedAt.getTime() === d.updatedAt.getTime()) {
      return { type: 'design.published', subjectId: d.id, subjectVersion: d.publishedAt.getTime(), occurredAt: d.publishedAt };
    }
    if (d.status === 'FAILED' && d.error !== ASSETS_REMOVED_ERROR) {
      return { type: 'design.failed', subjectId: d.id, subjectVersion: d.updatedAt.getTime(), occurredAt: d.updatedAt };
    }
    return null;
  }
  const u = change.upload;
  if (u.status === 'PUBLISHED') return { type: 'upload.published', subjectId: u.id, subjectVersion: 0, occurredAt: u.publishedAt ?? u.updatedAt };
  if (u.status === 'REJECTED') return { type: 'upload.rejected', subjectId: u.id, subjectVersion: 0, occurredAt: u.updatedAt };
  return null;
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
