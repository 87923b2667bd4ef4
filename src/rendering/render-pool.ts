import { Worker } from 'node:worker_threads';
import { AppError, ValidationError, type ErrorCode } from '../errors.js';
import type { DesignSpec } from './design-spec.js';
import type { AssetRenderOptions, DesignAssets } from './render-design.js';

/** What crosses from a render thread: the assets, or the error as plain data. */
export type ThreadReply =
  | { id: number; preview: Uint8Array; thumbnail: Uint8Array }
  | { id: number; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: ErrorCode;
  retryable?: boolean;
  field?: string;
  details?: Record<string, unknown>;
  cause?: SerializedError;
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
  /** The thread's module loaded: a thread lost before this never rendered anything. */
  online: boolean;
}

/** An error as plain data that survives postMessage: class name, code, field, retryability, stack and causes. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  const cause = error instanceof Error && error.cause !== undefined && depth < 4 ? serializeError(error.cause, depth + 1) : undefined;
  if (error instanceof AppError) {
    return { name: error.name, message: error.message, stack: error.stack, code: error.code, retryable: error.retryable, field: error.field, details: error.details, cause };
  }
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack, cause };
  return { name: 'Error', message: String(error) };
}

/** The error the render thread threw, as the same class with the same code, field, retryability, stack and cause. */
export function deserializeError(data: SerializedError): Error {
  const cause = data.cause ? deserializeError(data.cause) : undefined;
  let error: Error;
  if (data.code === undefined) error = Object.assign(new Error(data.message, cause ? { cause } : undefined), { name: data.name });
  else if (data.name === 'ValidationError' && data.field !== undefined) error = new ValidationError(data.code, data.message, data.field, { details: data.details, cause });
  else error = new AppError(data.code, data.message, { retryable: data.retryable, field: data.field, details: data.details, cause });
  if (data.stack) error.stack = data.stack;
  return error;
}

/** What a render gets once the pool is shutting down: the queue runs it again on the next start. */
function poolClosed(): AppError {
  return new AppError('RENDER_POOL_CLOSED', 'The renderer shut down before this design was rendered; it will run again on the next start.', { retryable: true });
}

/** How long close() lets running renders finish before it stops their threads. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Renders designs on worker threads. sharp runs its pixel work off the main thread, but
 * each pipeline call, our PNG encoder and the text layout cost the calling thread about
 * 2.7 ms per design: on the main thread of `customify serve` that is time the HTTP server
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
    if (this.closed) return Promise.reject(poolClosed());
    return new Promise<DesignAssets>((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, spec, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Stops every thread. Renders still waiting reject with a retryable error; running ones
   * get up to 10 s to finish first (stopping a thread inside a sharp call can take the
   * process down), then reject the same way.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(poolClosed());
    const threads = [...this.threads];
    const running = threads.filter((t) => t.job).map((t) => new Promise<void>((resolve) => {
      t.worker.once('message', () => resolve());
      t.worker.once('exit', () => resolve());
    }));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(running), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    this.threads.length = 0;
    for (const thread of threads) thread.job?.reject(poolClosed());
    // terminate() settles once the thread has stopped.
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
      ? new Worker(`import(${JSON.stringify(TSX_API)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./render-thread.ts', import.meta.url).href)}); });`, { eval: true })
      : new Worker(new URL('./render-thread.js', import.meta.url));
    const thread: Thread = { worker, job: undefined, online: false };
    worker.unref();
    worker.once('online', () => (thread.online = true));
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
      const message = thread.online
        ? `The render thread stopped (${why}); the design will be retried.`
        : `A render thread could not start (${why}). Check that the installation is complete (npm run build).`;
      thread.job?.reject(new AppError(thread.online ? 'RENDER_THREAD_DIED' : 'RENDER_THREAD_START_FAILED', message, { retryable: true }));
      thread.job = undefined;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.threads.push(thread);
    return thread;
  }
}

/**
 * tsx's loader API, resolved from this module rather than from the thread's working
 * directory where Node can (under tsx); Vitest's module runner has no import.meta.resolve,
 * and runs from the project folder anyway.
 */
const TSX_API = import.meta.url.endsWith('.ts') && typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : 'tsx/esm/api';

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
