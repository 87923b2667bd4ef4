/**
 * What the machine is and how busy it is: the header of every report, and the CPU
 * accounting that explains a result (which process spent the cores, and how much of the
 * machine something else was using at the time).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { Worker } from 'node:worker_threads';

export function describeMachine(): { cores: number; cpu: string; memory: string; node: string; kernel: string } {
  let nproc = availableParallelism();
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    // nproc missing: Node's count will do.
  }
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  let kernel: string;
  try {
    kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  } catch {
    kernel = process.platform;
  }
  return { cores: nproc, cpu: model, memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`, node: process.version, kernel };
}

/**
 * What entering the kernel and waking another thread cost here. The ratios against Pillow's
 * flow (one thread, a dozen system calls per design) depend on them: the service hands work
 * to libuv's pool and libvips's threads a few hundred times per design (futex calls counted
 * with strace), and virtual machines differ in these costs by several times. `syscallUs`: an
 * fstat through Node (the JavaScript call included); `roundTripUs`: a wake-up of a worker
 * thread and its answer through Atomics.wait/notify, a futex each way as libuv's and libvips's
 * hand-offs are. Medians of `rounds` rounds of `n` calls.
 */
export async function handOffCosts(rounds = 5, n = 2000): Promise<{ syscallUs: number; roundTripUs: number }> {
  const fd = openSync('/dev/null', 'r');
  const syscall: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      for (let i = 0; i < n * 10; i++) fstatSync(fd);
      syscall.push(((performance.now() - start) * 1000) / (n * 10));
    }
  } finally {
    closeSync(fd);
  }
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const a = new Int32Array(require('node:worker_threads').workerData);
     for (;;) { Atomics.wait(a, 0, 0); if (a[0] === 2) break; Atomics.store(a, 0, 0); Atomics.notify(a, 0); }`,
    { eval: true, workerData: flag.buffer },
  );
  const roundTrip: number[] = [];
  try {
    await new Promise((resolve, reject) => worker.once('online', resolve).once('error', reject));
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
        Atomics.wait(flag, 0, 1);
      }
      roundTrip.push(((performance.now() - start) * 1000) / n);
    }
  } finally {
    Atomics.store(flag, 0, 2);
    Atomics.notify(flag, 0);
    await worker.terminate();
  }
  const mid = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return { syscallUs: mid(syscall), roundTripUs: mid(roundTrip) };
}

/** `uptime`'s load averages, e.g. "1.02 0.87 0.95". */
export function loadAverages(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

const TICKS_PER_SECOND = 100;

/** User + system CPU seconds a process has used so far (/proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based) → indices 11 and 12 here.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Busy and total CPU ticks of the whole machine (/proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** The backing services by process name (comm): whoever uses them, the bench or someone else's tests. */
export const BACKING_SERVICES = ['postgres', 'redis-server', 'radosgw', 'ceph-osd', 'ceph-mon', 'ceph-mgr'];

/** CPU seconds of every live process whose name is in `names`, by pid. */
function cpuByName(names: string[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (names.includes(comm)) out.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

export interface CpuWindow {
  /**
   * Ends the window: CPU seconds per named pid, of the backing services (by process name),
   * of this process, and the machine's busy share.
   */
  end(): { perProcess: Record<string, number>; services: number; self: number; machineBusyPct: number; wallSeconds: number };
}

/** Starts measuring CPU use of `pids` (by name), the backing services, this process, and the whole machine. */
export function cpuWindow(pids: Record<string, number>): CpuWindow {
  const start = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const servicesStart = cpuByName(BACKING_SERVICES);
  const self = process.cpuUsage();
  const machine = machineTicks();
  const started = performance.now();
  return {
    end() {
      const perProcess = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid) - start[name]!]));
      let services = 0;
      // Processes that started during the window count whole; ones that ended are missed.
      for (const [pid, seconds] of cpuByName(BACKING_SERVICES)) services += seconds - (servicesStart.get(pid) ?? 0);
      const used = process.cpuUsage(self);
      const now = machineTicks();
      return {
        perProcess,
        services,
        self: (used.user + used.system) / 1e6,
        machineBusyPct: (100 * (now.busy - machine.busy)) / Math.max(1, now.total - machine.total),
        wallSeconds: (performance.now() - started) / 1000,
      };
    },
  };
}

/**
 * Waits until the 1-minute load average is below `threshold` (checked every 10 s), at most
 * `maxMinutes`. Returns the load average it stopped at.
 */
export async function waitForQuiet(threshold: number, maxMinutes: number, log: (line: string) => void): Promise<string> {
  const deadline = Date.now() + maxMinutes * 60_000;
  let announced = false;
  while (loadavg()[0]! >= threshold && Date.now() < deadline) {
    if (!announced) log(`waiting for the 1-min load average to drop below ${threshold} (now ${loadAverages()}; at most ${maxMinutes} min)`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
  return loadAverages();
}
