import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { formatDuration } from '../shared/duration.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads its body itself under UPLOAD_TIMEOUT (cutSlowUpload), not REQUEST_TIMEOUT. */
    uploadBody?: boolean;
  }
}

export interface BodyTimer {
  /** Also run `abort` when the time is up (to end a stream the request feeds, such as a multipart part). */
  onCut(abort: (error: AppError) => void): void;
  /** Throws the timeout error (and marks the reply to close the connection) if the time ran out. */
  check(reply: FastifyReply): void;
  clear(): void;
}

export function uploadTimeout(timeoutMs: number): AppError {
  return new AppError('UPLOAD_TIMEOUT', `The upload did not arrive within UPLOAD_TIMEOUT (${formatDuration(timeoutMs)}): send it again over a faster connection, or use resumable uploads (/api/v1/uploads/tus) and resume.`, { field: 'file' });
}

function requestTimeout(timeoutMs: number): AppError {
  return new AppError('REQUEST_TIMEOUT', `The request did not arrive in full within ${timeoutMs / 1000} s; send it again, faster.`);
}

/**
 * Cuts a request whose body is still arriving after `timeoutMs`: the body stream fails with
 * `error`, as a dropped connection would, so whoever reads it stops and cleans up (the upload
 * service removes the staged bytes; the tus server keeps what arrived, for a resume), and the
 * route answers the error (408) in the API's shape, then closes the connection. The socket is
 * not destroyed, so the answer reaches the client.
 */
export function cutSlowBody(request: FastifyRequest, timeoutMs: number, error: () => AppError): BodyTimer {
  const raw = request.raw;
  const aborts: Array<(error: AppError) => void> = [];
  let cut: AppError | undefined;
  const timer = setTimeout(() => {
    if (raw.complete) return;
    cut = error();
    // A reader that already stopped listening must not turn this into an uncaught error.
    raw.on('error', () => undefined);
    raw.emit('error', cut);
    // Readers that turned the request into a web stream (the tus server) have closed it now,
    // but their 'data' listener stays: a byte still trickling in would be enqueued on a closed
    // controller and throw outside any handler. Detach every reader and let what arrives drop.
    raw.removeAllListeners('data');
    raw.resume();
    for (const abort of aborts) abort(cut);
  }, timeoutMs);
  timer.unref();
  return {
    onCut: (abort) => void aborts.push(abort),
    check(reply) {
      if (!cut) return;
      reply.header('connection', 'close');
      throw cut;
    },
    clear: () => clearTimeout(timer),
  };
}

/** UPLOAD_TIMEOUT for one upload request (POST /api/v1/uploads, a tus POST or PATCH). */
export function cutSlowUpload(request: FastifyRequest, timeoutMs: number): BodyTimer {
  return cutSlowBody(request, timeoutMs, () => uploadTimeout(timeoutMs));
}

/**
 * When uploads may take longer than REQUEST_TIMEOUT, Node's own request timeout is raised to
 * UPLOAD_TIMEOUT (it cannot differ by route), and every other request's body is held to
 * REQUEST_TIMEOUT here instead: 408 in the same shape, the connection closed.
 */
export function holdBodiesToRequestTimeout(app: FastifyInstance, requestTimeoutMs: number): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config?.uploadBody || request.raw.complete) return done();
    const timer = cutSlowBody(request, requestTimeoutMs, () => requestTimeout(requestTimeoutMs));
    timer.onCut(() => void reply.header('connection', 'close'));
    const clear = () => timer.clear();
    reply.raw.once('finish', clear);
    reply.raw.once('close', clear);
    done();
  });
}
