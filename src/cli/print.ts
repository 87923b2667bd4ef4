import { buildContainer, type Container } from '../composition-root.js';
import type { Settings } from '../config.js';
import type { DesignView } from '../designs/design-service.js';
import { AppError } from '../errors.js';
import { InProcessRenderQueue } from '../jobs/in-process.queue.js';
import { silentLogger } from '../logger.js';

export interface PrintCommandOptions {
  /** With REDIS_URL: wait for the workers' outcome. Without, the command always waits (it does the work). */
  wait: boolean;
  /** How often to look at the design while waiting for workers. */
  pollMs?: number;
}

/**
 * `customify print DESIGN_ID`: the use case behind `POST /api/v1/designs/{id}/print-files`,
 * against the configured database, storage and queue, for any owner's design.
 *
 * - With REDIS_URL the job goes on the print queue for `customify worker` processes; with
 *   `--wait` the command waits for READY or FAILED.
 * - Without REDIS_URL there are no workers to hand it to (the embedded queue lives inside
 *   `customify serve`), so the command runs the print job itself, on its own in-process
 *   print queue (same retries), and waits for it.
 *
 * Prints the design's print status and, once READY, where the files are. Exit 0 when queued
 * or READY; AppError (exit 1) for an unknown design (DESIGN_NOT_FOUND), one that is not
 * PUBLISHED (PRINT_NOT_AVAILABLE) or a print that FAILED (PRINT_FAILED, with its message).
 */
export async function printCommand(settings: Readonly<Settings>, designId: string, options: PrintCommandOptions, print: (line: string) => void): Promise<number> {
  const container = await buildContainer(settings, { logger: silentLogger, role: 'cli' });
  try {
    await container.startBackground();
    let view = await container.service.requestPrint(undefined, designId);
    const inProcess = container.printQueue instanceof InProcessRenderQueue ? container.printQueue : undefined;
    if (view.print_status === 'PENDING' && !inProcess && !options.wait) {
      print(`Design ${view.id}: print files queued (print_status PENDING); customify worker makes them. GET /api/v1/designs/${view.id} shows print_status and, once READY, the URLs.`);
      return 0;
    }
    if (view.print_status === 'PENDING') {
      if (inProcess) await inProcess.drain();
      view = await settled(container, view.id, options.pollMs ?? 200);
    }
    return report(view, print);
  } finally {
    await container.close();
  }
}

async function settled(container: Container, id: string, pollMs: number): Promise<DesignView> {
  for (;;) {
    const design = await container.designs.findById(id);
    if (!design) throw new AppError('DESIGN_NOT_FOUND', `Design ${id} was deleted while its print files were being made.`, { field: 'id' });
    if (design.print.status !== 'PENDING') return container.service.view(design);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

function report(view: DesignView, print: (line: string) => void): number {
  if (view.print_status === 'FAILED') {
    throw new AppError('PRINT_FAILED', `Design ${view.id}: print files FAILED: ${view.print_message ?? 'no reason recorded'}`, { field: 'print_status' });
  }
  print(`Design ${view.id}: print_status ${view.print_status}`);
  if (view.print_pdf_url) print(`print.pdf: ${view.print_pdf_url}`);
  if (view.print_png_url) print(`print.png: ${view.print_png_url}`);
  for (const warning of view.print_warnings) print(`Warning (${warning.field}): ${warning.message}`);
  return 0;
}
