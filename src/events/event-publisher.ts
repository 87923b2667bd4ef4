import type { Design } from '../designs/design.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Upload } from '../uploads/upload.js';
import type { EventBus } from './event-bus.js';
import { classifyChange, deletedView } from './event-types.js';
import type { StateChangeListener } from './state-change.js';

export interface EventPublisherDeps {
  bus: EventBus;
  /** GET /api/v1/designs/{id}'s answer (DesignService.view). */
  designView: (design: Design) => Promise<unknown>;
  /** GET /api/v1/uploads/{id}'s answer (UploadService.view). */
  uploadView: (upload: Upload) => Promise<unknown>;
  logger: Logger;
}

/**
 * The state-change listener that publishes each change as an event. Views are built
 * asynchronously (URLs may be signed), so publishing is chained: the events of this process
 * are published in the order its changes were told, never a `rendering` after its `published`.
 * `drain` waits for what is on its way (before the bus closes).
 */
export function createEventPublisher(deps: EventPublisherDeps): { listener: StateChangeListener; drain: () => Promise<void> } {
  let chain = Promise.resolve();
  const listener: StateChangeListener = (change) => {
    const type = classifyChange(change);
    const subject = change.kind === 'design' ? change.design : change.upload;
    const view = change.deleted
      ? () => Promise.resolve(deletedView(subject.id))
      : change.kind === 'design' ? () => deps.designView(change.design) : () => deps.uploadView(change.upload);
    chain = chain
      .then(async () => { await deps.bus.publish({ type, ownerId: subject.ownerId, subject: subject.id, data: await view() }); })
      .catch((error: unknown) => deps.logger.warn(`Could not publish ${type} for ${subject.id}: ${describeError(error)}`));
  };
  return { listener, drain: () => chain };
}
