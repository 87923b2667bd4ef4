import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshPidFolder } from './pid-folder.js';

/**
 * Tests must not depend on the developer's `.env` or working directory: `customify` (and
 * getConfig() in-process) reads `.env` from the current folder, and a developer following
 * the README's S3 section has one in the project root. So every test process works in an
 * empty folder of its own (test/setup/isolate-cwd.ts chdirs there), and every `customify`
 * child is started there, with the sources and the tsx loader named by absolute URL.
 */

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let cwd: string | undefined;

/** An empty folder for this test process, made once (see freshPidFolder). */
export function isolatedCwd(): string {
  cwd ??= freshPidFolder('customify-test-cwd');
  return cwd;
}

/** Node arguments that run `customify ...args` on the TypeScript sources from any folder (what bin/customify.js does with dist/). */
export function customifyNodeArgs(args: string[]): string[] {
  const loader = pathToFileURL(path.join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const cli = pathToFileURL(path.join(PROJECT_ROOT, 'src/cli.ts')).href;
  const script = `const { main } = await import(${JSON.stringify(cli)}); main(${JSON.stringify(args)}).then((code) => { process.exitCode = code; }, (error) => { console.error(error); process.exitCode = 1; });`;
  return ['--import', loader, '--input-type=module', '-e', script];
}
