import { stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { createStorageLayer, STALE_TEMP_FILE_AGE_MS } from '../../src/storage/index.js';
import { TEST_JWT_SECRET, tokenFor } from '../helpers/app.js';
import { freePort, spawnCustomify, waitFor, type CustomifyProcess } from '../helpers/services.js';
import { createTempDir, localSettings, removeTempDir } from '../helpers/tmp.js';
import { ApiClient, DESIGN_BODY, runPool, Timings, walkFiles } from './harness.js';

/**
 * B6. Temp files a SIGKILL leaves mid-write (issue #9 item 2). `customify serve` (embedded:
 * SQLite, local disk, in-process worker) is frozen with SIGSTOP the moment a
 * `.{name}.{hex}.tmp` file exists in its storage tree and then SIGKILLed, so the kill lands
 * mid-write for certain. The leftovers are young at first, and kept (they could be another
 * process's write in progress); once older than STALE_TEMP_FILE_AGE_MS (their mtime is set
 * back, as time passing would) `customify cleanup` lists and removes them, and so does the
 * next start of `customify serve`; a write in progress, whose temp file is young, is not touched.
 */

const isTemp = (f: string) => f.endsWith('.tmp');
const LONG_AGO = () => new Date(Date.now() - STALE_TEMP_FILE_AGE_MS - 30 * 60_000);

interface Setup {
  dir: string;
  root: string;
  env: Record<string, string>;
  processes: CustomifyProcess[];
}

async function startServe(s: Setup): Promise<CustomifyProcess> {
  const p = spawnCustomify(['serve'], s.env);
  s.processes.push(p);
  await p.waitForOutput(/Customify listening on/, 60_000);
  return p;
}

/**
 * Starts serve, keeps it busy rendering, and SIGKILLs it while a temp file exists (frozen
 * with SIGSTOP first, so the write cannot finish between the look and the kill). Returns the
 * temp files left and how many freezes it took.
 */
let empty = 0;

async function killMidWrite(s: Setup, round: number): Promise<{ left: string[]; tries: number }> {
  const p = await startServe(s);
  const api = new ApiClient(`http://127.0.0.1:${s.env.PORT}`, await tokenFor(`temp-files-${round}`));
  let stop = false;
  const creating = runPool(Array.from({ length: 400 }, (_, i) => i), 8, async (i) => (stop ? 0 : (await api.create(DESIGN_BODY(`Temp ${round}-${i}`))).status));
  let tries = 0;
  try {
    const left = await waitFor('a temp file present while serve is frozen', async () => {
      if ((await walkFiles(s.root)).some(isTemp)) {
        tries++;
        p.child.kill('SIGSTOP');
        const present = (await walkFiles(s.root)).filter(isTemp);
        if (present.length > 0) {
          await p.kill();
          const sizes = await Promise.all(present.map(async (f) => (await stat(path.join(s.root, f))).size));
          empty += sizes.filter((size) => size === 0).length;
          return present;
        }
        p.child.kill('SIGCONT');
      }
      return undefined;
    }, 120_000, 1);
    return { left, tries };
  } finally {
    stop = true;
    await p.kill();
    await creating;
  }
}

async function backdate(root: string, files: string[]): Promise<void> {
  const when = LONG_AGO();
  for (const f of files) await utimes(path.join(root, f), when, when);
}

/** A write in progress in this process, into the same storage: its temp file exists and is young. */
async function writeInProgress(root: string) {
  const layer = await createStorageLayer(localSettings(root), { logger: silentLogger });
  const body = new PassThrough();
  const key = 'designs/00000000-0000-4000-8000-000000000000/preview.png';
  const done = layer.storage.put(key, body, { contentType: 'image/png' });
  body.write(Buffer.alloc(64, 1));
  const temp = await waitFor('the in-progress temp file', async () => (await walkFiles(root)).find((f) => f.startsWith('designs/00000000') && isTemp(f)), 10_000, 5);
  return {
    temp,
    async finish() {
      body.end(Buffer.alloc(64, 2));
      await done;
      const size = (await layer.storage.head(key))?.size;
      await layer.storage.close();
      return size;
    },
  };
}

describe('B6. temp files left by a SIGKILL mid-write (embedded: SQLite, local disk)', () => {
  it('young leftovers are kept; stale ones are removed by cleanup and by the next start; a write in progress is not', { timeout: 300_000 }, async () => {
    const t = new Timings('B6 temp files after SIGKILL');
    const dir = await createTempDir('rel-temp-files');
    const port = await freePort();
    const s: Setup = {
      dir,
      root: path.join(dir, 'storage'),
      processes: [],
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
        DATABASE_URL: `sqlite:${path.join(dir, 'data', 'customify.db')}`,
        LOCAL_STORAGE_PATH: path.join(dir, 'storage'),
        DATA_DIR: path.join(dir, 'data'),
        JWT_SECRET: TEST_JWT_SECRET,
        RENDER_CONCURRENCY: '4',
        RENDER_LEASE: '2s',
        PENDING_SWEEP_AFTER: '1s',
        LOG_LEVEL: 'info',
      },
    };
    try {
      // Round 1: leftovers; a restart keeps them while young; cleanup removes them once stale.
      const first = await killMidWrite(s, 1);
      t.mark('kill 1');
      expect(first.left.length).toBeGreaterThan(0);
      const restarted = await startServe(s);
      const sweep = await restarted.waitForOutput(/Removed (\d+) stale temp file/, 60_000);
      expect(Number(sweep[1])).toBe(0);
      expect(await walkFiles(s.root)).toEqual(expect.arrayContaining(first.left));
      await restarted.stop();
      t.mark('restart keeps young');

      await backdate(s.root, first.left);
      const inProgress = await writeInProgress(s.root);
      const cli = async (args: string[]) => {
        const p = spawnCustomify(['cleanup', '--older-than', '90d', ...args], s.env);
        s.processes.push(p);
        const exit = await p.exited;
        return { code: exit.code, out: p.output() };
      };
      const dry = await cli(['--dry-run']);
      expect(dry.code, dry.out).toBe(0);
      for (const f of first.left) expect(dry.out).toContain(`would delete temp file ${f} `);
      expect(dry.out).not.toContain(inProgress.temp);
      expect(await walkFiles(s.root)).toEqual(expect.arrayContaining([...first.left, inProgress.temp]));
      const real = await cli([]);
      expect(real.code, real.out).toBe(0);
      expect(real.out).toContain(`Removed ${first.left.length} temp file`);
      const afterCleanup = await walkFiles(s.root);
      for (const f of first.left) expect(afterCleanup).not.toContain(f);
      expect(afterCleanup).toContain(inProgress.temp);
      expect(await inProgress.finish()).toBe(128);
      t.mark('cleanup');

      // Round 2: the next start removes stale leftovers by itself, and keeps a write in progress.
      const second = await killMidWrite(s, 2);
      t.mark('kill 2');
      expect(second.left.length).toBeGreaterThan(0);
      await backdate(s.root, second.left);
      const inProgress2 = await writeInProgress(s.root);
      const third = await startServe(s);
      const swept = await third.waitForOutput(/Removed (\d+) stale temp file/, 60_000);
      expect(Number(swept[1])).toBe(second.left.length);
      const afterStart = await walkFiles(s.root);
      for (const f of second.left) expect(afterStart).not.toContain(f);
      expect(afterStart).toContain(inProgress2.temp);
      expect(await inProgress2.finish()).toBe(128);
      await third.stop();
      t.mark('start sweeps');
      t.report(`leftovers: round 1 ${first.left.length} (after ${first.tries} freeze(s)), round 2 ${second.left.length} (after ${second.tries}); empty ones: ${empty}`);
    } finally {
      for (const p of s.processes) await p.kill();
      await removeTempDir(dir);
    }
  });
});
