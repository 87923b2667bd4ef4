import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Load and fault scenarios take minutes: `npm run test:reliability` (CI runs both).
    exclude: [...configDefaults.exclude, 'test/reliability/{load,fault-*}.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    // Each test process works in an empty folder: no developer .env reaches the tests.
    setupFiles: ['test/setup/isolate-cwd.ts'],
  },
});
