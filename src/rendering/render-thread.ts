/**
 * The task a RenderPool thread runs (piscina calls the default export): renders one design
 * and answers with its renditions, moved rather than copied, or with the error as plain data.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { DesignSpec } from './design-spec.js';
import { renderRenditions, type RenditionRenderOptions } from './renditions.js';
import { serializeError, type ThreadReply } from './render-pool.js';
import { disableSharpCache } from './sharp-settings.js';

disableSharpCache();

export interface RenderJob {
  spec: DesignSpec;
  options: RenditionRenderOptions;
  /** The encoded bytes of the design's image, moved (not copied) to this thread. */
  image?: Uint8Array;
}

export default async function renderInThread(job: RenderJob): Promise<ThreadReply> {
  try {
    const images = await renderRenditions(job.spec, job.options, job.image && Buffer.from(job.image.buffer, job.image.byteOffset, job.image.byteLength));
    // Own, exact-size copies, moved rather than cloned: a small PNG is a view into Node's
    // shared 8 KiB pool, and sharp's buffers cannot be moved at all.
    const reply = { images: images.map((image) => ({ ...image, data: new Uint8Array(image.data) })) };
    return move({ [transferableSymbol]: reply.images.map((image) => image.data.buffer), [valueSymbol]: reply }) as unknown as ThreadReply;
  } catch (error) {
    // Returned, not thrown: piscina would clone a thrown error without its class, code and field.
    return { error: serializeError(error) };
  }
}
