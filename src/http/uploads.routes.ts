import type { FastifyInstance } from 'fastify';
import type { TokenVerifier } from '../auth/jwt.js';
import type { UploadService } from '../uploads/upload-service.js';
import { requireBearerAuth } from './auth.js';
import { acceptFileBodies, receiveFileBody, refuseDeclaredOversize } from './upload-body.js';
import { errorResponse } from './schemas.js';
import { fileBodySchema, listUploadsQuery, uploadIdParams, uploadList, uploadView } from './upload-schemas.js';

export interface UploadRoutesOptions {
  uploads: UploadService;
  verifyToken: TokenVerifier;
  /** UPLOAD_TIMEOUT: the body must arrive within it (408, staged bytes removed). */
  uploadTimeoutMs: number;
}

interface IdParams { id: string }
interface ListQuery { limit?: string; cursor?: string }

const security = [{ bearerAuth: [] }];
const tags = ['uploads'];
const errors = { 400: errorResponse, 401: errorResponse, 404: errorResponse, 500: errorResponse, 503: errorResponse } as const;

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
  const limit = { maxBytes: uploads.maxBytes, variable: 'UPLOAD_MAX_BYTES', timeoutMs: options.uploadTimeoutMs };
  // Scoped to this plugin: the rest of the API stays JSON-only.
  await acceptFileBodies(app, limit);

  app.post('/uploads', {
    schema: {
      summary: 'Upload an image (raw bytes or multipart `file`); it is scanned and re-encoded in the background',
      description: 'Answers 201 with the upload RECEIVED; poll GET /api/v1/uploads/{id} until PUBLISHED (then `url`) or REJECTED (then `reason`).',
      operationId: 'createUpload',
      tags, security,
      body: fileBodySchema,
      response: { 201: uploadView, ...errors, 408: errorResponse, 413: errorResponse, 415: errorResponse },
    },
    config: { uploadBody: true },
    // The body is a stream, checked by the service as it is read; the schema above is for the docs.
    validatorCompiler: () => () => true,
    // Refused before a byte of the body is read; the connection closes so the rest is not read either.
    onRequest: refuseDeclaredOversize(limit),
  }, async (request, reply) => {
    const view = await receiveFileBody(request, reply, limit, (body, filename) => uploads.receive(request.userId, body, { filename }));
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
