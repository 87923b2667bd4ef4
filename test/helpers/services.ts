import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './app.js';
import { customifyNodeArgs, isolatedCwd } from './isolated-cwd.js';

/**
 * Private service instances for fault tests. Other test files use the shared PostgreSQL,
 * Redis and Ceph at the same time, so a test that stops, restarts or fills something must
 * own it: a redis-server of its own, a PostgreSQL cluster of its own (initdb + pg_ctl), a
 * TCP proxy in front of Ceph that it can cut, a tmpfs it mounts, and `customify` child
 * processes it can SIGKILL. Everything binds to 127.0.0.1, every wait has a deadline, and
 * everything started here is also killed/unmounted by an exit hook should a test die
 * before its own cleanup.
 *
 * What cannot run here (no redis-server, no PostgreSQL binaries, not root for mount) is
 * reported by `capabilities`: suites skip with that message, except when CI is set, where
 * they run and fail loudly, as test/helpers/databases.ts does for PostgreSQL.
 */

const run = promisify(execFile);

// ---------------------------------------------------------------------------------------
// Last-resort cleanup: a vitest fork that crashes or is killed mid-test runs no afterAll.

const liveChildren = new Set<ChildProcess>();
const exitHooks = new Set<() => void>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const hook of exitHooks) {
    try {
      hook();
    } catch {
      // best effort: the process is exiting
    }
  }
});

function track(child: ChildProcess): ChildProcess {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Reads `read` every `everyMs` until `done` accepts its value, and returns that value; after
 * `timeoutMs` throws, showing the last value read (so a failure says where it got stuck).
 */
export async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Polls `check` every `everyMs` until it returns a truthy value; throws `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : String(JSON.stringify(lastError))})` : ''}`);
    }
    await sleep(everyMs);
  }
}

export { freePort };

/** Whether something accepts TCP connections on 127.0.0.1:`port` (within a second). */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

// ---------------------------------------------------------------------------------------
// What this machine can do.

export interface Capability {
  ok: boolean;
  /** Why not, when not ok. */
  why: string;
}

function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')) && existsSync(path.join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : undefined;
}

async function which(command: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('sh', ['-c', `command -v ${command}`]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function probeMount(): Promise<Capability> {
  if (process.getuid?.() !== 0) return { ok: false, why: 'mounting a tmpfs needs root' };
  const dir = await mkdtemp(path.join(tmpdir(), 'customify-mount-probe-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    await run('umount', [dir]);
    return { ok: true, why: '' };
  } catch (error) {
    return { ok: false, why: `mount -t tmpfs failed: ${(error as Error).message.split('\n')[0]}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

async function probeCapabilities() {
  const binDir = postgresBinDir();
  const runAsRoot = process.getuid?.() === 0;
  const pgUser = runAsRoot ? await postgresUser() : undefined;
  const postgres: Capability = !binDir
    ? { ok: false, why: 'no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin' }
    : runAsRoot && !pgUser
      ? { ok: false, why: 'running as root and there is no "postgres" user to run initdb/pg_ctl as (PostgreSQL refuses root)' }
      : { ok: true, why: '' };
  const redisServer = await which('redis-server');
  const redis: Capability = redisServer ? { ok: true, why: '' } : { ok: false, why: 'no redis-server on PATH' };
  return { postgres, redis, tmpfs: await probeMount(), binDir, pgUser };
}

const probed = await probeCapabilities();

export const capabilities: Readonly<{ postgres: Capability; redis: Capability; tmpfs: Capability }> = {
  postgres: probed.postgres,
  redis: probed.redis,
  tmpfs: probed.tmpfs,
};

/**
 * Whether a suite that needs `needs` should be skipped: only off CI, with a warning saying
 * why. With CI set it is never skipped, and `assertCapable` in its beforeAll fails it.
 */
export function skipWithout(...needs: Array<keyof typeof capabilities>): boolean {
  const missing = needs.filter((n) => !capabilities[n].ok);
  if (missing.length === 0) return false;
  const why = missing.map((n) => `${n}: ${capabilities[n].why}`).join('; ');
  if (process.env.CI) return false;
  console.warn(`[reliability] skipping a suite that needs ${missing.join(', ')} (${why}). With CI set it fails instead.`);
  return true;
}

/** Throws (CI, or a suite run anyway) when a capability is missing, naming what and why. */
export function assertCapable(...needs: Array<keyof typeof capabilities>): void {
  for (const n of needs) {
    if (!capabilities[n].ok) throw new Error(`This test needs ${n}, which this machine cannot provide: ${capabilities[n].why}.`);
  }
}

// ---------------------------------------------------------------------------------------
// A private redis-server.

export interface PrivateRedis {
  port: number;
  url: string;
  /** Whether the server is running now. */
  running(): boolean;
  /** Starts it again on the same port (empty: it keeps nothing on disk). */
  start(): Promise<void>;
  /** SIGTERM (or `signal`), then waits for the exit. Everything it held is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it for good. */
  destroy(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  assertCapable('redis');
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'customify-redis-'));
  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    log = '';
    const spawned = track(
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    spawned.stdout!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
    spawned.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
    child = spawned;
    await waitFor(`redis-server on port ${port}`, async () => {
      if (spawned.exitCode !== null) throw new Error(`redis-server exited with ${spawned.exitCode}: ${log}`);
      return portAnswers(port);
    }, 10_000);
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill(signal);
    const timer = setTimeout(() => current.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    running: () => Boolean(child && child.exitCode === null && child.signalCode === null),
    start,
    stop,
    async destroy() {
      await stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------
// A private PostgreSQL cluster.

export interface PrivatePostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  start(): Promise<void>;
  /** pg_ctl stop -m fast (or `mode`): connections are cut, the server is down until start(). */
  stop(mode?: 'fast' | 'immediate' | 'smart'): Promise<void>;
  /** pg_ctl restart -m fast. */
  restart(): Promise<void>;
  /** The server log, for failure messages. */
  log(): Promise<string>;
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  assertCapable('postgres');
  const bin = (name: string) => path.join(probed.binDir!, name);
  const asPostgres = probed.pgUser !== undefined;
  const pgRun = (command: string, args: string[], timeoutMs = 60_000) =>
    asPostgres ? run('runuser', ['-u', 'postgres', '--', bin(command), ...args], { timeout: timeoutMs }) : run(bin(command), args, { timeout: timeoutMs });

  const base = await mkdtemp(path.join(tmpdir(), 'customify-pg-'));
  if (probed.pgUser) await chown(base, probed.pgUser.uid, probed.pgUser.gid);
  const data = path.join(base, 'data');
  const logFile = path.join(base, 'server.log');
  const port = await freePort();
  // Loopback only, the socket in our folder, no fsync (durability across power loss is not what is tested).
  const serverOptions = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100`;
  let started = false;

  const emergencyStop = () => {
    if (started) {
      const args = [bin('pg_ctl'), '-D', data, '-m', 'immediate', 'stop'];
      execFileSync(asPostgres ? 'runuser' : args[0]!, asPostgres ? ['-u', 'postgres', '--', ...args] : args.slice(1), { stdio: 'ignore', timeout: 10_000 });
    }
  };
  exitHooks.add(emergencyStop);

  const instance: PrivatePostgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await pgRun('pg_ctl', ['-D', data, '-o', serverOptions, '-l', logFile, '-w', '-t', '30', 'start']);
      started = true;
    },
    async stop(mode = 'fast') {
      await pgRun('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
      started = false;
    },
    async restart() {
      await pgRun('pg_ctl', ['-D', data, '-o', serverOptions, '-l', logFile, '-m', 'fast', '-w', '-t', '30', 'restart']);
      started = true;
    },
    async log() {
      const { readFile } = await import('node:fs/promises');
      return readFile(logFile, 'utf8').catch(() => '');
    },
    async destroy() {
      try {
        if (started) await instance.stop('immediate');
      } finally {
        exitHooks.delete(emergencyStop);
        await rm(base, { recursive: true, force: true });
      }
    },
  };
  try {
    await pgRun('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    await instance.start();
    await waitFor('the private PostgreSQL to answer', async () => {
      const client = new pg.Client({ connectionString: instance.url, connectionTimeoutMillis: 2000 });
      try {
        await client.connect();
        await client.query('select 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    }, 30_000, 200);
  } catch (error) {
    await instance.destroy().catch(() => undefined);
    throw error;
  }
  return instance;
}

// ---------------------------------------------------------------------------------------
// A TCP proxy we can cut: "the S3 endpoint is unreachable" without touching the shared Ceph.

export interface TcpProxy {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Connections made through the proxy so far. */
  connections(): number;
  /** Closes the listener (new connections are refused) and resets every live connection. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  let count = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        count++;
        const upstream = connect({ host: target.host, port: target.port });
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });

  const cut = async () => {
    const s = server;
    server = undefined;
    const closed = s ? new Promise<void>((resolve) => s.close(() => resolve())) : Promise.resolve();
    for (const socket of sockets) socket.resetAndDestroy();
    sockets.clear();
    await closed;
  };

  await listen();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections: () => count,
    cut,
    async restore() {
      if (server) return;
      // The port was ours a moment ago; retry briefly should the kernel hold it.
      await waitFor(`the proxy to listen again on ${port}`, () => listen().then(() => true), 5_000, 100);
    },
    close: cut,
  };
}

// ---------------------------------------------------------------------------------------
// A small tmpfs: "the disk is full".

export interface Tmpfs {
  dir: string;
  /** Changes the size (mount -o remount): more room is "space freed". */
  resize(size: string): Promise<void>;
  /** Unmounts (lazily if busy) and removes the folder. */
  destroy(): Promise<void>;
}

export async function mountTmpfs(size: string): Promise<Tmpfs> {
  assertCapable('tmpfs');
  const dir = await mkdtemp(path.join(tmpdir(), 'customify-tmpfs-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  const emergencyUnmount = () => execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  exitHooks.add(emergencyUnmount);
  return {
    dir,
    async resize(newSize) {
      await run('mount', ['-o', `remount,size=${newSize}`, dir]);
    },
    async destroy() {
      try {
        await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
        exitHooks.delete(emergencyUnmount);
      } finally {
        // Only remove the folder once nothing is mounted on it (never the tmpfs contents of a busy mount).
        const { stdout } = await run('sh', ['-c', `grep -c " ${dir} " /proc/mounts || true`]);
        if (stdout.trim() === '0') await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// `customify <command>` as a real child process (the TypeScript sources through tsx, as
// bin/customify.js runs dist/cli.js), so it can be SIGKILLed.

export interface CustomifyProcess {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far (the last 400 KB). */
  output(): string;
  /** Every output line that matched `options.collect` so far (kept whole, however long the output). */
  collected(): string[];
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; waits for the exit. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `customify ...args` with exactly `env` (plus PATH and HOME): nothing of the test
 * runner's environment leaks in, nor a `.env` file: it runs in an empty folder.
 */
export function spawnCustomify(args: string[], env: Record<string, string>, options: { collect?: RegExp } = {}): CustomifyProcess {
  const child = track(
    spawn(process.execPath, customifyNodeArgs(args), {
      cwd: isolatedCwd(),
      // SCAN_REQUIRED=false: S3-mode processes here test designs, not uploads, and need no clamd.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'development', SCAN_REQUIRED: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  let partial = '';
  const collected: string[] = [];
  const append = (chunk: Buffer) => {
    const text = chunk.toString();
    out += text;
    if (out.length > 400_000) out = out.slice(-400_000);
    if (options.collect) {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (options.collect.test(line)) collected.push(line);
    }
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid!,
    output: () => out,
    collected: () => [...collected],
    exited,
    async waitForOutput(pattern, timeoutMs = 30_000) {
      return waitFor(`${pattern} in the output of customify ${args.join(' ')}`, () => {
        const match = out.match(pattern);
        if (match) return match;
        if (!alive()) throw new Error(`customify ${args.join(' ')} exited:\n${out.slice(-4000)}`);
        return undefined;
      }, timeoutMs);
    },
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 15_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Creates `dir` (and parents); for callers that need a folder inside a mount or temp dir. */
export async function ensureDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}
