/**
 * Where a process's main thread spent its time, from a V8 .cpuprofile (`node --cpu-prof`):
 * self time grouped by package, by our own module, by Node subsystem, or by native call.
 * Self time, not inclusive: async code has no reliable caller chain, but every sample has
 * exactly one frame on top. Work on libuv's thread pool (sharp, fsync, WebCrypto) is not in
 * the main thread's samples; the per-process CPU seconds in the reports include it.
 */
import { readFileSync } from 'node:fs';
import { fixed, table } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const SPECIAL = new Set(['(garbage collector)', '(idle)', '(program)', '(root)']);

function component(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') return SPECIAL.has(functionName) ? functionName : `native ${functionName || '(anonymous)'}`;
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return `pkg ${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  const dist = url.lastIndexOf('/dist/');
  if (dist !== -1) return `src/${url.slice(dist + '/dist/'.length).replace(/\.js$/, '.ts')}`;
  if (url.startsWith('node:')) {
    const rest = url.slice('node:'.length).replace(/^internal\/(deps\/)?/, '');
    return `node ${rest.split('/')[0]!.replace(/\.js$/, '')}`;
  }
  return url.replace(/^file:\/\//, '');
}

export interface ProfileSummary {
  /** Wall time covered, seconds. */
  seconds: number;
  idlePct: number;
  /** Share of busy (non-idle) time by component, largest first. */
  components: Array<[string, number]>;
  functions: Array<[string, number]>;
}

export function summarizeProfile(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byComponent = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frame = nodes.get(id)!.callFrame;
    total += dt;
    if (frame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    const c = component(frame);
    byComponent.set(c, (byComponent.get(c) ?? 0) + dt);
    const f = `${frame.functionName || '(anonymous)'} (${c}${frame.url ? `:${frame.lineNumber + 1}` : ''})`;
    byFunction.set(f, (byFunction.get(f) ?? 0) + dt);
  });
  const busy = Math.max(1, total - idle);
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]): [string, number] => [k, (100 * v) / busy]);
  return { seconds: total / 1e6, idlePct: (100 * idle) / Math.max(1, total), components: sorted(byComponent), functions: sorted(byFunction) };
}

/** Two Markdown tables: the top components and the top functions by self time. */
export function profileTables(name: string, summary: ProfileSummary, top = 12): string {
  return [
    `**${name}**: main thread sampled over ${fixed(summary.seconds, 1)} s, idle ${fixed(summary.idlePct, 0)}%; shares of busy time (self):`,
    '',
    table(['component', 'share'], summary.components.slice(0, top).map(([k, v]) => [k, `${fixed(v, 1)}%`])),
    '',
    table(['function', 'share'], summary.functions.slice(0, top).map(([k, v]) => [k, `${fixed(v, 1)}%`])),
  ].join('\n');
}
