import { Worker } from 'node:worker_threads';
import { AppError, ValidationError } from '../errors.js';
import type { DesignSpec } from './design-spec.js';
import type { AssetRenderOptions, DesignAssets } from './render-design.js';

/** What crosses from a render thread: the assets, or the error as plain data. */
export type ThreadReply =
  | { id: number; preview: Uint8Array; thumbnail: Uint8Array }
  | { id: number; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  retryable?: boolean;
  field?: string;
  details?: Record<string, unknown>;
}

export interface RenderPoolOptions {
  /** Threads that render; each runs one design at a time. */
  threads: number;
  /** Passed to every render (compression level, sizes). */
  renderOptions?: AssetRenderOptions;
}

interface Job {
  id: number;
  spec: DesignSpec;
  resolve: (assets: DesignAssets) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  job: Job | undefined;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof AppError) {
    return { name: error.name, message: error.message, code: error.code, retryable: error.retryable, field: error.field, details: error.details };
  }
  return { name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) };
}

/** The error the render thread threw, as the same class with the same code, field and retryability. */
export function deserializeError(data: SerializedError): Error {
  if (data.code === undefined) return Object.assign(new Error(data.message), { name: data.name });
  if (data.name === 'ValidationError' && data.field !== undefined) return new ValidationError(data.code, data.message, data.field, { details: data.details });
  return new AppError(data.code, data.message, { retryable: data.retryable, field: data.field, details: data.details });
}

/**
 * Renders designs on worker threads. sharp runs its pixel work off the main thread, but
 * each pipeline call, our PNG encoder and the text layout cost the calling thread about
 * 2.5 ms per design: on the main thread of `customify serve` that is time the HTTP server
 * cannot answer in. Threads start on the first render and are replaced if one dies.
 */
export class RenderPool {
  private readonly threads: Thread[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: RenderPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`RenderPool needs at least one thread, got ${options.threads}`);
  }

  /** The preview and thumbnail of `spec`; rejects with what renderDesignAssets throws. */
  render(spec: DesignSpec): Promise<DesignAssets> {
    if (this.closed) return Promise.reject(new AppError('RENDER_POOL_CLOSED', 'The renderer is shutting down; the job will run again on the next start.', { retryable: true }));
    return new Promise<DesignAssets>((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, spec, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every thread; renders still waiting or running reject with a retryable error. */
  async close(): Promise<void> {
    this.closed = true;
    const stopped = new AppError('RENDER_POOL_CLOSED', 'The renderer shut down before this design was rendered; it will run again on the next start.', { retryable: true });
    for (const job of this.waiting.splice(0)) job.reject(stopped);
    const threads = this.threads.splice(0);
    for (const thread of threads) thread.job?.reject(stopped);
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let thread = this.threads.find((t) => t.job === undefined);
      if (!thread && this.threads.length < this.options.threads) thread = this.spawn();
      if (!thread) return;
      const job = this.waiting.shift()!;
      thread.job = job;
      // Idle threads never keep the process alive; one holding a render does.
      thread.worker.ref();
      thread.worker.postMessage({ id: job.id, spec: job.spec, options: this.options.renderOptions ?? {} });
    }
  }

  private spawn(): Thread {
    const worker = import.meta.url.endsWith('.ts')
      // Under tsx or Vitest this module is TypeScript, and so is the thread's entry: the thread
      // registers tsx's loader first (a worker's execArgv cannot take --import on Node 20).
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./render-thread.ts', import.meta.url).href)}); });`, { eval: true })
      : new Worker(new URL('./render-thread.js', import.meta.url));
    const thread: Thread = { worker, job: undefined };
    worker.unref();
    worker.on('message', (reply: ThreadReply) => {
      const job = thread.job;
      if (!job || job.id !== reply.id) return;
      thread.job = undefined;
      worker.unref();
      if ('error' in reply) job.reject(deserializeError(reply.error));
      else job.resolve({ preview: toBuffer(reply.preview), thumbnail: toBuffer(reply.thumbnail) });
      this.dispatch();
    });
    const lost = (why: string) => {
      const index = this.threads.indexOf(thread);
      if (index < 0) return;
      this.threads.splice(index, 1);
      // A thread that died mid-render says nothing about the design: let the queue retry it.
      thread.job?.reject(new AppError('RENDER_THREAD_DIED', `The render thread stopped (${why}); the design will be retried.`, { retryable: true }));
      thread.job = undefined;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.threads.push(thread);
    return thread;
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
