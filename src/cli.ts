import { parseArgs, type ParseArgsConfig } from 'node:util';
import { getConfig } from './config.js';
import { AppError } from './errors.js';

/**
 * The `customify` command. Each command lives in its own module under `src/cli/` and is
 * loaded on demand, so `customify token` does not load sharp or the AWS SDK.
 */
type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;
type Print = (line: string) => void;

interface Command {
  summary: string;
  usage: string;
  options: Options;
  run(values: Values, print: Print): Promise<number | void>;
}

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'Run the HTTP API (and, without REDIS_URL, the in-process render worker)',
    usage: 'customify serve',
    options: {},
    run: async () => (await import('./http/server.js')).serve(getConfig()),
  },
  worker: {
    summary: 'Run BullMQ render workers (needs REDIS_URL); start as many processes as you need',
    usage: 'customify worker',
    options: {},
    run: async () => (await import('./workers/worker.js')).runWorker(getConfig()),
  },
  migrate: {
    summary: 'Apply database migrations (they also run at start)',
    usage: 'customify migrate',
    options: {},
    run: async (_values, print) => (await import('./cli/migrate.js')).migrateCommand(getConfig(), print),
  },
  token: {
    summary: 'Mint a development JWT for a user',
    usage: 'customify token --user ID [--ttl 1h]',
    options: { user: { type: 'string' }, ttl: { type: 'string', default: '1h' } },
    run: async (values, print) => (await import('./cli/token.js')).tokenCommand(getConfig(), { user: values.user as string | undefined, ttl: values.ttl as string }, print),
  },
  render: {
    summary: 'Render one design to DIR/preview.png and DIR/thumbnail.png (no server, no database)',
    usage: 'customify render --text TEXT [--font Bebas-Bold] [--color #FF0000] [--text-color #FFFFFF] [--product-type t-shirt] --out DIR',
    options: {
      text: { type: 'string' }, font: { type: 'string', default: 'Bebas-Bold' }, color: { type: 'string', default: '#FF0000' },
      'text-color': { type: 'string' }, 'product-type': { type: 'string', default: 't-shirt' }, out: { type: 'string' },
    },
    run: async (values, print) => (await import('./cli/render.js')).renderCommand(getConfig(), values, print),
  },
  cleanup: {
    summary: 'Delete stored objects older than a given age (every page, in batches)',
    usage: 'customify cleanup --older-than 90d [--prefix designs/] [--orphans] [--dry-run]',
    options: { 'older-than': { type: 'string' }, prefix: { type: 'string', default: 'designs/' }, 'dry-run': { type: 'boolean', default: false }, orphans: { type: 'boolean', default: false } },
    run: async (values, print) => (await import('./cli/cleanup.js')).cleanupCommand(getConfig(), values, print),
  },
  doctor: {
    summary: "Check configuration, credentials, bucket, permissions, storage folder, database and Redis",
    usage: 'customify doctor',
    options: {},
    run: async (_values, print) => (await import('./cli/doctor.js')).doctorCommand(getConfig, print),
  },
  'storage-demo': {
    summary: "Upload a preview and a thumbnail in the configured storage mode and print their URLs (the seed's Test Direct S3 Upload)",
    usage: 'customify storage-demo',
    options: {},
    run: async (_values, print) => (await import('./storage/storage-demo.js')).runStorageDemo(getConfig(), print),
  },
};

/** Command groups parse their own subcommands and options (see src/cli/s3.ts). */
const GROUPS: Record<string, { summary: string; run(args: string[], print: Print): Promise<number> }> = {
  s3: {
    summary: "Set up the S3 bucket as the seed does: setup-policy (public read), setup-cors",
    run: async (args, print) => (await import('./cli/s3.js')).s3Command(args, getConfig, print),
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'Usage: customify <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    ...Object.entries(GROUPS).map(([name, g]) => `  ${name.padEnd(width)}  ${g.summary}`),
    '',
    'Configuration comes from the environment and .env (see README.md). `customify <command> --help` for options.',
  ].join('\n');
}

/** Runs the command line; returns the exit code. Errors print one line that says what to do. */
export async function main(argv: string[], print: Print = (line) => console.log(line)): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    print(help());
    return name ? 0 : 2;
  }
  const group = GROUPS[name];
  if (group) {
    try {
      return await group.run(rest, print);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      console.error(`customify ${name}: ${error.message}`);
      return 1;
    }
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${help()}`);
    return 2;
  }
  let values: Values;
  try {
    ({ values } = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }) as { values: Values });
  } catch (error) {
    console.error(`${(error as Error).message}\nUsage: ${command.usage}`);
    return 2;
  }
  if (values.help) {
    print(`Usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  try {
    return (await command.run(values, print)) ?? 0;
  } catch (error) {
    if (error instanceof AppError) {
      console.error(`customify ${name}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
