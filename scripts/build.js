#!/usr/bin/env node
// `npm run build`: compiles src/ to dist/ with tsc, bundles the studio page (web/) into
// dist/web/ with esbuild (scripts/build-web.js), then stamps dist/ with the time the build
// started. `--if-stale` (used by `npm start`) builds only when a file under src/ or web/ or a
// tsconfig is newer than that stamp, or dist/ is missing: an mtime walk takes milliseconds,
// tsc about 20 s on a small machine.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.build-stamp');
const web = path.join(root, 'web');
const inputs = [path.join(root, 'src'), web, path.join(root, 'tsconfig.json'), path.join(root, 'tsconfig.build.json')];

/** The newest mtime under `entry`, folders included (a deleted or renamed file changes its folder's). */
function newest(entry) {
  const info = statSync(entry, { throwIfNoEntry: false });
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs;
  for (const name of readdirSync(entry)) latest = Math.max(latest, newest(path.join(entry, name)));
  return latest;
}

function isStale() {
  const built = statSync(stamp, { throwIfNoEntry: false });
  if (!built || !existsSync(path.join(root, 'dist', 'cli.js'))) return true;
  if (existsSync(web) && !existsSync(path.join(root, 'dist', 'web', 'index.html'))) return true;
  return inputs.some((input) => newest(input) > built.mtimeMs);
}

if (process.argv.includes('--if-stale') && !isStale()) process.exit(0);

const started = new Date();
if (process.argv.includes('--if-stale')) console.error('customify: sources changed since the last build, compiling (npm run dev skips this)...');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
if (existsSync(web)) {
  const { buildWeb } = await import('./build-web.js');
  await buildWeb();
}
// The start time, not the end: a source saved during the compile counts as newer.
writeFileSync(stamp, `${started.toISOString()}\n`);
utimesSync(stamp, started, started);
