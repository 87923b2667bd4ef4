import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import { payloadTooLarge } from '../uploads/upload-service.js';
import { cutSlowUpload } from './upload-timeout.js';

/**
 * How a route takes a file (POST /api/v1/uploads, PUT /api/v1/users/me/avatar): the raw bytes
 * with an image/* or application/octet-stream Content-Type, or multipart/form-data with a
 * `file` field. Never parsed in memory: the handler gets the request stream or the part's
 * stream, which the upload service streams to staging and cuts at the limit.
 */
export interface BodyLimit {
  maxBytes: number;
  /** The setting that sets it, named in the 413 message. */
  variable: string;
  /** UPLOAD_TIMEOUT: the whole body must arrive within it (408, staged bytes removed). */
  timeoutMs: number;
}

// Matched against the whole header, parameters included (`image/svg+xml; charset=utf-8`).
const RAW_TYPES = /^(image\/[a-z0-9.+-]+|application\/octet-stream)\s*(;.*)?$/i;
// Multipart framing around the file: a Content-Length a little over the limit may still hold a file within it.
const MULTIPART_SLACK_BYTES = 64 * 1024;

function unsupportedMediaType(): AppError {
  return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the file as raw bytes with an image/* or application/octet-stream Content-Type, or as multipart/form-data with a `file` field.', { field: 'content-type' });
}

/** Registers the body parsers on `scope` (a plugin: the rest of the API stays JSON-only). */
export async function acceptFileBodies(scope: FastifyInstance, limit: BodyLimit): Promise<void> {
  await scope.register(multipart, { limits: { files: 1, fields: 10, fileSize: limit.maxBytes + 1, fieldSize: 1024, parts: 20 } });
  scope.addContentTypeParser(RAW_TYPES, (_request, payload, done) => done(null, payload));
  scope.addContentTypeParser('*', (_request, _payload, done) => done(unsupportedMediaType(), undefined));
}

/** An onRequest hook: a declared Content-Length over the limit is refused before a byte of the body is read, and the connection closes. */
export function refuseDeclaredOversize(limit: BodyLimit) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit.maxBytes + MULTIPART_SLACK_BYTES) {
      reply.header('connection', 'close');
      throw payloadTooLarge(limit.maxBytes, limit.variable);
    }
  };
}

/**
 * Hands the file's stream (and its multipart name) to `receive`. Throws UPLOAD_FILE_REQUIRED for a
 * multipart body without `file`, UNSUPPORTED_MEDIA_TYPE, PAYLOAD_TOO_LARGE and UPLOAD_TIMEOUT (both
 * closing the connection). The route must be marked `config: { uploadBody: true }` so that its body
 * is held to UPLOAD_TIMEOUT here rather than to REQUEST_TIMEOUT.
 */
export async function receiveFileBody<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  limit: BodyLimit,
  receive: (body: Readable, filename: string | null) => Promise<T>,
): Promise<T> {
  const timer = cutSlowUpload(request, limit.timeoutMs);
  try {
    if (request.isMultipart()) {
      const part = await request.file();
      if (!part) throw new AppError('UPLOAD_FILE_REQUIRED', 'The multipart body has no file: send it as the `file` field (curl -F file=@photo.jpg).', { field: 'file' });
      if (part.fieldname !== 'file') throw new AppError('UPLOAD_FILE_REQUIRED', `The file was sent as the "${part.fieldname}" field: send it as the \`file\` field.`, { field: 'file' });
      timer.onCut((error) => part.file.destroy(error));
      return await receive(part.file, part.filename);
    }
    const body = request.body;
    if (body !== undefined && !(body instanceof Readable)) throw unsupportedMediaType();
    return await receive(body ?? Readable.from([]), null);
  } catch (error) {
    timer.check(reply);
    if ((error as { code?: unknown } | null)?.code === 'FST_REQ_FILE_TOO_LARGE') throw payloadTooLarge(limit.maxBytes, limit.variable);
    if (error instanceof AppError && error.code === 'PAYLOAD_TOO_LARGE') reply.header('connection', 'close');
    throw error;
  } finally {
    timer.clear();
  }
}
