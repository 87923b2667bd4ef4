import { vi } from 'vitest';

/** What an in-process `customify` run gave: its exit code, its printed lines and its stderr lines. */
export interface CliRun {
  code: number;
  out: string[];
  err: string[];
}

type CliMain = (argv: string[], print?: (line: string) => void) => Promise<number>;

/** Runs `main(args)` (src/cli.ts), collecting what it prints and what it writes to console.error. */
export async function captureCli(main: CliMain, args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => {
    err.push(parts.join(' '));
  });
  try {
    return { code: await main(args, (line) => out.push(line)), out, err };
  } finally {
    spy.mockRestore();
  }
}

/**
 * Runs `customify ...args` in this process with `env` stubbed into process.env, the CLI
 * loaded afresh: getConfig() caches the settings per module instance.
 */
export async function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
  const { main } = await import('../../src/cli.js');
  return captureCli(main, args);
}
