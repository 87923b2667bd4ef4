import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { PrintDesignTask } from '../../src/jobs/print-design.task.js';
import { Metrics } from '../../src/metrics.js';

/** One sample line of the metrics text, e.g. `customify_print_jobs_total{outcome="ready"}`. */
async function sample(metrics: Metrics, series: string): Promise<number | undefined> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Metrics.observePrints', () => {
  const unavailable = new AppError('STORAGE_UNAVAILABLE', 'storage down', { retryable: true });
  const failed = new AppError('PRINT_FAILED', 'text too large', { retryable: false });

  it('counts and times each run by outcome: ready, skipped, retry (the queue will try again), failed (it will not)', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const outcomes: Array<() => ReturnType<PrintDesignTask>> = [
      () => Promise.resolve({ status: 'READY', pdfKey: 'designs/a/print.pdf', pngKey: 'designs/a/print.png' }),
      () => Promise.resolve({ status: 'SKIPPED', reason: 'busy' }),
      () => Promise.reject(unavailable),
      () => Promise.reject(failed),
    ];
    let next = 0;
    const task = metrics.observePrints(() => outcomes[next++]!());
    await expect(task('a', { attempt: 1, maxAttempts: 4 })).resolves.toMatchObject({ status: 'READY' });
    await expect(task('a', { attempt: 1, maxAttempts: 4 })).resolves.toMatchObject({ status: 'SKIPPED' });
    await expect(task('a', { attempt: 1, maxAttempts: 4 })).rejects.toBe(unavailable);
    await expect(task('a', { attempt: 1, maxAttempts: 4 })).rejects.toBe(failed);
    for (const outcome of ['ready', 'skipped', 'retry', 'failed']) {
      expect(await sample(metrics, `customify_print_jobs_total{outcome="${outcome}"}`), outcome).toBe(1);
      expect(await sample(metrics, `customify_print_duration_seconds_count{outcome="${outcome}"}`), outcome).toBe(1);
    }
  });

  it('a retryable error on the last attempt is a failure: nothing will retry it', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const task = metrics.observePrints(() => Promise.reject(unavailable));
    await expect(task('a', { attempt: 4, maxAttempts: 4 })).rejects.toBe(unavailable);
    expect(await sample(metrics, 'customify_print_jobs_total{outcome="failed"}')).toBe(1);
    expect(await sample(metrics, 'customify_print_jobs_total{outcome="retry"}')).toBeUndefined();
  });

  it('each queue given has its depth gauge; one that cannot be read shows -1', async () => {
    const metrics = new Metrics({ defaultMetrics: false, queueDepths: { render: () => Promise.resolve(3), print: () => Promise.resolve(2), uploads: () => Promise.reject(new Error('redis down')) } });
    expect(await sample(metrics, 'customify_render_queue_depth')).toBe(3);
    expect(await sample(metrics, 'customify_print_queue_depth')).toBe(2);
    expect(await sample(metrics, 'customify_upload_queue_depth')).toBe(-1);
  });
});
