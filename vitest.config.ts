import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Load and fault scenarios take minutes: `npm run test:reliability` (CI runs both).
    exclude: [...configDefaults.exclude, 'test/reliability/{load,fault-*}.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One test file per core, at least two. Vitest's default (cores - 1) runs one file at a time
    // on a 2-core machine, where most files spend their time waiting on child processes, the
    // databases, Ceph and clamd: on 2 cores the suite took 7.4 min with one worker and 4.2 min
    // with two, every test passing in both (2026-11-30).
    maxWorkers: Math.max(2, availableParallelism()),
    globalSetup: ['test/global-setup.ts'],
    // Each test process works in an empty folder: no developer .env reaches the tests.
    setupFiles: ['test/setup/isolate-cwd.ts'],
  },
});
