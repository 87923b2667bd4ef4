import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';

/** `customify --version` and `customify <command> --help`, as a user reads them. */

const ROOT = path.join(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/customify.js');
const run = promisify(execFile);

async function output(args: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(args, (line) => lines.push(line));
  return { code, text: lines.join('\n') };
}

/** Each command's options, as `--name` → what its help line must say besides the name. */
const OPTIONS: Record<string, Record<string, RegExp>> = {
  serve: {},
  worker: {},
  migrate: {},
  doctor: {},
  'storage-demo': {},
  token: { '--user ID': /\(required\)/, '--ttl DURATION': /duration with a unit.*\(default: 1h\)/ },
  render: {
    '--text TEXT': /\(required\)/,
    '--out DIR': /\(required\)/,
    '--font NAME': /\(default: Bebas-Bold\)/,
    '--color HEX': /#RGB or #RRGGBB \(default: #FF0000\)/,
    '--text-color HEX': /\(default: white or black, whichever contrasts more with --color\)/,
    '--product-type TYPE': /\(default: t-shirt\)/,
    '--watermark': /WATERMARK_TEXT \/ WATERMARK_IMAGE.*WATERMARK_MIN_SIZE.*\(default: off\)/,
    '--print': /print\.png \(300 DPI\) and DIR\/print\.pdf.*\(default: off\)/,
    '--design-id ID': /title of print\.pdf.*\(default: cli-render\)/,
  },
  'render-batch': { '--out DIR': /\(required\)/ },
  print: { '--wait': /With REDIS_URL: wait until the workers have made the files.*\(default: off\)/ },
  cleanup: {
    '--older-than AGE': /duration with a unit \(30m, 12h, 90d, 2w\); a bare number is refused \(required\)/,
    '--prefix PREFIX': /\(default: designs\/\)/,
    '--orphans': /\(default: off\)/,
    '--dry-run': /\(default: off\)/,
  },
};

describe('customify --version', () => {
  it('prints package.json\'s version and exits 0, through the installed bin too', async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await output(['--version'])).toEqual({ code: 0, text: version });
    expect(await output(['-v'])).toEqual({ code: 0, text: version });
    const { stdout } = await run(process.execPath, [BIN, '--version'], { cwd: ROOT });
    expect(stdout).toBe(`${version}\n`);
  });

  it('the top-level help lists --version and every command', async () => {
    const { code, text } = await output(['--help']);
    expect(code).toBe(0);
    expect(text).toContain('-v, --version');
    for (const name of Object.keys(OPTIONS)) expect(text).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
  });
});

describe('customify <command> --help', () => {
  it.each(Object.entries(OPTIONS))('%s: every option with its meaning, unit and default', async (name, options) => {
    const { code, text } = await output([name, '--help']);
    expect(code).toBe(0);
    const optionLines = text.split('\n').filter((line) => /^ {2}--/.test(line));
    expect(optionLines.map((line) => line.trim().split(/ {2,}/)[0])).toEqual(Object.keys(options));
    for (const [flag, says] of Object.entries(options)) {
      const line = optionLines.find((l) => l.trim().startsWith(`${flag} `))!;
      expect(line, flag).toMatch(says);
      expect(line, flag).toMatch(/\((required|default: .+)\)$/);
    }
    if (Object.keys(options).length === 0) expect(text).toContain('It takes no options: it is configured by environment variables');
  });

  it('print names its DESIGN_ID argument, and refuses a call without it or with two', async () => {
    const { code, text } = await output(['print', '--help']);
    expect(code).toBe(0);
    expect(text).toMatch(/^Usage: customify print DESIGN_ID \[--wait\]$/m);
    expect(text).toMatch(/^DESIGN_ID: The id of a PUBLISHED design/m);
    expect(await output(['print'])).toEqual({ code: 2, text: '' });
    expect((await output(['print', 'a', 'b'])).code).toBe(2);
  });

  it('render lists the fonts and product types it accepts', async () => {
    const { text } = await output(['render', '--help']);
    expect(text).toMatch(/^Fonts: .*Bebas-Bold.*Roboto-Regular/m);
    expect(text).toMatch(/^Product types: t-shirt, hoodie, mug/m);
  });

  it('the default --ttl that help states (1h) is the one a token gets', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'token', '--user', 'help-test'], { cwd: ROOT, env: { ...process.env, JWT_SECRET: 'cli-help-test-secret-0123456789abcdef0123' } });
    const [, payload] = stdout.trim().split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBe(3600);
  });
});
