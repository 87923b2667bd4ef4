import { createReadStream } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';

/**
 * The bytes of one part of a tus upload, held from the PATCH that brought them until S3 has
 * them, in a temp file: written as they arrive, read back for each attempt.
 *
 * Not in memory: measured in bench/tus.bench.ts (BENCHMARKS.md), parts kept in the heap up to
 * a 32 MiB budget made the upload about 40% slower than temp files (a fifth of the server's
 * CPU went to garbage collection of the large buffers) and grew the server's RSS by 70-76 MB,
 * over the 64 MB; a temp file the kernel still caches costs neither.
 */
export class PartFile {
  size = 0;
  private handle: FileHandle | undefined;

  private constructor(private readonly file: string, handle: FileHandle) {
    this.handle = handle;
  }

  static async create(directory = os.tmpdir()): Promise<PartFile> {
    const file = path.join(directory, `tus-part-${randomBytes(8).toString('hex')}`);
    return new PartFile(file, await open(file, 'w', 0o600));
  }

  async append(chunk: Buffer): Promise<void> {
    await this.handle!.write(chunk);
    this.size += chunk.length;
  }

  /** No more bytes come: closes the file. */
  async seal(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  /** A fresh body for each attempt (a sent stream cannot be sent again), read in 1 MiB pieces. */
  body(): Readable {
    return createReadStream(this.file, { highWaterMark: 1024 * 1024 });
  }

  /** Removes the file; safe to call more than once. (unlink, not rm: rm stats the path first.) */
  async release(): Promise<void> {
    await this.seal().catch(() => undefined);
    await unlink(this.file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

export interface PartWriterOptions {
  partSize: number;
  /** A new part, once there is room for it (holding the request back until then). */
  start: () => Promise<PartFile>;
  /** A part is whole (partSize bytes), or the request ended: the part's bytes so far (never empty). */
  finished: (part: PartFile) => Promise<void>;
}

/**
 * Cuts a request's bytes into parts of `partSize` (the last one shorter), slicing chunks at
 * the boundaries without copying them. A part the request did not finish because it failed is
 * released; one it finished is the `finished` callback's to release.
 */
export class PartWriter extends Writable {
  private current: PartFile | undefined;

  constructor(private readonly options: PartWriterOptions) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.take(chunk).then(() => done(), done);
  }

  private async take(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      if (!this.current) {
        const part = await this.options.start();
        // The request failed while it waited for room: the part is nobody's to remove but this.
        if (this.destroyed) {
          await part.release();
          throw new Error('the request ended before its bytes were written');
        }
        this.current = part;
      }
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
