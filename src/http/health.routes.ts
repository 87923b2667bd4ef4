import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import { withTimeout } from '../shared/timeout.js';

/** A readiness check: resolves when the dependency answers, throws otherwise. */
export type HealthCheck = () => Promise<void>;

export interface HealthOptions {
  /** By name: database, queue, storage. */
  checks: Record<string, HealthCheck>;
  /** Said in every /readyz answer without failing it (e.g. virus scanning disabled). */
  notes?: string[];
  /** Per check; a check that takes longer fails. Default 2000 ms. */
  timeoutMs?: number;
}

interface CheckResult {
  status: 'ok' | 'failing';
  duration_ms: number;
  /** A stable code (the error's, or TIMEOUT / CHECK_FAILED); details go to the log only. */
  error?: string;
}

const checkResult = {
  type: 'object',
  properties: { status: { type: 'string' }, duration_ms: { type: 'number' }, error: { type: 'string' } },
} as const;

const readyResponse = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    failing: { type: 'array', items: { type: 'string' } },
    notes: { type: 'array', items: { type: 'string' } },
    checks: { type: 'object', additionalProperties: checkResult },
  },
} as const;

class CheckTimeout extends Error {}

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<void> {
  await withTimeout(check(), timeoutMs, () => new CheckTimeout(`did not answer within ${timeoutMs} ms`));
}

/**
 * `/healthz`: the process is up (liveness; checks nothing else, so a slow database never
 * gets the process restarted). `/readyz`: every dependency answers, each within its
 * timeout (readiness); 503 names the failing ones.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify takes a plugin without `done` as promise-style only if it returns a promise.
export async function healthRoutes(app: FastifyInstance, options: HealthOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 2000;

  app.get('/healthz', {
    schema: { summary: 'Liveness', tags: ['health'], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  app.get('/readyz', {
    schema: { summary: 'Readiness: database, queue and storage answer', tags: ['health'], response: { 200: readyResponse, 503: readyResponse } },
  }, async (request, reply) => {
    const entries = Object.entries(options.checks);
    const results = await Promise.all(
      entries.map(async ([name, check]): Promise<[string, CheckResult]> => {
        const started = performance.now();
        try {
          await runCheck(check, timeoutMs);
          return [name, { status: 'ok', duration_ms: Math.round(performance.now() - started) }];
        } catch (error) {
          request.log.warn({ err: error, check: name }, `Readiness check ${name} failed`);
          const code = error instanceof CheckTimeout ? 'TIMEOUT' : error instanceof AppError ? error.code : 'CHECK_FAILED';
          return [name, { status: 'failing', duration_ms: Math.round(performance.now() - started), error: code }];
        }
      }),
    );
    const failing = results.filter(([, r]) => r.status === 'failing').map(([name]) => name);
    reply.header('cache-control', 'no-store');
    return reply.code(failing.length ? 503 : 200).send({
      status: failing.length ? 'unavailable' : 'ok',
      ...(failing.length ? { failing } : {}),
      ...(options.notes?.length ? { notes: options.notes } : {}),
      checks: Object.fromEntries(results),
    });
  });
}
