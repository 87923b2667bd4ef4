import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';

/**
 * `GET /metrics` in Prometheus text format, and per-request counters and durations. The
 * route label is the route pattern (`/api/v1/designs/:id`), never the raw URL, so label
 * values stay few; requests that matched no route count as `unmatched`.
 */
export function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}

// eslint-disable-next-line @typescript-eslint/require-await -- Fastify takes a plugin without `done` as promise-style only if it returns a promise.
export async function metricsRoutes(app: FastifyInstance, options: { metrics: Metrics }): Promise<void> {
  const { registry } = options.metrics;
  const text = { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } };
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['health'], response: { 200: text } } }, async (_request, reply) => {
    return reply.header('cache-control', 'no-store').type(registry.contentType).send(await registry.metrics());
  });
}
