import { ASSETS_REMOVED_ERROR } from '../designs/design-repository.js';
import type { StateChange } from './state-change.js';

/** Event names shared by the event stream (SSE) and webhooks (issue #14's contract). */
export const DESIGN_EVENT_TYPES = [
  'design.created', 'design.queued', 'design.rendering', 'design.retrying', 'design.published', 'design.failed', 'design.print', 'design.deleted',
] as const;
export const UPLOAD_EVENT_TYPES = ['upload.received', 'upload.scanning', 'upload.clean', 'upload.published', 'upload.rejected', 'upload.deleted'] as const;
export type EventType = (typeof DESIGN_EVENT_TYPES)[number] | (typeof UPLOAD_EVENT_TYPES)[number];

/** After one of these a design's own stream says `end`: nothing more will happen unless someone asks. */
export const FINAL_DESIGN_EVENTS: ReadonlySet<EventType> = new Set(['design.published', 'design.failed', 'design.deleted']);

/** A committed change as an event: which event, about what, which change of it, and when. */
export interface ChangeDescription {
  type: EventType;
  subjectId: string;
  /**
   * Tells one change of the subject from another, from the row alone, so a listener and a later
   * sweep name the same change the same way: a design's published_at for its publish (set by each
   * publish), its updated_at for every other change; 0 for an upload's end (PUBLISHED and REJECTED
   * are final: an upload ends once), its updated_at before.
   */
  version: number;
  /** When it happened. */
  occurredAt: Date;
}

/**
 * The one reading of a committed change, from the row after it (the repositories tell no
 * "before"), for the event stream and webhooks alike: every move of the status machine leaves
 * a row that says which move it was.
 *  - PENDING with no attempt and untouched since creation is new; any other PENDING is queued
 *    again (re-render, watermark change, a render returned to wait for its image).
 *  - RENDERING whose lease ended at the change is a released lease: a retry follows. A claim
 *    leases it into the future.
 *  - PUBLISHED is the publish only on the change that published it (a publish sets updated_at
 *    = published_at); every later change of a PUBLISHED design (a print request, a print
 *    result, a cleanup's clearing of its images) moves updated_at on and is a print change.
 *  - FAILED is the failure, except the cleanup's clearing of a FAILED design's images, which is
 *    no move at all: null (the event stream still tells it, see `classifyChange`).
 */
export function describeChange(change: StateChange): ChangeDescription | null {
  if (change.kind === 'upload') {
    const u = change.upload;
    if (change.deleted) return { type: 'upload.deleted', subjectId: u.id, version: u.updatedAt.getTime(), occurredAt: u.updatedAt };
    if (u.status === 'PUBLISHED') return { type: 'upload.published', subjectId: u.id, version: 0, occurredAt: u.publishedAt ?? u.updatedAt };
    if (u.status === 'REJECTED') return { type: 'upload.rejected', subjectId: u.id, version: 0, occurredAt: u.updatedAt };
    return { type: `upload.${u.status.toLowerCase()}` as EventType, subjectId: u.id, version: u.updatedAt.getTime(), occurredAt: u.updatedAt };
  }
  const d = change.design;
  const at = (type: EventType, when: Date = d.updatedAt): ChangeDescription => ({ type, subjectId: d.id, version: when.getTime(), occurredAt: when });
  if (change.deleted) return at('design.deleted');
  switch (d.status) {
    case 'PENDING':
      return at(d.attempts === 0 && d.createdAt.getTime() === d.updatedAt.getTime() ? 'design.created' : 'design.queued');
    case 'RENDERING':
      return at(d.error !== null && d.leaseUntil !== null && d.leaseUntil.getTime() <= d.updatedAt.getTime() ? 'design.retrying' : 'design.rendering');
    case 'PUBLISHED':
      return d.publishedAt && d.publishedAt.getTime() === d.updatedAt.getTime() ? at('design.published', d.publishedAt) : at('design.print');
    case 'FAILED':
      return d.error === ASSETS_REMOVED_ERROR ? null : at('design.failed');
  }
}

/**
 * The event stream's name for a change: `describeChange`'s, and for the one change it passes
 * over (a cleanup clearing a FAILED design's images) the state the design is still in, so a
 * subscriber sees the design without its images.
 */
export function classifyChange(change: StateChange): EventType {
  return describeChange(change)?.type ?? 'design.failed';
}

/** What a change's event carries: its subject's id, and the API's view of it (or `{id, status: DELETED}`). */
export function deletedView(id: string): { id: string; status: 'DELETED' } {
  return { id, status: 'DELETED' };
}
