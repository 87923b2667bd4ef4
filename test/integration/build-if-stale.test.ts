import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * `npm start` runs `scripts/build.js --if-stale`: it compiles only when a source is newer than
 * the last build. Shown on a copy of the project's build set-up around a one-file src/.
 */

const ROOT = path.join(import.meta.dirname, '../..');
const run = promisify(execFile);

let dir: string;
const build = (...args: string[]) => run(process.execPath, [path.join(dir, 'scripts/build.js'), ...args], { cwd: dir });
const cliJs = () => path.join(dir, 'dist/cli.js');
const later = (seconds: number) => new Date(Date.now() + seconds * 1000);

beforeAll(async () => {
  dir = await createTempDir('build-if-stale');
  await mkdir(path.join(dir, 'scripts'));
  await mkdir(path.join(dir, 'src'));
  for (const file of ['scripts/build.js', 'tsconfig.json', 'tsconfig.build.json', 'package.json']) await copyFile(path.join(ROOT, file), path.join(dir, file));
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  await writeFile(path.join(dir, 'src/cli.ts'), "export const built = 'first';\n");
});
afterAll(async () => {
  await removeTempDir(dir);
});

describe('scripts/build.js', () => {
  it('builds when dist/ is missing, and not again while no source changed', async () => {
    const first = await build('--if-stale');
    expect(first.stderr).toMatch(/compiling/);
    expect(await readFile(cliJs(), 'utf8')).toContain("'first'");
    const before = (await stat(cliJs())).mtimeMs;

    const again = await build('--if-stale');
    expect(again.stderr).toBe('');
    expect((await stat(cliJs())).mtimeMs).toBe(before);
  });

  it('rebuilds when a source is newer than the build', async () => {
    await writeFile(path.join(dir, 'src/cli.ts'), "export const built = 'second';\n");
    await utimes(path.join(dir, 'src/cli.ts'), later(5), later(5));
    await build('--if-stale');
    expect(await readFile(cliJs(), 'utf8')).toContain("'second'");
  });

  it('rebuilds when a file is added or removed (its folder changes), or a tsconfig changes', async () => {
    await writeFile(path.join(dir, 'src/extra.ts'), 'export const extra = 1;\n');
    await utimes(path.join(dir, 'src'), later(10), later(10));
    await build('--if-stale');
    expect(await stat(path.join(dir, 'dist/extra.js'))).toBeTruthy();

    await rm(path.join(dir, 'dist/extra.js'));
    await utimes(path.join(dir, 'tsconfig.build.json'), later(15), later(15));
    await build('--if-stale');
    expect(await stat(path.join(dir, 'dist/extra.js'))).toBeTruthy();
  });

  it('without --if-stale it always builds (npm run build, prepare)', async () => {
    const stamp = await readFile(path.join(dir, 'dist/.build-stamp'), 'utf8');
    await build();
    expect(await readFile(path.join(dir, 'dist/.build-stamp'), 'utf8')).not.toBe(stamp);
    expect(await readFile(cliJs(), 'utf8')).toContain("'second'");
  });
});
