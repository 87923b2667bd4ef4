import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';

/**
 * The bytes of one part of a tus upload, held from the PATCH that brought them until S3 has
 * them: in memory when the process's budget allows, else in a temp file.
 */
export interface PartBuffer {
  readonly size: number;
  readonly inMemory: boolean;
  append(chunk: Buffer): Promise<void>;
  /** No more bytes come (closes the temp file). */
  seal(): Promise<void>;
  /** A fresh body for each attempt (a sent stream cannot be sent again). */
  body(): Readable;
  /** Frees the memory or removes the file; safe to call more than once. */
  release(): Promise<void>;
}

/**
 * The bytes of parts held in memory, over all uploads of the process. A part is taken whole
 * when it starts (its full size, even if fewer bytes come) and given back when S3 has it, so
 * the heap never holds more than `limit` bytes of parts, whatever the number of uploads or
 * how slowly their clients send.
 */
export class PartMemoryBudget {
  private used = 0;
  constructor(readonly limit: number) {}

  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  get inUse(): number {
    return this.used;
  }
}

/**
 * In memory: the request's own chunks (or slices of them), never copied. Streamed to S3 as
 * they are, with the length given, so the SDK neither buffers nor hashes them.
 */
class MemoryPart implements PartBuffer {
  readonly inMemory = true;
  private chunks: Buffer[] = [];
  size = 0;
  private released = false;

  constructor(private readonly budget: PartMemoryBudget, private readonly reserved: number) {}

  append(chunk: Buffer): Promise<void> {
    this.chunks.push(chunk);
    this.size += chunk.length;
    return Promise.resolve();
  }

  seal(): Promise<void> {
    return Promise.resolve();
  }

  body(): Readable {
    return Readable.from(this.chunks, { objectMode: false });
  }

  release(): Promise<void> {
    if (!this.released) this.budget.give(this.reserved);
    this.released = true;
    this.chunks = [];
    return Promise.resolve();
  }
}

/** On disk, when the memory budget is spent: written as it arrives, read back for each attempt. */
class FilePart implements PartBuffer {
  readonly inMemory = false;
  size = 0;
  private handle: FileHandle | undefined;

  private constructor(private readonly file: string, handle: FileHandle) {
    this.handle = handle;
  }

  static async create(directory: string): Promise<FilePart> {
    const file = path.join(directory, `tus-part-${randomBytes(8).toString('hex')}`);
    return new FilePart(file, await open(file, 'w', 0o600));
  }

  async append(chunk: Buffer): Promise<void> {
    await this.handle!.write(chunk);
    this.size += chunk.length;
  }

  async seal(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  body(): Readable {
    return createReadStream(this.file, { highWaterMark: 1024 * 1024 });
  }

  async release(): Promise<void> {
    await this.seal().catch(() => undefined);
    await rm(this.file, { force: true });
  }
}

/** A part of up to `bytes`: in memory if the budget has room for all of it, else in a temp file. */
export async function newPartBuffer(budget: PartMemoryBudget, bytes: number, directory = os.tmpdir()): Promise<PartBuffer> {
  if (budget.tryTake(bytes)) return new MemoryPart(budget, bytes);
  return FilePart.create(directory);
}

export interface PartWriterOptions {
  partSize: number;
  /** A new part, once there is room for it (holding the request back until then). */
  start: () => Promise<PartBuffer>;
  /** A part is whole (partSize bytes), or the request ended: the part's bytes so far (never empty). */
  finished: (part: PartBuffer) => Promise<void>;
}

/**
 * Cuts a request's bytes into parts of `partSize` (the last one shorter), slicing chunks at
 * the boundaries without copying them. A part the request did not finish because it failed is
 * released; one it finished is the `finished` callback's to release.
 */
export class PartWriter extends Writable {
  private current: PartBuffer | undefined;

  constructor(private readonly options: PartWriterOptions) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.take(chunk).then(() => done(), done);
  }

  private async take(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      this.current ??= await this.options.start();
      const n = Math.min(this.options.partSize - this.current.size, chunk.length - at);
      await this.current.append(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n));
      at += n;
      if (this.current.size >= this.options.partSize) await this.finish();
    }
  }

  private async finish(): Promise<void> {
    const part = this.current!;
    this.current = undefined;
    try {
      await part.seal();
    } catch (error) {
      await part.release().catch(() => undefined);
      throw error;
    }
    await this.options.finished(part);
  }

  override _final(done: (error?: Error | null) => void): void {
    (this.current ? this.finish() : Promise.resolve()).then(() => done(), done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    const part = this.current;
    this.current = undefined;
    (part ? part.release() : Promise.resolve()).then(() => done(error), () => done(error));
  }
}
