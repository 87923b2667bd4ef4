import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Tests must not depend on the developer's `.env` or working directory: `customify` (and
 * getConfig() in-process) reads `.env` from the current folder, and a developer following
 * the README's S3 section has one in the project root. So every test process works in an
 * empty folder of its own (test/setup/isolate-cwd.ts chdirs there), and every `customify`
 * child is started there, with the sources and the tsx loader named by absolute URL.
 */

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let cwd: string | undefined;

/**
 * An empty folder for this test process. Vitest kills its workers rather than letting them
 * exit, so no exit hook can remove it: it is named after the pid, and the folders of
 * processes that are gone are removed when the next one is made (as test/helpers/s3.ts does).
 */
export function isolatedCwd(): string {
  if (!cwd) {
    for (const name of readdirSync(tmpdir())) {
      const pid = /^customify-test-cwd-(\d+)$/.exec(name)?.[1];
      if (pid && !isAlive(Number(pid))) rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
    }
    const dir = path.join(tmpdir(), `customify-test-cwd-${process.pid}`);
    // Left by an earlier process with this pid, perhaps not empty: start afresh.
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    cwd = dir;
  }
  return cwd;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Node arguments that run `customify ...args` on the TypeScript sources from any folder (what bin/customify.js does with dist/). */
export function customifyNodeArgs(args: string[]): string[] {
  const loader = pathToFileURL(path.join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const cli = pathToFileURL(path.join(PROJECT_ROOT, 'src/cli.ts')).href;
  const script = `const { main } = await import(${JSON.stringify(cli)}); main(${JSON.stringify(args)}).then((code) => { process.exitCode = code; }, (error) => { console.error(error); process.exitCode = 1; });`;
  return ['--import', loader, '--input-type=module', '-e', script];
}
