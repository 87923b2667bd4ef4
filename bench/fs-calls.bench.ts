/**
 * What one file-system call costs the process, asynchronous (a hand-off to libuv's threads
 * and back) against synchronous, for the calls the local driver makes per put
 * (src/storage/local.driver.ts, SYNC_WRITE_MAX_BYTES). CPU (user + system, all threads) and
 * wall time per call, medians of 5 interleaved rounds, in a fresh folder under --dir.
 *   npx tsx bench/fs-calls.bench.ts [--n 2000] [--dir /tmp]
 */
import { closeSync, mkdirSync, mkdtempSync, open as openFd, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { mkdir, open, realpath, rename, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';

const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' }, dir: { type: 'string', default: tmpdir() } } });
const n = Number(values.n);
const body = Buffer.alloc(20_000, 7); // about a rendered thumbnail
const openAsync = promisify(openFd);

interface PerCall { cpuUs: number; wallUs: number }

/** Runs `call(i)` for i in 0..n-1 after `setup`, and answers the cost of one call. */
async function measure(setup: (dir: string) => void, call: (dir: string, i: number) => unknown): Promise<PerCall> {
  const dir = mkdtempSync(path.join(values.dir, 'fs-calls-'));
  try {
    setup(dir);
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await call(dir, i);
    const wall = Number(process.hrtime.bigint() - start) / 1000;
    const used = process.cpuUsage(cpu);
    return { cpuUs: (used.user + used.system) / n, wallUs: wall / n };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const makeFolders = (dir: string) => { for (let i = 0; i < n; i++) mkdirSync(path.join(dir, `d${i}`)); };
const nothing = () => undefined;

const cases: Record<string, () => Promise<PerCall>> = {
  'realpath, async': () => measure(makeFolders, (dir, i) => realpath(path.join(dir, `d${i}`))),
  'realpath, sync (native)': () => measure(makeFolders, (dir, i) => realpathSync.native(path.join(dir, `d${i}`))),
  'stat, async': () => measure(makeFolders, (dir, i) => stat(path.join(dir, `d${i}`))),
  'stat, sync': () => measure(makeFolders, (dir, i) => statSync(path.join(dir, `d${i}`))),
  'mkdir, async': () => measure(nothing, (dir, i) => mkdir(path.join(dir, `d${i}`))),
  'mkdir, sync': () => measure(nothing, (dir, i) => mkdirSync(path.join(dir, `d${i}`))),
  'create + write 20 KB + close + rename, async': () => measure(nothing, async (dir, i) => {
    const file = path.join(dir, `f${i}`);
    const handle = await open(`${file}.tmp`, 'wx');
    await handle.writeFile(body);
    await handle.close();
    await rename(`${file}.tmp`, file);
  }),
  'the same, create async, the rest sync (the driver)': () => measure(nothing, async (dir, i) => {
    const file = path.join(dir, `f${i}`);
    const fd = await openAsync(`${file}.tmp`, 'wx');
    for (let at = 0; at < body.length; ) at += writeSync(fd, body, at);
    closeSync(fd);
    renameSync(`${file}.tmp`, file);
  }),
  'the same, all sync': () => measure(nothing, (dir, i) => {
    const file = path.join(dir, `f${i}`);
    const fd = openSync(`${file}.tmp`, 'wx');
    for (let at = 0; at < body.length; ) at += writeSync(fd, body, at);
    closeSync(fd);
    renameSync(`${file}.tmp`, file);
  }),
};

const results: Record<string, PerCall[]> = {};
for (let round = 0; round < 5; round++) {
  for (const [name, run] of Object.entries(cases)) (results[name] ??= []).push(await run());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${n} calls per round, 5 rounds, medians; folder ${values.dir}`);
for (const [name, runs] of Object.entries(results)) {
  const cpu = median(runs.map((r) => r.cpuUs));
  const wall = median(runs.map((r) => r.wallUs));
  console.log(`${name.padEnd(52)} CPU ${cpu.toFixed(1).padStart(6)} µs   wall ${wall.toFixed(1).padStart(6)} µs`);
}
