import type { Design } from '../designs/design.js';
import type { Upload } from '../uploads/upload.js';

/**
 * A committed change of a design's or an upload's state, as the repository that made it saw
 * it: the row after the change (status, attempts, error, print status, keys). `deleted` is the
 * row as it was when it was tombstoned or removed. Told after the commit, in the process that
 * made the change (an API process or a worker), never before: what is told has happened.
 */
export type StateChange =
  | { kind: 'design'; design: Design; deleted: boolean }
  | { kind: 'upload'; upload: Upload; deleted: boolean };

/** Who hears every committed change: the event stream (SSE) and the webhook outbox. */
export type StateChangeListener = (change: StateChange) => void;

/**
 * Tells a listener of a change without letting it fail the change: a committed state change
 * must never be reported to its caller as failed because someone listening threw.
 */
export function tell(listener: StateChangeListener | undefined, change: StateChange, onError: (error: unknown) => void = () => {}): void {
  if (!listener) return;
  try {
    listener(change);
  } catch (error) {
    onError(error);
  }
}
