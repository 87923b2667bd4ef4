import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { getConfig } from './config.js';
import { AppError } from './errors.js';

/**
 * The `customify` command. Each command lives in its own module under `src/cli/` and is
 * loaded on demand, so `customify token` does not load sharp or the AWS SDK.
 */
type Values = Record<string, string | boolean | undefined>;
type Print = (line: string) => void;

/** One option: how parseArgs reads it, and what `--help` says about it. */
interface OptionSpec {
  type: 'string' | 'boolean';
  /** For string options: the placeholder in help, e.g. DIR, AGE. */
  value?: string;
  /** What it does, with its unit where it has one. */
  description: string;
  /** The value when the option is absent; for booleans, absent means off. */
  default?: string | boolean;
  /** The default as help states it, when it is not a fixed value. */
  defaultNote?: string;
  required?: boolean;
}

interface Command {
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Lines added to `--help` that need a module loaded (the font list). */
  moreHelp?: () => Promise<string[]>;
  /** Positional arguments the command requires, by name (`DESIGN_ID`), with what each is. */
  positionals?: Record<string, string>;
  run(values: Values, print: Print, positionals: string[]): Promise<number | void>;
}

const NO_OPTIONS_NOTE = 'It takes no options: it is configured by environment variables and .env (README.md, Configuration).';

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
    summary: 'Mint a development JWT for a user, signed with JWT_SECRET (or the development secret under DATA_DIR)',
    usage: 'customify token --user ID [--ttl 1h]',
    options: {
      user: { type: 'string', value: 'ID', required: true, description: 'The user id the token is for (its `sub` claim)' },
      ttl: { type: 'string', value: 'DURATION', default: '1h', description: 'How long the token is valid: a duration with a unit, whole seconds or more (30m, 12h, 7d)' },
    },
    run: async (values, print) => (await import('./cli/token.js')).tokenCommand(getConfig(), { user: values.user as string | undefined, ttl: values.ttl as string }, print),
  },
  render: {
    summary: 'Render one design to DIR/preview.png (600x600 px), DIR/thumbnail.png (fits 200x200 px) and every other rendition (RENDITIONS x IMAGE_FORMATS), with no server or database',
    usage: 'customify render --text TEXT --out DIR [--font Bebas-Bold] [--color #FF0000] [--text-color #FFFFFF] [--product-type t-shirt] [--watermark] [--print [--design-id ID]]',
    options: {
      text: { type: 'string', value: 'TEXT', required: true, description: 'The text of the design' },
      out: { type: 'string', value: 'DIR', required: true, description: 'Folder to write preview.png, thumbnail.png and the other renditions (large.webp...) to (created if missing; files there are replaced)' },
      font: { type: 'string', value: 'NAME', default: 'Bebas-Bold', description: 'Font of the text (see Fonts below)' },
      color: { type: 'string', value: 'HEX', default: '#FF0000', description: 'Background color, #RGB or #RRGGBB' },
      'text-color': { type: 'string', value: 'HEX', defaultNote: 'white or black, whichever contrasts more with --color', description: 'Text color, #RGB or #RRGGBB' },
      'product-type': { type: 'string', value: 'TYPE', default: 't-shirt', description: 'Product the design is for (see Product types below)' },
      watermark: { type: 'boolean', default: false, description: 'Draw the watermark (WATERMARK_TEXT / WATERMARK_IMAGE) on renditions of at least WATERMARK_MIN_SIZE px' },
      print: { type: 'boolean', default: false, description: "Also write the product's print files, DIR/print.png (300 DPI) and DIR/print.pdf, at its print size (PRINT_SPECS_FILE)" },
      'design-id': { type: 'string', value: 'ID', default: 'cli-render', description: 'With --print: the title of print.pdf (a design id)' },
    },
    moreHelp: async () => {
      const [{ FONT_NAMES }, { PRODUCT_TYPES }] = await Promise.all([import('./rendering/fonts.js'), import('./rendering/design-spec.js')]);
      return [`Fonts: ${FONT_NAMES.join(', ')}`, `Product types: ${PRODUCT_TYPES.join(', ')}`];
    },
    run: async (values, print) => (await import('./cli/render.js')).renderCommand(getConfig(), values, print),
  },
  'render-batch': {
    summary: 'Render a JSON Lines file of designs (one POST /api/v1/designs body per line) into DIR/<line number>/, every rendition of each, with no server or database',
    usage: 'customify render-batch FILE.jsonl --out DIR',
    positionals: { FILE: 'A JSON Lines file: one design body per line, as POST /api/v1/designs takes it (watermark included); blank lines are skipped. Exit 0 when every line was rendered, 1 when any failed (the summary names each line and field), 2 for a usage error' },
    options: {
      out: { type: 'string', value: 'DIR', required: true, description: "Folder to write each line's renditions to, DIR/<line number>/preview.png and the others (created if missing; files there are replaced)" },
    },
    run: async (values, print, positionals) => (await import('./cli/render-batch.js')).renderBatchCommand(getConfig(), positionals[0]!, values, print),
  },
  print: {
    summary: "Make a design's print files (print.pdf, print.png at its product's print size) in the configured storage, as POST /api/v1/designs/{id}/print-files does",
    usage: 'customify print DESIGN_ID [--wait]',
    positionals: { DESIGN_ID: 'The id of a PUBLISHED design (a UUID), whoever owns it' },
    options: {
      wait: { type: 'boolean', default: false, description: 'With REDIS_URL: wait until the workers have made the files (READY) or failed, and print the outcome. Without REDIS_URL the command always makes the files itself and waits' },
    },
    run: async (values, print, positionals) => (await import('./cli/print.js')).printCommand(getConfig(), positionals[0]!, { wait: values.wait === true }, print),
  },
  cleanup: {
    summary: 'Delete stored objects older than a given age (every page, in batches), clearing the designs that pointed at them',
    usage: 'customify cleanup --older-than 90d [--prefix designs/] [--orphans] [--dry-run]',
    options: {
      'older-than': { type: 'string', value: 'AGE', required: true, description: 'Delete objects last modified more than AGE ago: a duration with a unit (30m, 12h, 90d, 2w); a bare number is refused' },
      prefix: { type: 'string', value: 'PREFIX', default: 'designs/', description: 'Only objects whose key starts with PREFIX (never empty: that would be the whole bucket)' },
      orphans: { type: 'boolean', default: false, description: 'Also delete the objects of designs that no longer exist, whatever their age' },
      'dry-run': { type: 'boolean', default: false, description: 'Print what would be deleted and updated; delete and update nothing' },
    },
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
  webhooks: {
    summary: 'The webhook delivery log: list (recent events and how their delivery went), replay EVENT_ID (send one again now)',
    run: async (args, print) => (await import('./cli/webhooks.js')).webhooksCommand(args, getConfig, print),
  },
};

function version(): string {
  // dist/cli.js and src/cli.ts are both one folder below package.json.
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'Usage: customify <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    ...Object.entries(GROUPS).map(([name, g]) => `  ${name.padEnd(width)}  ${g.summary}`),
    '',
    'Options:',
    '  -h, --help     Show this help; `customify <command> --help` describes the command\'s options',
    '  -v, --version  Print the version',
    '',
    'Configuration comes from the environment and .env (see README.md).',
  ].join('\n');
}

async function commandHelp(command: Command): Promise<string> {
  const flags = Object.entries(command.options).map(([name, o]) => ({ flag: `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`, o }));
  const width = Math.max('-h, --help'.length, ...flags.map((f) => f.flag.length));
  const lines = [`Usage: ${command.usage}`, '', `${command.summary}.`, '', 'Options:'];
  for (const { flag, o } of flags) {
    const note = o.required ? 'required' : o.type === 'boolean' ? `default: ${o.default === true ? 'on' : 'off'}` : `default: ${o.defaultNote ?? String(o.default)}`;
    lines.push(`  ${flag.padEnd(width)}  ${o.description} (${note})`);
  }
  lines.push(`  ${'-h, --help'.padEnd(width)}  Show this help`);
  for (const [name, what] of Object.entries(command.positionals ?? {})) lines.push('', `${name}: ${what}.`);
  if (flags.length === 0) lines.push('', NO_OPTIONS_NOTE);
  if (command.moreHelp) lines.push('', ...(await command.moreHelp()));
  return lines.join('\n');
}

function parseArgsOptions(options: Record<string, OptionSpec>): NonNullable<ParseArgsConfig['options']> {
  const parsed: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(options)) {
    if (o.type === 'boolean') parsed[name] = { type: 'boolean', default: o.default === true };
    else parsed[name] = typeof o.default === 'string' ? { type: 'string', default: o.default } : { type: 'string' };
  }
  return parsed;
}

/** Runs the command line; returns the exit code. Errors print one line that says what to do. */
export async function main(argv: string[], print: Print = (line) => console.log(line)): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    print(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    print(version());
    return 0;
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
  let positionals: string[];
  try {
    const wanted = Object.keys(command.positionals ?? {});
    const parsed = parseArgs({ args: rest, options: { ...parseArgsOptions(command.options), help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: wanted.length > 0 });
    values = parsed.values;
    positionals = parsed.positionals;
    if (!values.help && positionals.length !== wanted.length) {
      throw new Error(positionals.length < wanted.length ? `Missing ${wanted.slice(positionals.length).join(' ')}.` : `Unexpected argument "${positionals[wanted.length]}".`);
    }
  } catch (error) {
    console.error(`${(error as Error).message}\nUsage: ${command.usage}`);
    return 2;
  }
  if (values.help) {
    print(await commandHelp(command));
    return 0;
  }
  try {
    return (await command.run(values, print, positionals)) ?? 0;
  } catch (error) {
    if (error instanceof AppError) {
      console.error(`customify ${name}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
