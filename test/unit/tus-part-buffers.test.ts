import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PartFilePool, PartWriter, type PartFile } from '../../src/uploads/tus-part-buffers.js';

/** Reads a part's body to its end. */
function read(part: PartFile): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const pieces: Buffer[] = [];
    part.body().on('data', (piece: Buffer) => void pieces.push(piece)).on('end', () => resolve(Buffer.concat(pieces))).on('error', reject);
  });
}

describe('PartWriter', () => {
  let dir: string;
  let pool: PartFilePool;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'part-writer-'));
    pool = new PartFilePool({ directory: dir, maxFree: 3 });
  });
  afterEach(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Feeds `chunks` through a PartWriter; answers each finished part's bytes, read back from its file. */
  async function cut(chunks: Buffer[], partSize: number, slowStart = false): Promise<Buffer[]> {
    const parts: Buffer[] = [];
    const writer = new PartWriter({
      partSize,
      start: async () => {
        // A slow start holds the writer back, so the chunks behind it arrive together (writev).
        if (slowStart) await new Promise((resolve) => setImmediate(resolve));
        return pool.acquire();
      },
      finished: async (part) => {
        const bytes = await read(part);
        expect(bytes.length).toBe(part.size);
        parts.push(bytes);
        await part.release();
      },
    });
    await pipeline(Readable.from(chunks), writer);
    return parts;
  }

  it.each([false, true])('cuts random chunks into parts of exactly partSize, the last shorter, with every byte in order, in reused files (slow start: %s)', async (slowStart) => {
    // Parts from 1 byte (every chunk cut at each byte) to larger than several chunks; at most a
    // few hundred parts a round, each written to a pooled temp file (longer parts before shorter
    // ones in the same file: only a part's own bytes are read back) and read back.
    for (let round = 0; round < 12; round++) {
      const partSize = round === 0 ? 1 : 64 + Math.floor(Math.random() * 5000);
      const chunks = Array.from({ length: 1 + Math.floor(Math.random() * (round === 0 ? 4 : 40)) }, () => randomBytes(1 + Math.floor(Math.random() * (round === 0 ? 40 : 3000))));
      const all = Buffer.concat(chunks);
      const parts = await cut(chunks, partSize, slowStart);
      expect(Buffer.concat(parts).equals(all)).toBe(true);
      expect(parts.length).toBe(Math.ceil(all.length / partSize));
      for (const part of parts.slice(0, -1)) expect(part.length).toBe(partSize);
      expect(parts.at(-1)!.length).toBe(all.length - (parts.length - 1) * partSize);
    }
    // One file served every part (each given back before the next), and none is in the folder.
    expect(pool.inUse).toBe(0);
    expect(pool.freeCount).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  /** A request that sends `bytes` and then fails; `fail` breaks it. */
  function failingRequest(bytes: number): { source: Readable; fail: () => void } {
    const source = new Readable({ read() {} });
    source.push(randomBytes(bytes));
    return { source, fail: () => source.destroy(new Error('connection reset')) };
  }

  async function closed(writer: PartWriter): Promise<void> {
    if (!writer.closed) await new Promise((resolve) => writer.once('close', resolve));
  }

  it('gives back the part it was writing when the request fails', async () => {
    let started!: () => void;
    const ready = new Promise<void>((resolve) => (started = resolve));
    const writer = new PartWriter({
      partSize: 1 << 20,
      start: async () => {
        const part = await pool.acquire();
        started();
        return part;
      },
      finished: () => Promise.reject(new Error('not reached')),
    });
    const { source, fail } = failingRequest(1000);
    const piped = pipeline(source, writer);
    await ready;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(pool.inUse).toBe(1);
    fail();
    await expect(piped).rejects.toThrow('connection reset');
    await closed(writer);
    expect(pool.inUse).toBe(0);
    expect(pool.freeCount).toBe(1);
  });

  it('gives back the part it was waiting room for when the request fails meanwhile', async () => {
    let room!: () => void;
    const waiting = new Promise<void>((resolve) => (room = resolve));
    let made: PartFile | undefined;
    const writer = new PartWriter({
      partSize: 1 << 20,
      start: async () => {
        await waiting;
        return (made = await pool.acquire());
      },
      finished: () => Promise.reject(new Error('not reached')),
    });
    const { source, fail } = failingRequest(1000);
    const piped = pipeline(source, writer);
    await new Promise((resolve) => setTimeout(resolve, 5));
    fail();
    await expect(piped).rejects.toThrow('connection reset');
    room();
    await waiting;
    // The part arrives after the failure; the writer gives it back.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(made).toBeDefined();
    expect(pool.inUse).toBe(0);
  });
});

describe('PartFilePool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'part-pool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('files are unlinked at once (nothing is left in the folder, even by a process that dies), reused, and at most maxFree are kept', async () => {
    const pool = new PartFilePool({ directory: dir, maxFree: 2 });
    const parts = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    expect(readdirSync(dir)).toEqual([]);
    for (const [i, part] of parts.entries()) await part.append(Buffer.alloc(10 + i, i));
    for (const part of parts) await part.release();
    expect(pool.inUse).toBe(0);
    expect(pool.freeCount).toBe(2);
    // A part in a reused file reads back its own bytes only, not the longer part's before it.
    const reused = await pool.acquire();
    expect(pool.freeCount).toBe(1);
    await reused.append(Buffer.from('abc'));
    expect((await read(reused)).toString()).toBe('abc');
    await reused.release();
    await reused.release(); // twice: given back once
    expect(pool.freeCount).toBe(2);
    expect(pool.inUse).toBe(0);
    await pool.close();
    expect(pool.freeCount).toBe(0);
  });

  it('releasing a part stops a body still reading it before the file is lent again', async () => {
    const pool = new PartFilePool({ directory: dir });
    const part = await pool.acquire();
    await part.append(Buffer.alloc(4 << 20, 7));
    const body = part.body();
    const first = await new Promise<Buffer>((resolve) => body.once('data', resolve));
    expect(first.length).toBeGreaterThan(0);
    body.pause();
    await part.release();
    expect(body.destroyed).toBe(true);
    const next = await pool.acquire();
    await next.append(Buffer.from('new'));
    expect((await read(next)).toString()).toBe('new');
    await next.release();
    await pool.close();
  });

  it('an idle pool closes its files on its own', async () => {
    const pool = new PartFilePool({ directory: dir, idleMs: 20 });
    const part = await pool.acquire();
    await part.append(Buffer.from('x'));
    await part.release();
    expect(pool.freeCount).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(pool.freeCount).toBe(0);
  });
});
