import { assertScanningConfigured, buildContainer } from '../composition-root.js';
import type { Settings } from '../config.js';
import { ConfigError, describeError } from '../errors.js';
import { createLogger } from '../logger.js';

/**
 * `customify worker`: BullMQ render workers in their own process. Run as many as the load
 * needs, on as many machines; each takes RENDER_CONCURRENCY render jobs at a time, and
 * PRINT_CONCURRENCY print jobs from the print queue beside them. Owns its
 * process concerns: signals and graceful shutdown (running jobs finish; BullMQ hands back
 * what could not).
 */
export async function runWorker(settings: Readonly<Settings>): Promise<void> {
  if (!settings.redisUrl) throw new ConfigError('customify worker needs REDIS_URL (e.g. redis://127.0.0.1:6379). Without Redis, `customify serve` renders in-process.', 'REDIS_URL');
  assertScanningConfigured(settings);
  const logger = createLogger(settings, 'worker');
  const container = await buildContainer(settings, { logger, role: 'worker' });
  await container.startBackground();
  // Signal handlers before the "ready" line: whoever reads it may signal at once.
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info(`${signal}: finishing running renders, then exiting`);
      container.close().then(resolve, (error: unknown) => {
        logger.error(`Shutdown failed: ${describeError(error)}`);
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info({
    queue: settings.renderQueueName, concurrency: settings.renderConcurrency,
    printQueue: `${settings.renderQueueName}-print`, printConcurrency: settings.printConcurrency, storage: container.storage.storage.kind,
  }, 'Render worker ready');
  await stopped;
}
