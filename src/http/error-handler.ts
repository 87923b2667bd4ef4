import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, isErrorCode, type ErrorCode } from '../error-codes.js';
import { AppError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { replyMethodNotAllowed } from './client-errors.js';
import { FIELD_ERROR_CODES, FIELD_ERROR_MESSAGES, KEYWORD_ERROR_CODES } from './schemas.js';

/**
 * The one place errors become HTTP responses. Modules below the HTTP layer throw coded
 * errors and know nothing of status codes; this maps each code to a status, answers
 * `{ error: { code, message, field?, request_id } }`, and for any 5xx hides the internal
 * message (logged with the error and the request id instead).
 */

export interface ErrorBody {
  error: { code: string; message: string; field?: string; request_id?: string };
}

export interface HttpError {
  status: number;
  code: string;
  message: string;
  field?: string;
  headers?: Record<string, string>;
}

const GENERIC_500 = 'Internal server error. It has been logged; quote the request id if you report it.';
const GENERIC_503 = 'A service this request needs is temporarily unavailable; retry shortly.';

/**
 * The status a domain error code answers with: its entry in ERROR_CODES. A code that is not
 * registered cannot be thrown by typed code; should one arrive anyway (a value from outside),
 * it is a 5xx: 503 if retrying can help, else 500.
 */
export function statusForCode(code: string, error?: AppError): number {
  if (isErrorCode(code)) return ERROR_CODES[code].status;
  return error?.retryable ? 503 : 500;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  /**
   * The schema object the failing keyword belongs to (ajv's `verbose` option, set in app.ts).
   * `verbose` also puts the request's value on each error (`data`): never log these errors whole.
   */
  parentSchema?: { properties?: Record<string, unknown> };
}

/** `/design_data/color` → `design_data.color`; JSON pointer escapes undone. */
function dottedPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.');
}

/** The first ajv error of a Fastify validation failure, as a coded error naming the field. */
export function fromSchemaError(errors: readonly AjvError[], context: string | undefined): HttpError {
  const first = errors[0];
  if (!first) return { status: 400, code: 'VALIDATION_FAILED', message: 'The request is not valid.' };
  let field = dottedPath(first.instancePath);
  const child =
    first.keyword === 'required' ? first.params.missingProperty : first.keyword === 'additionalProperties' ? first.params.additionalProperty : undefined;
  if (typeof child === 'string') field = field ? `${field}.${child}` : child;
  const code = FIELD_ERROR_CODES[field]?.[first.keyword] ?? KEYWORD_ERROR_CODES[first.keyword] ?? 'VALIDATION_FAILED';
  const where = field || (context === 'body' ? 'body' : (context ?? 'request'));
  let message: string;
  switch (first.keyword) {
    case 'required':
      message = `${where} is required.`;
      break;
    case 'additionalProperties': {
      const known = Object.keys(first.parentSchema?.properties ?? {});
      const parent = dottedPath(first.instancePath) || `the ${context === 'querystring' ? 'query string' : (context ?? 'request')}`;
      message = `${where} is not a known field; remove it${known.length ? ` (known fields of ${parent}: ${known.join(', ')})` : ''}.`;
      break;
    }
    case 'enum':
      message = `${where} must be one of: ${(first.params.allowedValues as unknown[] | undefined)?.join(', ') ?? '(see the API docs)'}.`;
      break;
    case 'pattern':
    case 'type':
      message = FIELD_ERROR_MESSAGES[field] ?? (code === 'INVALID_COLOR' ? `${where} must be a hex colour like #FF0000 or #F00.` : first.keyword === 'type' ? `${where} ${first.message ?? 'has the wrong type'}.` : `${where} has an invalid format.`);
      break;
    default:
      message = `${where} ${first.message ?? 'is invalid'}.`;
  }
  return { status: 400, code, message, field: where };
}

/** Fastify's own errors (body parsing, content type, URL) that a client caused. */
const FASTIFY_CODES: Record<string, { status: number; code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than the route\'s limit (64 KB; 1 MB for POST /api/v1/designs/batch).' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the body as JSON with Content-Type: application/json.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_CONTENT_LENGTH', message: 'Content-Length does not match the body.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON', message: 'The body is not valid JSON.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON', message: 'The body is empty but Content-Type is application/json.' },
  FST_ERR_BAD_URL: { status: 400, code: 'INVALID_URL', message: 'The URL is not valid (bad percent-encoding).' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'URI_TOO_LONG', message: 'A path parameter is too long.' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'BAD_REQUEST' },
};

/** For other client errors Fastify raises: the registered code of their status. */
const CODE_FOR_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST', 404: 'ROUTE_NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE', 414: 'URI_TOO_LONG', 415: 'UNSUPPORTED_MEDIA_TYPE', 431: 'HEADERS_TOO_LARGE',
};

/** Any thrown value → status, stable code, a message safe to show. */
export function toHttpError(error: unknown): HttpError {
  const fastifyError = error as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (Array.isArray(fastifyError.validation)) return fromSchemaError(fastifyError.validation, fastifyError.validationContext);
  if (error instanceof AppError) {
    const status = statusForCode(error.code, error);
    const headers: Record<string, string> = {};
    if (status === 401) headers['www-authenticate'] = 'Bearer realm="customify"';
    if (status === 503) headers['retry-after'] = '5';
    if (status >= 500) return { status, code: status === 503 ? error.code : 'INTERNAL_ERROR', message: status === 503 ? GENERIC_503 : GENERIC_500, headers };
    return { status, code: error.code, message: error.message, field: error.field, headers };
  }
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return { status: known.status, code: known.code, message: known.message ?? fastifyError.message ?? 'Bad request.' };
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) return { status: 400, code: 'INVALID_JSON', message: 'The body is not valid JSON.' };
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, code: CODE_FOR_STATUS[status] ?? 'BAD_REQUEST', message: fastifyError.message ?? 'Bad request.' };
  }
  if (status === 503) return { status: 503, code: 'SERVICE_UNAVAILABLE', message: GENERIC_503 };
  return { status: 500, code: 'INTERNAL_ERROR', message: GENERIC_500 };
}

export function errorBody(error: Omit<HttpError, 'status' | 'headers'>, requestId?: string): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.field ? { field: error.field } : {}),
      ...(requestId ? { request_id: requestId } : {}),
    },
  };
}

export type ErrorReplier = (error: unknown, request: FastifyRequest, reply: FastifyReply) => void;

/**
 * Answers any error: status and body from toHttpError, counted in `metrics.errors` by code,
 * 5xx logged with the error (4xx at info, without it). Also used for Fastify's router
 * errors (bad percent-encoding, over-long parameters), which skip the error handler.
 */
export function createErrorReplier(metrics: Metrics): ErrorReplier {
  return (error, request, reply) => {
    const mapped = toHttpError(error);
    metrics.errors.inc({ code: mapped.code });
    if (mapped.status >= 500) {
      request.log.error({ err: error, code: mapped.code }, `Request failed with ${mapped.status}`);
    } else {
      request.log.info({ code: mapped.code, field: mapped.field }, `Request refused with ${mapped.status}: ${mapped.message}`);
    }
    if (mapped.status === 401 && request.headers.authorization) {
      mapped.headers = { ...mapped.headers, 'www-authenticate': 'Bearer realm="customify", error="invalid_token"' };
    }
    void reply
      .code(mapped.status)
      .headers({ 'x-content-type-options': 'nosniff', 'x-request-id': request.id, ...mapped.headers })
      .type('application/json; charset=utf-8')
      .send(errorBody(mapped, request.id));
  };
}

/** Installs the error and not-found handlers on `app` (the root, so every route shares them). */
export function installErrorHandlers(app: FastifyInstance, metrics: Metrics, replier: ErrorReplier = createErrorReplier(metrics)): void {
  app.setErrorHandler(replier);

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    // A path that exists under other methods is 405 with Allow, not 404.
    if (replyMethodNotAllowed(app, request, reply, metrics)) return;
    metrics.errors.inc({ code: 'ROUTE_NOT_FOUND' });
    void reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(errorBody({ code: 'ROUTE_NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}; see /docs for the API.` }, request.id));
  });
}
