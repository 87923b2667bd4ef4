import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * One compact access-log line per request instead of Fastify's two ("incoming request" with
 * the serialised request, then "request completed"): on a small read, pino's serialisers and
 * the second line cost more than the database. Every line carries `request_id` (the child
 * logger's binding, also sent as X-Request-Id). A response stream that failed is still logged
 * at error, and Fastify's other lines (stream errors, serializer failures) are untouched; 5xx
 * answers are also logged at error with their cause by the error handler.
 */
export class RequestLogController extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'request_id' });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime, remoteAddress: request.ip };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

/**
 * A request the client gave up on before the answer (closed mid-body, or timed out waiting)
 * never completes, so without this it would leave no line at all.
 */
export function logAbortedRequests(app: FastifyInstance): void {
  // eslint-disable-next-line @typescript-eslint/require-await -- a Fastify hook without `done` must return a promise, or the request waits for ever.
  app.addHook('onRequestAbort', async (request) => {
    request.log.info({ method: request.method, url: request.url, remoteAddress: request.ip }, 'request aborted by the client');
  });
}
