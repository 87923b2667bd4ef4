import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', 'storage/'] },
  js.configs.recommended,
  // Type-aware rules for every TypeScript file (src, test, bench, the vitest configs). The project service
  // finds each file's tsconfig; the vitest configs at the root are outside tsconfig.json's `include`, so they
  // are linted with the default project. Plain .js files get the untyped rules below.
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts', 'vitest.reliability.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // In the preset already; stated so that nobody turns them off by accident: a promise nobody awaits
      // loses its rejection, and an async callback where a void one is expected does the same.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  // Plain JavaScript (bin/, scripts/, this file) has no type information: the untyped recommended rules only.
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read settings from src/config.ts.' }],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  { files: ['src/config.ts', 'test/**', 'bench/**', 'vitest.config.ts'], rules: { 'no-restricted-properties': 'off' } },
  // Tests read answers through Fastify's `inject` (`res.json()` is `any` by its type) and parsed CLI output:
  // reading a field of such an answer is what an assertion does, and the assertion fails if it is not there.
  { files: ['test/**'], rules: { '@typescript-eslint/no-unsafe-member-access': 'off' } },
);
