import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import type { TokenVerifier } from '../auth/jwt.js';
import { AppError } from '../errors.js';
import { payloadTooLarge, type UploadService } from '../uploads/upload-service.js';
import { requireBearerAuth } from './auth.js';
import { errorResponse } from './schemas.js';
import { listUploadsQuery, uploadIdParams, uploadList, uploadRequestBody, uploadView } from './upload-schemas.js';

export interface UploadRoutesOptions {
  uploads: UploadService;
  verifyToken: TokenVerifier;
}

interface IdParams { id: string }
interface ListQuery { limit?: string; cursor?: string }

const security = [{ bearerAuth: [] }];
const tags = ['uploads'];
const errors = { 400: errorResponse, 401: errorResponse, 404: errorResponse, 500: errorResponse, 503: errorResponse } as const;
// Matched against the whole header, parameters included (`image/svg+xml; charset=utf-8`).
const RAW_TYPES = /^(image\/[a-z0-9.+-]+|application\/octet-stream)\s*(;.*)?$/i;

function unsupportedMediaType(): AppError {
  return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the file as raw bytes with an image/* or application/octet-stream Content-Type, or as multipart/form-data with a `file` field.', { field: 'content-type' });
}

/**
 * `/api/v1/uploads`: user uploads (issue #11), behind the same Bearer auth as designs; someone
 * else's upload is "not found". The body is never parsed in memory: raw bodies reach the
 * handler as the request stream, multipart files as their part stream, and both are streamed
 * to staging by the service, which cuts them at UPLOAD_MAX_BYTES.
 */
export async function uploadRoutes(app: FastifyInstance, options: UploadRoutesOptions): Promise<void> {
  const { uploads } = options;
  requireBearerAuth(app, options.verifyToken);
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  // Scoped to this plugin: the rest of the API stays JSON-only.
  await app.register(multipart, { limits: { files: 1, fields: 10, fileSize: uploads.maxBytes + 1, fieldSize: 1024, parts: 20 } });
  app.addContentTypeParser(RAW_TYPES, (_request, payload, done) => done(null, payload));
  app.addContentTypeParser('*', (_request, _payload, done) => done(unsupportedMediaType(), undefined));

  app.post('/uploads', {
    schema: {
      summary: 'Upload an image (raw bytes or multipart `file`); it is scanned and re-encoded in the background',
      description: 'Answers 201 with the upload RECEIVED; poll GET /api/v1/uploads/{id} until PUBLISHED (then `url`) or REJECTED (then `reason`).',
      operationId: 'createUpload',
      tags, security,
      body: { content: Object.fromEntries(Object.entries(uploadRequestBody.content).map(([type, media]) => [type, { schema: media.schema }])) },
      response: { 201: uploadView, ...errors, 413: errorResponse, 415: errorResponse },
    },
    // The body is a stream, checked by the service as it is read; the schema above is for the docs.
    validatorCompiler: () => () => true,
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      // Refused before a byte of the body is read; the connection closes so the rest is not read either.
      const declared = Number(request.headers['content-length']);
      if (Number.isFinite(declared) && declared > uploads.maxBytes + 64 * 1024) {
        reply.header('connection', 'close');
        throw payloadTooLarge(uploads.maxBytes);
      }
    },
  }, async (request, reply) => {
    let view;
    try {
      if (request.isMultipart()) {
        const part = await request.file();
        if (!part) throw new AppError('UPLOAD_FILE_REQUIRED', 'The multipart body has no file: send it as the `file` field (curl -F file=@photo.jpg).', { field: 'file' });
        if (part.fieldname !== 'file') throw new AppError('UPLOAD_FILE_REQUIRED', `The file was sent as the "${part.fieldname}" field: send it as the \`file\` field.`, { field: 'file' });
        view = await uploads.receive(request.userId, part.file, { filename: part.filename });
      } else {
        const body = request.body;
        if (body !== undefined && !(body instanceof Readable)) throw unsupportedMediaType();
        view = await uploads.receive(request.userId, body ?? Readable.from([]));
      }
    } catch (error) {
      if (isFileTooLarge(error)) throw payloadTooLarge(uploads.maxBytes);
      if (error instanceof AppError && error.code === 'PAYLOAD_TOO_LARGE') reply.header('connection', 'close');
      throw error;
    }
    return reply.code(201).header('location', `${app.prefix}/uploads/${view.id}`).send(view);
  });

  app.get<{ Querystring: ListQuery }>('/uploads', {
    schema: { summary: 'List your uploads, newest first', operationId: 'listUploads', tags, security, querystring: listUploadsQuery, response: { 200: uploadList, ...errors } },
  }, async (request) => {
    const { limit, cursor } = request.query;
    return uploads.list(request.userId, { limit: limit === undefined ? undefined : Number(limit), cursor });
  });

  app.get<{ Params: IdParams }>('/uploads/:id', {
    schema: { summary: 'Get an upload: status, and url once PUBLISHED', operationId: 'getUpload', tags, security, params: uploadIdParams, response: { 200: uploadView, ...errors } },
  }, async (request) => uploads.get(request.userId, request.params.id));

  app.delete<{ Params: IdParams }>('/uploads/:id', {
    schema: {
      summary: 'Delete an upload and its stored files (409 while a design uses it as its image)', operationId: 'deleteUpload', tags, security, params: uploadIdParams,
      // 409 UPLOAD_IN_USE: a design's image is this upload; the message names the designs.
      response: { 204: { type: 'null', description: 'Deleted' }, ...errors, 409: { ...errorResponse, description: 'UPLOAD_IN_USE: a design\'s image is this upload; the message names the designs.' } },
    },
  }, async (request, reply) => {
    await uploads.delete(request.userId, request.params.id);
    return reply.code(204).send();
  });
}

function isFileTooLarge(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'FST_REQ_FILE_TOO_LARGE';
}
