import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, type ErrorCode } from '../error-codes.js';
import { ValidationError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { errorBody } from './error-handler.js';

/**
 * Errors that happen before Fastify has a request: Node's HTTP parser refusing the bytes
 * (malformed request line or headers, headers over the size limit, conflicting
 * Content-Length) and the server's request timeout. Node emits them as 'clientError' on
 * the server with the raw socket; this answers them in the API's error shape instead of
 * Fastify's `{ error, message, statusCode }`, then closes the connection (the stream is out
 * of step after a parse error, and a timed-out client is not waited for).
 */
export function createClientErrorHandler(metrics: Metrics, options: { requestTimeoutMs: number }) {
  return function handleClientError(this: FastifyInstance, error: NodeJS.ErrnoException & { reason?: string }, socket: Socket): void {
    // A reset connection has nobody to answer (Node's own rule, https://nodejs.org/api/http.html#event-clienterror).
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { code, message } = describeClientError(error, options.requestTimeoutMs);
    const status = ERROR_CODES[code].status;
    metrics.errors.inc({ code });
    this.log.info({ code, err_code: error.code, remoteAddress: socket.remoteAddress }, `Connection refused with ${status}: ${message}`);
    // A response already on its way cannot be replaced; only close then.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify(errorBody({ code, message }));
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          'Content-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          'X-Content-Type-Options: nosniff\r\n' +
          'Connection: close\r\n\r\n' +
          body,
      );
    }
    // end() flushes the answer first; destroy whatever is left after a grace period.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}

function describeClientError(error: NodeJS.ErrnoException & { reason?: string }, requestTimeoutMs: number): { code: ErrorCode; message: string } {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'REQUEST_TIMEOUT', message: `The request did not arrive in full within ${requestTimeoutMs / 1000} s; send it again, faster.` };
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'HEADERS_TOO_LARGE', message: 'The request line and headers are larger than the server accepts (16 KB); send shorter headers or a shorter URL.' };
    default: {
      const reason = error.reason ?? error.message;
      return { code: 'BAD_REQUEST', message: `The request is not valid HTTP/1.1 (${reason}).` };
    }
  }
}

/**
 * Headers that must appear once. Node keeps only the first Authorization, Content-Type or
 * Host of a request and drops the rest without saying so; a proxy in front may have picked
 * another, so two of them are refused rather than guessed between.
 */
const SINGLE_HEADERS = new Set(['authorization', 'content-type', 'content-length', 'host']);

/** onRequest hook: 400 DUPLICATE_HEADER naming the header sent more than once. */
// eslint-disable-next-line @typescript-eslint/require-await -- a Fastify hook without `done` must return a promise, or the request waits for ever.
export async function refuseDuplicateHeaders(request: FastifyRequest): Promise<void> {
  const raw = request.raw.rawHeaders;
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!SINGLE_HEADERS.has(name)) continue;
    if (seen.has(name)) throw new ValidationError('DUPLICATE_HEADER', `The ${name} header was sent more than once; send it once.`, name);
    seen.add(name);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * The body as text, refusing bytes that are not UTF-8 (RFC 8259: JSON exchanged between
 * systems is UTF-8): decoding them with replacement characters would store U+FFFD in place of
 * what the client meant.
 */
export function decodeUtf8Body(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch (error) {
    const at = firstInvalidUtf8Byte(body);
    throw new ValidationError('INVALID_UTF8', `The body is not valid UTF-8 (invalid byte at offset ${at}); send JSON encoded as UTF-8.`, 'body', { cause: error });
  }
}

function firstInvalidUtf8Byte(body: Buffer): number {
  // Character by character: the offset of the first lead byte whose sequence does not decode.
  for (let i = 0; i < body.length; ) {
    const b = body[i]!;
    const length = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (length === 0 || i + length > body.length) return i;
    try {
      utf8.decode(body.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return body.length;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * The methods `path` has, for a 405's Allow header; empty when no route matches it at all.
 * OPTIONS is left out: its route matches every path but answers only CORS preflights.
 */
export function allowedMethods(app: FastifyInstance, path: string): string[] {
  return METHODS.filter((method) => app.findRoute({ method, url: path }) !== null);
}

/** Answers 405 with Allow when the path exists under other methods; returns false when it does not. */
export function replyMethodNotAllowed(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, metrics: Metrics): boolean {
  const path = request.url.split('?')[0]!;
  const allowed = allowedMethods(app, path);
  if (allowed.length === 0) return false;
  metrics.errors.inc({ code: 'METHOD_NOT_ALLOWED' });
  void reply
    .code(405)
    .header('allow', allowed.join(', '))
    .type('application/json; charset=utf-8')
    .send(errorBody({ code: 'METHOD_NOT_ALLOWED', message: `${request.method} is not allowed on ${path.slice(0, 200)}; it allows ${allowed.join(', ')}.` }, request.id));
  return true;
}
