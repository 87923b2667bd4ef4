import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { DesignView } from '../../src/designs/design-service.js';
import { freePort, pollForStatus } from '../helpers/app.js';
import { customifyNodeArgs, isolatedCwd } from '../helpers/isolated-cwd.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * `customify serve` as a newcomer runs it: a real process, no JWT_SECRET, defaults for
 * everything else but the folders and port. The banner's curl line is run as printed, and
 * SIGTERM/SIGINT shut the process down with exit code 0.
 */

const run = promisify(execFile);

interface ServeProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startServe(env: Record<string, string>): ServeProcess {
  // What bin/customify.js does with dist/cli.js, on the TypeScript sources (no build needed),
  // in an empty folder: no developer .env reaches it.
  const child = spawn(process.execPath, customifyNodeArgs(['serve']), {
    cwd: isolatedCwd(),
    // Not the test runner's environment: nothing of CI's S3 or database settings leaks in.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'development', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}

async function waitForExit(p: ServeProcess, timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`customify serve still running ${timeoutMs} ms after the signal:\n${p.output()}`)), timeoutMs);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitForOutput(p: ServeProcess, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = p.output().match(pattern);
    if (match) return match;
    if (p.child.exitCode !== null) throw new Error(`customify serve exited with ${p.child.exitCode}:\n${p.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the output within ${timeoutMs} ms:\n${p.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('customify serve (a real process)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(extra: Record<string, string> = {}) {
    const dir = await createTempDir('serve');
    const port = await freePort();
    const env = {
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      DATABASE_URL: `sqlite:${path.join(dir, 'data', 'customify.db')}`,
      LOCAL_STORAGE_PATH: path.join(dir, 'storage'),
      DATA_DIR: path.join(dir, 'data'),
      LOG_LEVEL: 'info',
      // What a newcomer at a terminal gets (stdout here is a pipe, where the default is JSON).
      LOG_FORMAT: 'pretty',
      ...extra,
    };
    const p = startServe(env);
    cleanups.push(async () => {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
      await removeTempDir(dir);
    });
    return { dir, port, env, p };
  }

  it('prints where it listens, a dev token and a curl line that works as printed; SIGTERM exits 0', { timeout: 90_000 }, async () => {
    const { dir, port, p } = await setup();
    await waitForOutput(p, /^Docs: .*$/m);
    const out = p.output();
    expect(out).toContain(
      `Customify listening on http://127.0.0.1:${port} (storage: local ${path.join(dir, 'storage')}, database: sqlite ${path.join(dir, 'data', 'customify.db')}, queue: in-process)`,
    );
    expect(out).toContain(`Docs: http://127.0.0.1:${port}/docs`);
    const token = out.match(/^ {2}export TOKEN=(\S+)$/m)?.[1];
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    // The development secret was generated under DATA_DIR, so the token survives a restart.
    expect(existsSync(path.join(dir, 'data', 'jwt-secret'))).toBe(true);

    const curl = out.match(/^ {2}(curl -X POST .*)$/m)?.[1];
    expect(curl).toBeDefined();
    const { stdout } = await run('sh', ['-c', curl!], { env: { PATH: process.env.PATH ?? '', TOKEN: token! }, timeout: 20_000 });
    const created = JSON.parse(stdout) as DesignView;
    expect(created.status).toBe('PENDING');

    const published = await pollForStatus(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/designs/${created.id}`, { headers: { authorization: `Bearer ${token}` } });
      return (await res.json()) as DesignView;
    }, 'PUBLISHED', 30_000);
    const image = await fetch(published.preview_url!);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(existsSync(path.join(dir, 'storage', new URL(published.thumbnail_url!).pathname.replace('/static/', '')))).toBe(true);

    p.child.kill('SIGTERM');
    const { code } = await waitForExit(p);
    expect(code, p.output()).toBe(0);
    expect(p.output()).toContain('Shut down cleanly');
  });

  it('writes one log format: readable lines at a terminal, with the banner once', { timeout: 90_000 }, async () => {
    const { p } = await setup();
    await waitForOutput(p, /^Docs: .*$/m);
    const out = p.output();
    expect(out.match(/Customify listening on/g)).toHaveLength(1);
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}Customify listening on/m);
    expect(out.split('\n').filter((line) => line.startsWith('{'))).toEqual([]);
    p.child.kill('SIGTERM');
    await waitForExit(p);
  });

  it('writes one log format: JSON lines only when piped (LOG_FORMAT=auto), the banner and the getting-started text included', { timeout: 90_000 }, async () => {
    const { port, p } = await setup({ LOG_FORMAT: 'auto' });
    await waitForOutput(p, /Getting started/);
    await fetch(`http://127.0.0.1:${port}/healthz`);
    p.child.kill('SIGTERM');
    await waitForExit(p);
    const lines = p.output().split('\n').filter(Boolean);
    const entries = lines.map((line) => JSON.parse(line) as { msg: string; level: number });
    expect(entries.filter((e) => e.msg.startsWith('Customify listening on'))).toHaveLength(1);
    const started = entries.find((e) => e.msg.startsWith('Getting started'));
    expect(started?.msg).toMatch(/^ {2}export TOKEN=\S+$/m);
    expect(entries.some((e) => e.msg === 'request completed')).toBe(true);
    expect(entries.at(-1)?.msg).toBe('Shut down cleanly');
  });

  it('SIGINT exits 0 too, and a second signal does not hang', { timeout: 90_000 }, async () => {
    const { p } = await setup();
    await waitForOutput(p, /^Docs: .*$/m);
    p.child.kill('SIGINT');
    p.child.kill('SIGINT');
    const started = Date.now();
    const { code } = await waitForExit(p);
    expect([0, 1]).toContain(code);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
