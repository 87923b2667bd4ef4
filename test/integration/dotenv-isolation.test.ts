import { rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { PROJECT_ROOT } from '../helpers/isolated-cwd.js';
import { spawnCustomify } from '../helpers/services.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/**
 * Issue #9 item 15: the README's S3 section has a developer create `.env` in the project
 * root, and `npm test` must still pass. A hostile `.env` is put there (only when there is
 * none: a developer's own is never touched, and this one is removed afterwards, even if the
 * test process dies), and both the in-process configuration and a spawned `customify` must
 * ignore it.
 */

const DOTENV = path.join(PROJECT_ROOT, '.env');
const HOSTILE = [
  '# Written by test/integration/dotenv-isolation.test.ts and removed by it: safe to delete.',
  'S3_PUBLIC_BUCKET=maybe', // invalid: any configuration that reads this file fails
  'USE_LOCAL_STORAGE=false',
  'S3_ENDPOINT=http://127.0.0.1:1',
  'PORT=1',
  '',
].join('\n');

let created = false;
const removeDotenv = () => {
  if (created) rmSync(DOTENV, { force: true });
  created = false;
};

beforeAll(async () => {
  try {
    await writeFile(DOTENV, HOSTILE, { flag: 'wx' });
    created = true;
    process.once('exit', removeDotenv);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
});
afterAll(removeDotenv);

describe('a .env in the project root does not reach the tests', () => {
  it('getConfig()/loadConfig() in a test process do not read it', (context) => {
    if (!created) context.skip('the project root already has a .env (a developer\'s own): not replaced');
    expect(process.cwd()).not.toBe(PROJECT_ROOT);
    const settings = loadConfig({});
    expect(settings.useLocalStorage).toBe(true);
    expect(settings.port).not.toBe(1);
  });

  it('a spawned customify does not read it', async (context) => {
    if (!created) context.skip('the project root already has a .env (a developer\'s own): not replaced');
    const dir = await createTempDir('dotenv-isolation');
    try {
      const p = spawnCustomify(['doctor'], {
        USE_LOCAL_STORAGE: 'true',
        LOCAL_STORAGE_PATH: path.join(dir, 'storage'),
        DATA_DIR: dir,
        DATABASE_URL: `sqlite:${path.join(dir, 'customify.db')}`,
      });
      const { code } = await p.exited;
      expect(p.output()).toContain('ok  storage mode: local disk');
      expect(p.output()).not.toContain('S3_PUBLIC_BUCKET');
      expect(code, p.output()).toBe(0);
    } finally {
      await removeTempDir(dir);
    }
  });
});
