import { main } from './cli.js';
import { tuneHeapGrowth } from './rendering/heap-growth.js';

tuneHeapGrowth();

/** The process entry of `customify` (bin/customify.js loads the compiled copy; `npm run dev` this file under tsx watch). */
main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
