import { open, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';

/** A part's body is read back in pieces of this size. */
const PIECE_BYTES = 1024 * 1024;

/**
 * The bytes of one part of a tus upload, held from the PATCH that brought them until S3 has
 * them, in a temp file: written as they arrive, read back for each attempt.
 *
 * Not in memory: measured in bench/tus.bench.ts (BENCHMARKS.md), parts kept in the heap up to
 * a 32 MiB budget made the upload about 40% slower than temp files (a fifth of the server's
 * CPU went to garbage collection of the large buffers) and grew the server's RSS by 70-76 MB,
 * over the 64 MB; a temp file the kernel still caches costs neither.
 *
 * The file is unlinked as soon as it is opened: only this process's handle reaches it, and a
 * process that dies leaves nothing behind in the temp folder. Its pool lends it to one part at a
 * time: a part writes from offset 0 and reads back only its own `size` bytes, so what an
 * earlier part left beyond them is never read.
 */
export class PartFile {
  size = 0;
  /** Bodies handed out for this part and not yet closed: stopped when the part is released. */
  private readonly readers = new Set<Readable>();
  private lent = true;

  constructor(private readonly handle: FileHandle, private readonly pool: PartFilePool) {}

  async append(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length;) {
      const { bytesWritten } = await this.handle.write(chunk, at, chunk.length - at, this.size + at);
      at += bytesWritten;
    }
    this.size += chunk.length;
  }

  /** A fresh body for each attempt (a sent stream cannot be sent again), read in 1 MiB pieces. */
  body(): Readable {
    // Not fs.createReadStream: destroying one closes its descriptor, which is the pool's.
    const { handle, size } = this;
    let position = 0;
    const reader: Readable = new Readable({
      highWaterMark: PIECE_BYTES,
      read() {
        if (position >= size) return void reader.push(null);
        const n = Math.min(PIECE_BYTES, size - position);
        handle.read(Buffer.allocUnsafe(n), 0, n, position).then(({ bytesRead, buffer }) => {
          if (bytesRead === 0) return void reader.destroy(new Error(`the part's temp file ended at ${position} of its ${size} bytes`));
          position += bytesRead;
          reader.push(bytesRead === n ? buffer : buffer.subarray(0, bytesRead));
        }, (error: Error) => reader.destroy(error));
      },
    });
    this.readers.add(reader);
    reader.once('close', () => this.readers.delete(reader));
    return reader;
  }

  /** Gives the file back to its pool once every body still reading it has stopped; safe to call more than once. */
  async release(): Promise<void> {
    if (!this.lent) return;
    this.lent = false;
    const reading = [...this.readers].filter((reader) => !reader.closed);
    for (const reader of reading) reader.destroy();
    await Promise.all(reading.map((reader) => new Promise<void>((resolve) => reader.once('close', () => resolve()))));
    this.pool.giveBack(this.handle);
  }
}

/**
 * Temp files for parts, reused. A new file per 5 MiB part cost about 1.5 ms of CPU to open,
 * close and unlink: with this pool the server's CPU for a 200 MiB tus upload fell from
 * 0.52-0.54 s to 0.47-0.48 s (bench/tus.bench.ts, BENCHMARKS.md). It keeps up to `maxFree`
 * idle files and closes them all once none has been lent for `idleMs`, so an idle server holds
 * no temp space.
 */
export class PartFilePool {
  private readonly free: FileHandle[] = [];
  /** Parts lent and not yet given back. */
  inUse = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: { directory?: string; maxFree?: number; idleMs?: number } = {}) {}

  async acquire(): Promise<PartFile> {
    clearTimeout(this.idleTimer);
    this.inUse++;
    try {
      return new PartFile(this.free.pop() ?? (await this.openUnlinked()), this);
    } catch (error) {
      this.inUse--;
      throw error;
    }
  }

  /** Idle files held now (for tests). */
  get freeCount(): number {
    return this.free.length;
  }

  /** Called once per part by PartFile.release. */
  giveBack(handle: FileHandle): void {
    this.inUse--;
    if (this.free.length < (this.options.maxFree ?? 8)) this.free.push(handle);
    else void handle.close().catch(() => undefined);
    if (this.inUse === 0) {
      this.idleTimer = setTimeout(() => void this.close(), this.options.idleMs ?? 10_000);
      this.idleTimer.unref();
    }
  }

  /** Closes the idle files (the kernel then frees their space). */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const handles = this.free.splice(0);
    await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
  }

  private async openUnlinked(): Promise<FileHandle> {
    const file = path.join(this.options.directory ?? os.tmpdir(), `tus-part-${randomBytes(8).toString('hex')}`);
    const handle = await open(file, 'w+', 0o600);
    try {
      await unlink(file);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    return handle;
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
        // The request failed while it waited for room: the part is nobody's to give back but this.
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
