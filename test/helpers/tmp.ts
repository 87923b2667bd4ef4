import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configFrom, type Environment, type Settings } from '../../src/config.js';

/** A fresh folder under the OS temp dir, named after what uses it. */
export function createTempDir(label: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `customify-${label}-`));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Settings for local mode with LOCAL_STORAGE_PATH = `root` (the seed's development setup). */
export function localSettings(root: string, overrides: Environment = {}): Readonly<Settings> {
  return configFrom({ USE_LOCAL_STORAGE: 'true', LOCAL_STORAGE_PATH: root, ...overrides });
}

/**
 * Every entry under `dir` (not following links), with type, mode, size, mtime and a hash of
 * file contents or link target: equal snapshots mean nothing was created, removed or changed.
 */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (current: string): Promise<void> => {
    for (const name of (await readdir(current)).sort()) {
      const full = path.join(current, name);
      const rel = path.relative(dir, full);
      const info = await lstat(full);
      if (info.isSymbolicLink()) {
        out[rel] = `link -> ${await readlink(full)}`;
      } else if (info.isDirectory()) {
        out[rel] = `dir ${info.mode.toString(8)}`;
        await visit(full);
      } else {
        const hash = createHash('sha256').update(await readFile(full)).digest('hex');
        out[rel] = `file ${info.mode.toString(8)} ${info.size} ${info.mtimeMs} ${hash}`;
      }
    }
  };
  await visit(dir);
  return out;
}
