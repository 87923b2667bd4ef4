import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';

async function sample(metrics: Metrics, series: string): Promise<number | undefined> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Metrics.cdnObserver', () => {
  it('counts requests by outcome and the paths CloudFront accepted', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.cdnObserver.sent(50);
    metrics.cdnObserver.sent(3);
    metrics.cdnObserver.failed();
    expect(await sample(metrics, 'customify_cdn_invalidation_requests_total{outcome="sent"}')).toBe(2);
    expect(await sample(metrics, 'customify_cdn_invalidation_requests_total{outcome="failed"}')).toBe(1);
    expect(await sample(metrics, 'customify_cdn_invalidation_paths_total')).toBe(53);
  });

  it('shows the backlog gauge once an invalidator gives its reader (the latest one), -1 when it cannot be read', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    expect(await sample(metrics, 'customify_cdn_invalidation_backlog')).toBeUndefined();
    metrics.cdnObserver.backlog(() => Promise.resolve(7));
    expect(await sample(metrics, 'customify_cdn_invalidation_backlog')).toBe(7);
    metrics.cdnObserver.backlog(() => Promise.resolve(2));
    expect(await sample(metrics, 'customify_cdn_invalidation_backlog')).toBe(2);
    metrics.cdnObserver.backlog(() => Promise.reject(new Error('database down')));
    expect(await sample(metrics, 'customify_cdn_invalidation_backlog')).toBe(-1);
  });
});
