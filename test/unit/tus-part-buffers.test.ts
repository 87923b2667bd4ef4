import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PartFile, PartWriter } from '../../src/uploads/tus-part-buffers.js';

describe('PartWriter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'part-writer-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Feeds `chunks` through a PartWriter; answers each finished part's bytes, read back from its file. */
  async function cut(chunks: Buffer[], partSize: number, slowStart = false): Promise<Buffer[]> {
    // This test's own folder: `dir` is the next test's once this one ends.
    const folder = dir;
    const parts: Buffer[] = [];
    const writer = new PartWriter({
      partSize,
      start: async () => {
        // A slow start holds the writer back, so the chunks behind it arrive together (writev).
        if (slowStart) await new Promise((resolve) => setImmediate(resolve));
        return PartFile.create(folder);
      },
      finished: async (part) => {
        const bytes = await new Promise<Buffer>((resolve, reject) => {
          const pieces: Buffer[] = [];
          part.body().on('data', (piece: Buffer) => pieces.push(piece)).on('end', () => resolve(Buffer.concat(pieces))).on('error', reject);
        });
        expect(bytes.length).toBe(part.size);
        parts.push(bytes);
        await part.release();
      },
    });
    await pipeline(Readable.from(chunks), writer);
    return parts;
  }

  it.each([false, true])('cuts random chunks into parts of exactly partSize, the last shorter, with every byte in order (slow start: %s)', async (slowStart) => {
    // Parts from 1 byte (every chunk cut at each byte) to larger than several chunks; at most a
    // few hundred parts a round, each a temp file written and read back.
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

  it('removes the part it was writing when the request fails', async () => {
    const folder = dir;
    let started!: () => void;
    const ready = new Promise<void>((resolve) => (started = resolve));
    const writer = new PartWriter({
      partSize: 1 << 20,
      start: async () => {
        const part = await PartFile.create(folder);
        started();
        return part;
      },
      finished: () => Promise.reject(new Error('not reached')),
    });
    const { source, fail } = failingRequest(1000);
    const piped = pipeline(source, writer);
    await ready;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(readdirSync(folder)).toHaveLength(1);
    fail();
    await expect(piped).rejects.toThrow('connection reset');
    await closed(writer);
    expect(readdirSync(folder)).toEqual([]);
  });

  it('removes the part it was waiting room for when the request fails meanwhile', async () => {
    const folder = dir;
    let room!: () => void;
    const waiting = new Promise<void>((resolve) => (room = resolve));
    let made: PartFile | undefined;
    const writer = new PartWriter({
      partSize: 1 << 20,
      start: async () => {
        await waiting;
        return (made = await PartFile.create(folder));
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
    // The part arrives after the failure; the writer removes it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(made).toBeDefined();
    expect(readdirSync(folder)).toEqual([]);
  });
});
