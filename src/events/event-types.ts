import type { StateChange } from './state-change.js';

/** Event names shared by the event stream (SSE) and webhooks (issue #14's contract). */
export const DESIGN_EVENT_TYPES = [
  'design.created', 'design.queued', 'design.rendering', 'design.retrying', 'design.published', 'design.failed', 'design.print', 'design.deleted',
] as const;
export const UPLOAD_EVENT_TYPES = ['upload.received', 'upload.scanning', 'upload.clean', 'upload.published', 'upload.rejected', 'upload.deleted'] as const;
export type EventType = (typeof DESIGN_EVENT_TYPES)[number] | (typeof UPLOAD_EVENT_TYPES)[number];

/** After one of these a design's own stream says `end`: nothing more will happen unless someone asks. */
export const FINAL_DESIGN_EVENTS: ReadonlySet<EventType> = new Set(['design.published', 'design.failed', 'design.deleted']);

/**
 * The event a committed change is, read from the row after it (the repositories tell no
 * "before"): every move of the status machine leaves a row that says which move it was.
 *  - PENDING with no attempt and untouched since creation is new; any other PENDING is queued
 *    again (re-render, watermark change, a render returned to wait for its image).
 *  - RENDERING whose lease ended at the change is a released lease: a retry follows. A claim
 *    leases it into the future.
 *  - PUBLISHED with a print status other than NONE is a print change: a publish (first or
 *    after a re-render) always leaves the print at NONE.
 */
export function classifyChange(change: StateChange): EventType {
  if (change.kind === 'upload') {
    if (change.deleted) return 'upload.deleted';
    return `upload.${change.upload.status.toLowerCase()}` as EventType;
  }
  const { design, deleted } = change;
  if (deleted) return 'design.deleted';
  switch (design.status) {
    case 'PENDING':
      return design.attempts === 0 && design.createdAt.getTime() === design.updatedAt.getTime() ? 'design.created' : 'design.queued';
    case 'RENDERING':
      return design.error !== null && design.leaseUntil !== null && design.leaseUntil.getTime() <= design.updatedAt.getTime() ? 'design.retrying' : 'design.rendering';
    case 'PUBLISHED':
      return design.print.status === 'NONE' ? 'design.published' : 'design.print';
    case 'FAILED':
      return 'design.failed';
  }
}

/** What a change's event carries: its subject's id, and the API's view of it (or `{id, status: DELETED}`). */
export function deletedView(id: string): { id: string; status: 'DELETED' } {
  return { id, status: 'DELETED' };
}
