import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClamdScanner } from '../../src/scanning/index.js';
import { freePort } from './app.js';
import { waitFor } from './services.js';

/**
 * The real ClamAV daemon for scanning tests: CLAMD_HOST/CLAMD_PORT, else 127.0.0.1:3310 as
 * `../shared/tools/clamd.sh start` runs it. If it does not answer PING, its suites are
 * skipped with a message, except when CI is set: then they run and fail loudly (as
 * test/helpers/databases.ts does for PostgreSQL).
 */

export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

export const clamdTarget = {
  host: process.env.CLAMD_HOST ?? '127.0.0.1',
  port: Number(process.env.CLAMD_PORT ?? 3310),
};

async function probe(): Promise<string | null> {
  try {
    await new ClamdScanner({ ...clamdTarget, connectTimeoutMs: 2000, readTimeoutMs: 2000 }).ping();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export const clamdProblem: string | null = await probe();

if (clamdProblem && !process.env.CI) {
  console.warn(
    `clamd not answering at ${clamdTarget.host}:${clamdTarget.port}: skipping ClamAV tests (${clamdProblem}). ` +
      'Run `bash ../shared/tools/clamd.sh start` (or set CLAMD_HOST/CLAMD_PORT); with CI set these tests fail instead of being skipped.',
  );
}

/** Skip only when clamd is down and CI is unset. */
export const skipClamd = clamdProblem !== null && !process.env.CI;

function clamdBinary(): string | null {
  for (const candidate of ['/usr/sbin/clamd', '/usr/bin/clamd']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

export const clamdBinaryPath = clamdBinary();

export interface PrivateClamd {
  host: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A clamd of our own on a free port with its own settings (e.g. a small StreamMaxLength),
 * loading only the EICAR signature, so tests can change limits or stop it without touching
 * the shared daemon.
 */
export async function startPrivateClamd(settings: Record<string, string> = {}, options: { port?: number } = {}): Promise<PrivateClamd> {
  if (!clamdBinaryPath) throw new Error('clamd is not installed: run `bash ../shared/tools/clamd.sh start` once (it installs clamav-daemon)');
  const dir = await mkdtemp(path.join(tmpdir(), 'clamd-test-'));
  await mkdir(path.join(dir, 'db'));
  const hex = Buffer.from(EICAR).toString('hex');
  await writeFile(path.join(dir, 'db', 'local-test.ndb'), `Eicar-Test-Signature:0:*:${hex}\n`);
  // A given port: a clamd "coming back" where the service already looks for it.
  const port = options.port ?? (await freePort());
  const conf = {
    Foreground: 'yes',
    DatabaseDirectory: path.join(dir, 'db'),
    TCPSocket: String(port),
    TCPAddr: '127.0.0.1',
    LogFile: path.join(dir, 'clamd.log'),
    MaxThreads: '2',
    ...settings,
  };
  await writeFile(path.join(dir, 'clamd.conf'), Object.entries(conf).map(([k, v]) => `${k} ${v}\n`).join(''));
  const child: ChildProcess = spawn(clamdBinaryPath, ['-c', path.join(dir, 'clamd.conf')], { stdio: 'ignore' });
  const killed = () => child.kill('SIGKILL');
  process.once('exit', killed);
  const scanner = new ClamdScanner({ host: '127.0.0.1', port, connectTimeoutMs: 1000, readTimeoutMs: 2000 });
  await waitFor('private clamd to answer PING', () => scanner.ping().then(() => true), 20_000, 100);
  return {
    host: '127.0.0.1',
    port,
    async stop() {
      process.off('exit', killed);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
