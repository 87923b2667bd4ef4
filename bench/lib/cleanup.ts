/**
 * Cleanup that also runs when a benchmark is interrupted. Benchmarks clean up in their own
 * `finally` blocks; each resource is also registered here, so Ctrl-C (SIGINT/SIGTERM) still
 * kills child processes and drops databases, queues, buckets and temp folders. A process
 * that is killed outright (SIGKILL) cannot clean up: its children are killed by pid on
 * 'exit' at least, synchronously.
 */
type Cleanup = () => Promise<void> | void;

const cleanups = new Map<number, { label: string; run: Cleanup }>();
const childPids = new Set<number>();
let nextId = 0;
let installed = false;

/** Registers `run`; call the returned function to run it now (once) and unregister it. */
export function deferCleanup(label: string, run: Cleanup): () => Promise<void> {
  install();
  const id = nextId++;
  cleanups.set(id, { label, run });
  return async () => {
    const entry = cleanups.get(id);
    if (!entry) return;
    cleanups.delete(id);
    await entry.run();
  };
}

/** A child process to SIGKILL if this process exits while it still runs. */
export function trackChild(pid: number): () => void {
  install();
  childPids.add(pid);
  return () => childPids.delete(pid);
}

/** Runs every registered cleanup, newest first; reports failures and carries on. */
export async function runAllCleanups(): Promise<void> {
  const entries = [...cleanups.entries()].reverse();
  cleanups.clear();
  for (const [, entry] of entries) {
    try {
      await entry.run();
    } catch (error) {
      console.error(`cleanup "${entry.label}" failed: ${(error as Error).message}`);
    }
  }
}

function killChildren(): void {
  for (const pid of childPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  childPids.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', killChildren);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      killChildren();
      process.exit(130);
    }
    stopping = true;
    console.error(`\n${signal}: cleaning up (child processes, databases, queues, buckets, temp folders); again to force`);
    // Requests in flight now fail as the services stop; the cleanup must outlive those errors.
    const ignore = (error: unknown) => console.error(`(while cleaning up) ${(error as Error)?.message ?? String(error)}`);
    process.on('uncaughtException', ignore);
    process.on('unhandledRejection', ignore);
    void runAllCleanups().finally(() => {
      killChildren();
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
