/** Entry of a RenderPool thread: renders one design per message and answers with the PNGs or the error. */
import { parentPort } from 'node:worker_threads';
import type { DesignSpec } from './design-spec.js';
import { renderDesignAssets, type AssetRenderOptions } from './render-design.js';
import { serializeError, type ThreadReply } from './render-pool.js';

const port = parentPort;
if (!port) throw new Error('render-thread.js runs inside a RenderPool worker thread, not on its own.');

port.on('message', (job: { id: number; spec: DesignSpec; options: AssetRenderOptions }) => {
  renderDesignAssets(job.spec, job.options).then(
    ({ preview, thumbnail }) => {
      // Own, exact-size copies, moved rather than cloned: a small PNG is a view into Node's
      // shared 8 KiB pool, and sharp's buffers cannot be moved at all.
      const reply = { id: job.id, preview: new Uint8Array(preview), thumbnail: new Uint8Array(thumbnail) } satisfies ThreadReply;
      port.postMessage(reply, [reply.preview.buffer, reply.thumbnail.buffer]);
    },
    (error: unknown) => port.postMessage({ id: job.id, error: serializeError(error) } satisfies ThreadReply),
  );
});
