/**
 * The service as it runs in production, in child processes: `src/` compiled with the
 * project's own build settings (tsconfig.build.json) into a temp folder, then started with
 * a copy of bin/customify.js (`customify serve`, `customify worker`). Compiled JavaScript,
 * not tsx, so a process's memory is the service's and not a TypeScript loader's.
 * Each process's memory is read from /proc/<pid>/status: VmRSS now, VmHWM its peak.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { deferCleanup, trackChild } from './cleanup.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServiceBuild {
  /** The copy of bin/customify.js that loads the compiled dist/cli.js. */
  entry: string;
  /** tsc's complaints, when it emitted despite type errors (someone mid-edit in src/). */
  warning?: string;
}

let build: Promise<ServiceBuild> | undefined;

/** Compiles src/ once per bench process (about 15 s); removed when the benchmarks end. */
export function buildService(): Promise<ServiceBuild> {
  build ??= compile();
  return build;
}

async function compile(): Promise<ServiceBuild> {
  const dir = mkdtempSync(path.join(tmpdir(), 'customify-bench-build-'));
  deferCleanup('remove the service build', () => rmSync(dir, { recursive: true, force: true }));
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  let warning: string | undefined;
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', path.join(dir, 'dist'), '--sourceMap', 'false'], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? (error as Error).message);
    if (!existsSync(path.join(dir, 'dist', 'cli.js'))) throw new Error(`Could not compile src/: ${out.slice(0, 2000)}`, { cause: error });
    warning = `tsc reported errors (the build ran anyway): ${out.split('\n').slice(0, 5).join(' | ')}`;
  }
  // ESM like the repository, the repository's node_modules (packages) and assets (the bundled
  // fonts, found relative to the compiled code as they are in dist/).
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  symlinkSync(path.join(REPO_ROOT, 'assets'), path.join(dir, 'assets'), 'dir');
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync(path.join(REPO_ROOT, 'bin', 'customify.js'), path.join(dir, 'bin', 'customify.js'));
  return { entry: path.join(dir, 'bin', 'customify.js'), warning };
}

export interface ProcMemory {
  /** Resident set size now, MB. */
  rssMb: number;
  /** Peak resident set size since the process started (VmHWM), MB. */
  peakRssMb: number;
}

/** VmRSS and VmHWM of a live process. */
export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

export interface ServiceProcess {
  name: string;
  pid: number;
  logFile: string;
  memory(): ProcMemory;
  /** Resolves when the process has exited, for any reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (graceful shutdown), SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its output, for error messages. */
  logTail(lines?: number): string;
}

/** Environment for a child: only what is given, plus PATH/HOME; nothing of this shell's. */
function childEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[key];
    if (value !== undefined) base[key] = value;
  }
  return { ...base, ...env };
}

/** Starts `node <argv>` with stdout and stderr going to `logFile`. */
export function spawnProcess(name: string, argv: string[], env: Record<string, string>, logFile: string): ServiceProcess {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, argv, { env: childEnv(env), stdio: ['ignore', fd, fd], cwd: path.dirname(logFile) });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`Could not start ${name}`);
  const untrack = trackChild(pid);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      untrack();
      resolve({ code, signal });
    });
  });
  let stopping: Promise<void> | undefined;
  const logTail = (lines = 15) => {
    try {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const stop = (graceMs = 35_000) => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  deferCleanup(`stop ${name}`, () => stop(5_000));
  return { name, pid, logFile, memory: () => procMemory(pid), exited, stop, logTail };
}

/** `customify <command>` from the compiled build; `cpuProfileDir` adds `node --cpu-prof` (written at exit). */
export async function spawnCustomify(command: 'serve' | 'worker', env: Record<string, string>, options: { name: string; logFile: string; cpuProfileDir?: string }): Promise<ServiceProcess> {
  const { entry } = await buildService();
  const profile = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, `--cpu-prof-name=${options.name}.cpuprofile`] : [];
  // An A/B of node's own options for the service (BENCH_NODE_FLAGS='--heap-growing-percent=0').
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  // The design benchmarks need no virus scanner; S3 mode would otherwise require CLAMD_HOST.
  return spawnProcess(options.name, [...profile, ...nodeFlags, entry, command], { SCAN_REQUIRED: 'false', ...env }, options.logFile);
}

/** Resolves once `check` does; fails if the process exits first or `timeoutMs` passes. */
export async function waitUntil(proc: ServiceProcess, what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void proc.exited.then((e) => {
    exited = e;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc.name} exited (code ${exited.code}, signal ${exited.signal}) before ${what}:\n${proc.logTail()}`);
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${proc.name}: no ${what} within ${timeoutMs / 1000} s:\n${proc.logTail()}`);
}

/** Waits until GET `url` answers 200. */
export function waitForHttp(proc: ServiceProcess, url: string, timeoutMs?: number): Promise<void> {
  return waitUntil(proc, `answer on ${url}`, async () => (await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 200, timeoutMs);
}

/** Waits until the process's output contains `pattern`. */
export function waitForLog(proc: ServiceProcess, pattern: RegExp, timeoutMs?: number): Promise<void> {
  // async on purpose: before the log file exists readFileSync throws, and as a rejection waitUntil reads that as "not yet".
  // eslint-disable-next-line @typescript-eslint/require-await
  return waitUntil(proc, `log line ${pattern}`, async () => pattern.test(readFileSync(proc.logFile, 'utf8')), timeoutMs);
}
