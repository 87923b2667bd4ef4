import { isolatedCwd } from '../helpers/isolated-cwd.js';

// Every test file runs in an empty folder: a `.env` in the project root (or wherever
// `npm test` was started) must not reach getConfig(). See test/helpers/isolated-cwd.ts.
process.chdir(isolatedCwd());
