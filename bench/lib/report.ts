/** What each benchmark hands back to bench/run.ts: its Markdown and its targets, checked. */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { table } from './stats.js';

export interface TargetCheck {
  benchmark: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchReport {
  markdown: string;
  targets: TargetCheck[];
}

export function targetsTable(targets: TargetCheck[]): string {
  return table(['benchmark', 'target', 'measured', 'met'], targets.map((t) => [t.benchmark, t.target, t.measured, t.met ? 'yes' : '**no**']));
}

/** Runs a module directly (`npx tsx bench/x.bench.ts`) when it is the entry point. */
export function isEntryPoint(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(path.resolve(process.argv[1])).href === moduleUrl;
}
