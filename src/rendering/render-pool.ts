import { Piscina } from 'piscina';
import { AppError, ValidationError, type ErrorCode } from '../errors.js';
import type { DesignSpec } from './design-spec.js';
import type { RenderedImage, RenditionRenderOptions } from './renditions.js';
import type { RenderJob } from './render-thread.js';

/** What crosses from a render thread: the assets, or the error as plain data. */
export type ThreadReply = { images: Array<Omit<RenderedImage, 'data'> & { data: Uint8Array }> } | { error: SerializedError };

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
  /** Passed to every render (compression level, renditions, formats, watermark). */
  renderOptions?: RenditionRenderOptions;
  /** Told of a thread lost while no render was on it (the next render starts a new one). */
  onThreadError?: (error: Error) => void;
}

interface Waiting {
  spec: DesignSpec;
  image: Uint8Array | undefined;
  watermarked: boolean;
  resolve: (images: RenderedImage[]) => void;
  reject: (error: Error) => void;
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
function poolClosed(cause?: unknown): AppError {
  return new AppError('RENDER_POOL_CLOSED', 'The renderer shut down before this design was rendered; it will run again on the next start.', { retryable: true, cause });
}

/** A render that piscina failed rather than the render itself: its thread died or never started. */
function threadLost(cause: unknown, started: boolean): AppError {
  const code = (cause as { code?: unknown } | null)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  // A thread whose module cannot load never rendered anything: that is an installation problem.
  if (!started || code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    return new AppError('RENDER_THREAD_START_FAILED', `A render thread could not start (${message}). Check that the installation is complete (npm run build).`, { retryable: true, cause });
  }
  // A thread that died mid-render says nothing about the design: let the queue retry it.
  return new AppError('RENDER_THREAD_DIED', `The render thread stopped (${message}); the design will be retried.`, { retryable: true, cause });
}

/**
 * The process's Node options that a render thread needs: how modules load (`--import tsx`,
 * `--require`, loaders, `--conditions`, experimental module flags) and how warnings print.
 * Nothing else: a Worker refuses V8's options (`--max-old-space-size`, `--heap-growing-percent`,
 * `--expose-gc`) and the process's own (`--title`) with ERR_WORKER_INVALID_EXEC_ARGV, and would
 * fail every render; V8's options reach its threads anyway, being the process's. The main
 * script's own (`--input-type`, `-e`) are left out too: a thread started from a file refuses them.
 */
export function threadExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const options: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const option = argv[i]!;
    const name = option.split('=', 1)[0]!;
    const withValue = THREAD_OPTIONS_WITH_VALUE.includes(name);
    const takesValue = withValue && !option.includes('=');
    if (withValue || THREAD_FLAGS.test(name)) options.push(...(takesValue ? argv.slice(i, i + 2) : [option]));
    if (takesValue) i++;
    // `-e CODE`, `-p CODE` and `--input-type TYPE` describe the main script: skip their value too.
    else if (['-e', '--eval', '-p', '--print', '--input-type'].includes(option)) i++;
  }
  return options;
}

/** Module loading options that take a value, as `--import tsx` or `--import=tsx`. */
const THREAD_OPTIONS_WITH_VALUE = ['--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C', '--disable-warning'];
/** Flags a thread takes as they are: module and warning behaviour. */
const THREAD_FLAGS = /^--(no-)?(experimental-[a-z-]+|enable-source-maps|preserve-symlinks(-main)?|warnings|deprecation|trace-warnings|trace-deprecation|throw-deprecation|pending-deprecation|trace-uncaught)$/;

/** How long close() lets running renders finish before it stops their threads. */
const CLOSE_GRACE_MS = 10_000;

/**
 * The thread's task module. Built code runs render-thread.js; under tsx or Vitest this module
 * is TypeScript, and a worker thread does not inherit their loader: render-thread-tsx.mjs
 * registers tsx in the thread before it loads render-thread.ts.
 */
const THREAD_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './render-thread-tsx.mjs' : './render-thread.js', import.meta.url).href;

/**
 * Renders designs on worker threads (piscina), when RENDER_THREADS asks for them. sharp runs
 * its pixel work off the main thread, but each pipeline call, our PNG encoder and the text
 * layout cost the calling thread a few ms per design; threads take that off the main thread
 * at a price in CPU and memory that did not pay on 2 cores (BENCHMARKS.md), hence off by
 * default. Threads start on the first renders, idle ones never keep the process alive, and
 * one that dies is replaced by the next render.
 */
export class RenderPool {
  private pool: Piscina<RenderJob, ThreadReply> | undefined;
  /** Renders not yet handed to piscina: at most one per thread is, so close() can tell running from waiting. */
  private readonly waiting: Waiting[] = [];
  /** Renders handed to piscina, settled or not: a render waiting for its new thread to start counts as running. */
  private readonly running = new Set<Promise<void>>();
  private closed = false;
  /** A thread has answered: later losses are deaths, not start failures. */
  private started = false;
  /** Why a piscina instance was given up: its queued renders reject with this. */
  private readonly abandoned = new WeakMap<Piscina, Error>();

  constructor(private readonly options: RenderPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`RenderPool needs at least one thread, got ${options.threads}`);
  }

  /**
   * The renditions of `spec` (renderRenditions); rejects with what it throws.
   * `image` (the bytes of the design's image) is moved to the render thread, not copied:
   * when it owns its whole ArrayBuffer, that buffer is detached here once the render starts.
   * A view into a shared buffer (Node's small-Buffer pool) is copied instead.
   */
  render(spec: DesignSpec, image?: Uint8Array, watermarked = false): Promise<RenderedImage[]> {
    if (this.closed) return Promise.reject(poolClosed());
    return new Promise<RenderedImage[]>((resolve, reject) => {
      this.waiting.push({ spec, image, watermarked, resolve, reject });
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
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
    await Promise.race([Promise.all(this.running), grace]);
    clearTimeout(timer);
    // Renders still running reject as the pool closed; destroy() settles once the threads have stopped.
    await this.pool?.destroy();
  }

  private dispatch(): void {
    while (this.waiting.length > 0 && this.running.size < this.options.threads) {
      const job = this.waiting.shift()!;
      const pool = this.threads();
      const running: Promise<void> = pool
        .run(...renderJob(job.spec, { ...this.options.renderOptions, watermarked: job.watermarked }, job.image))
        .then(
          (reply) => {
            this.started = true;
            if ('error' in reply) job.reject(deserializeError(reply.error));
            else job.resolve(reply.images.map((image) => ({ ...image, data: toBuffer(image.data) })));
          },
          (error: unknown) => job.reject(this.closed ? poolClosed(error) : threadLost(this.abandoned.get(pool) ?? error, this.started)),
        )
        .finally(() => {
          this.running.delete(running);
          if (!this.closed) this.dispatch();
        });
      this.running.add(running);
    }
  }

  private threads(): Piscina<RenderJob, ThreadReply> {
    if (!this.pool) {
      const pool = new Piscina<RenderJob, ThreadReply>({
        filename: THREAD_ENTRY,
        execArgv: threadExecArgv(),
        // Threads start as renders need them and stay: a thread's first render loads sharp and the fonts.
        minThreads: 0,
        maxThreads: this.options.threads,
        idleTimeout: Infinity,
        concurrentTasksPerWorker: 1,
      });
      // piscina reports here what no render is waiting for: a thread lost while idle, or one
      // that failed to start while renders queued for it.
      pool.on('error', (error: Error) => {
        this.options.onThreadError?.(error);
        // With no thread left, piscina would hold the queued renders forever: fail them
        // (retryable) and start afresh on the next render.
        if (pool.threads.length === 0 && this.pool === pool) {
          this.abandoned.set(pool, error);
          this.pool = undefined;
          void pool.destroy();
        }
      });
      this.pool = pool;
    }
    return this.pool;
  }
}

/** piscina's arguments for a render: the image's buffer in the transfer list when it can be moved whole. */
function renderJob(spec: DesignSpec, options: RenditionRenderOptions, image: Uint8Array | undefined): [RenderJob, { transferList?: ArrayBuffer[] }] {
  if (!image) return [{ spec, options }, {}];
  const owned = image.byteOffset === 0 && image.byteLength === image.buffer.byteLength && image.buffer instanceof ArrayBuffer ? image : new Uint8Array(image);
  return [{ spec, options, image: owned }, { transferList: [owned.buffer as ArrayBuffer] }];
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
