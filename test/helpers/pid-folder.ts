import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A fresh, empty folder `<tmp>/<prefix>-<pid>` for this test process. Vitest kills its
 * workers rather than letting them exit, so no exit hook can remove it: the folder is named
 * after the pid, and the folders of processes that are gone are removed each time one is made.
 */
export function freshPidFolder(prefix: string): string {
  const pattern = new RegExp(`^${prefix}-(\\d+)$`);
  for (const name of readdirSync(tmpdir())) {
    const pid = pattern.exec(name)?.[1];
    if (pid && !isAlive(Number(pid))) rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
  }
  const dir = path.join(tmpdir(), `${prefix}-${process.pid}`);
  // Left by an earlier process with this pid, perhaps not empty: start afresh.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  return dir;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
