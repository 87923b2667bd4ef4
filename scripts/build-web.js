// The studio page (web/) bundled with esbuild into dist/web/: app-<hash>.js and app-<hash>.css,
// and index.html naming them. Hashed names can be cached for good; index.html is written last
// (whole, by a rename), so a server reading it never names a file that is not there yet, and
// only then are the files of earlier builds removed. Called by scripts/build.js; on its own:
// `node scripts/build-web.js`.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Bundles `web` into `out`; returns the names written. Throws when esbuild reports an error. */
export async function buildWeb({ web = path.join(root, 'web'), out = path.join(root, 'dist', 'web') } = {}) {
  await mkdir(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(web, 'main.ts'), style: path.join(web, 'studio.css') },
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    format: 'esm',
    target: ['es2022', 'chrome111', 'firefox115', 'safari16'],
    outdir: out,
    entryNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => path.basename(file));
  const script = outputs.find((name) => /^app-.*\.js$/.test(name));
  const style = outputs.find((name) => /^style-.*\.css$/.test(name));
  if (!script || !style) throw new Error(`esbuild wrote ${outputs.join(', ')}: expected app-*.js and style-*.css`);
  const template = await readFile(path.join(web, 'index.html'), 'utf8');
  const html = template.replaceAll('/studio/app.js', `/studio/${script}`).replaceAll('/studio/style.css', `/studio/${style}`);
  if (html === template) throw new Error('web/index.html names neither /studio/app.js nor /studio/style.css');
  const staged = path.join(out, '.index.html.tmp');
  await writeFile(staged, html);
  await rename(staged, path.join(out, 'index.html'));
  const keep = new Set([...outputs, 'index.html']);
  for (const name of await readdir(out)) if (!keep.has(name)) await rm(path.join(out, name), { force: true });
  return [...keep];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!existsSync(path.join(root, 'web'))) {
    console.error('customify: no web/ folder, nothing to bundle');
    process.exit(1);
  }
  await buildWeb();
}
