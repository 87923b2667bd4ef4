import { defineConfig } from 'vitest/config';

/**
 * The reliability suite (RELIABILITY.md): load, faults and bad input against real services
 * and private instances. One file at a time, so that faults do not fight each other for the
 * CPU and time out for the wrong reason; long timeouts, because recovery is what is measured.
 *
 *   npx vitest run --config vitest.reliability.config.ts
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    // Each test process works in an empty folder: no developer .env reaches the tests.
    setupFiles: ['test/setup/isolate-cwd.ts'],
    reporters: ['default'],
  },
});
