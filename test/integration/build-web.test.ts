import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * `npm run build` bundles the studio page (web/) into dist/web/ with esbuild, and `npm start`'s
 * `--if-stale` counts web/ as a source. Shown on a copy of the build set-up around a one-file
 * src/ and a small web/.
 */

const ROOT = path.join(import.meta.dirname, '../..');
const run = promisify(execFile);

let dir: string;
const build = (...args: string[]) => run(process.execPath, [path.join(dir, 'scripts/build.js'), ...args], { cwd: dir });
const later = (seconds: number) => new Date(Date.now() + seconds * 1000);
const built = async () => (await readdir(path.join(dir, 'dist/web'))).sort();

beforeAll(async () => {
  dir = await createTempDir('build-web');
  for (const folder of ['scripts', 'src', 'web']) await mkdir(path.join(dir, folder));
  for (const file of ['scripts/build.js', 'scripts/build-web.js', 'tsconfig.json', 'tsconfig.build.json', 'package.json']) await copyFile(path.join(ROOT, file), path.join(dir, file));
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  await writeFile(path.join(dir, 'src/cli.ts'), 'export const built = 1;\n');
  await writeFile(path.join(dir, 'web/main.ts'), "import { word } from './word.js';\ndocument.title = word;\n");
  await writeFile(path.join(dir, 'web/word.ts'), "export const word = 'first';\n");
  await writeFile(path.join(dir, 'web/studio.css'), 'body { color: red; }\n');
  await writeFile(path.join(dir, 'web/index.html'), '<link rel="stylesheet" href="/studio/style.css"><script type="module" src="/studio/app.js"></script>\n');
});
afterAll(async () => {
  await removeTempDir(dir);
});

describe('scripts/build.js and the studio page', () => {
  it('bundles web/ into dist/web/: hashed files, and index.html naming them', async () => {
    await build('--if-stale');
    const files = await built();
    const script = files.find((name) => /^app-[A-Z0-9]{8}\.js$/.test(name))!;
    const style = files.find((name) => /^style-[A-Z0-9]{8}\.css$/.test(name))!;
    expect(files).toEqual(['index.html', script, `${script}.map`, style, `${style}.map`].sort());
    const html = await readFile(path.join(dir, 'dist/web/index.html'), 'utf8');
    expect(html).toContain(`src="/studio/${script}"`);
    expect(html).toContain(`href="/studio/${style}"`);
    // Bundled: the import is inlined, so the browser loads one script.
    expect(await readFile(path.join(dir, 'dist/web', script), 'utf8')).toContain('"first"');
  });

  it('--if-stale builds again when a file under web/ is newer than the build, and removes the old bundle', async () => {
    const before = await built();
    const again = await build('--if-stale');
    expect(again.stderr).toBe('');
    expect(await built()).toEqual(before);

    await writeFile(path.join(dir, 'web/word.ts'), "export const word = 'second';\n");
    await utimes(path.join(dir, 'web/word.ts'), later(5), later(5));
    const rebuilt = await build('--if-stale');
    expect(rebuilt.stderr).toMatch(/compiling/);
    const after = await built();
    const script = after.find((name) => /^app-.*\.js$/.test(name))!;
    expect(before).not.toContain(script);
    expect(after).toHaveLength(5);
    expect(await readFile(path.join(dir, 'dist/web', script), 'utf8')).toContain('"second"');
  });
});
