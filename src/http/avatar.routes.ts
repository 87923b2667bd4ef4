import type { FastifyInstance } from 'fastify';
import type { TokenVerifier } from '../auth/jwt.js';
import { AVATAR_FORMATS, AVATAR_SIZES } from '../avatars/avatar.js';
import type { AvatarService } from '../avatars/avatar-service.js';
import { REJECTION_REASONS, UPLOAD_STATUSES } from '../uploads/upload.js';
import { requireBearerAuth } from './auth.js';
import { errorResponse } from './schemas.js';
import { acceptFileBodies, receiveFileBody, refuseDeclaredOversize } from './upload-body.js';
import { fileBodySchema } from './upload-schemas.js';

export interface AvatarRoutesOptions {
  avatars: AvatarService;
  verifyToken: TokenVerifier;
  /** UPLOAD_TIMEOUT: the body must arrive within it (408, staged bytes removed). */
  uploadTimeoutMs: number;
}

const security = [{ bearerAuth: [] }];
const tags = ['avatars'];
const nullableString = { type: ['string', 'null'] } as const;

const squares = {
  type: 'object',
  required: [...AVATAR_FORMATS],
  properties: Object.fromEntries(AVATAR_FORMATS.map((format) => [format, { type: 'string', description: `The ${format.toUpperCase()} square.` }])),
} as const;

/** The response of all three routes' success cases but DELETE's (src/avatars/avatar-service.ts AvatarView). */
export const avatarView = {
  type: 'object',
  required: ['upload_id', 'status', 'reason', 'message', 'created_at', 'updated_at', 'current'],
  properties: {
    upload_id: { type: 'string', format: 'uuid', description: 'The latest attempt (the last PUT).' },
    status: {
      type: 'string',
      enum: [...UPLOAD_STATUSES],
      description: 'Of the latest attempt: RECEIVED -> SCANNING -> CLEAN -> PUBLISHED (it is then `current`), or REJECTED (see reason; `current` is unchanged).',
    },
    reason: { type: ['string', 'null'], enum: [...REJECTION_REASONS, null], description: 'Why the latest attempt was REJECTED.' },
    message: { ...nullableString, description: 'What went wrong and what to do: the rejection, or the last transient failure while it is retried.' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    current: {
      type: ['object', 'null'],
      description: 'The avatar shown now; null until one is PUBLISHED. Replaced, and its files removed, only when a newer one is PUBLISHED.',
      required: ['upload_id', 'published_at', 'urls'],
      properties: {
        upload_id: { type: 'string', format: 'uuid' },
        published_at: { ...nullableString, format: 'date-time' },
        urls: {
          type: 'object',
          description: `Square images by size in px (${AVATAR_SIZES.join(', ')}), each in WebP and PNG: upright, sRGB, no metadata. Each avatar has its own URLs, so they may be cached forever.`,
          required: AVATAR_SIZES.map(String),
          properties: Object.fromEntries(AVATAR_SIZES.map((size) => [String(size), squares])),
        },
      },
    },
  },
} as const;

/**
 * `/api/v1/users/me/avatar` (issue #11): the caller's avatar. PUT takes a file as
 * POST /api/v1/uploads does (raw or multipart, streamed, cut at AVATAR_MAX_BYTES) and runs it
 * through the same pipeline; the answer is 202 and GET says how it went.
 */
export async function avatarRoutes(app: FastifyInstance, options: AvatarRoutesOptions): Promise<void> {
  const { avatars } = options;
  requireBearerAuth(app, options.verifyToken);
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  const limit = { maxBytes: avatars.maxBytes, variable: 'AVATAR_MAX_BYTES', timeoutMs: options.uploadTimeoutMs };
  await acceptFileBodies(app, limit);

  app.put('/users/me/avatar', {
    schema: {
      summary: 'Set your avatar (raw bytes or multipart `file`); it is scanned and re-encoded in the background',
      description: 'Answers 202 with the new attempt RECEIVED and the avatar still shown (`current`); poll GET /api/v1/users/me/avatar until `status` is PUBLISHED or REJECTED.',
      operationId: 'putAvatar',
      tags, security,
      body: fileBodySchema,
      response: { 202: avatarView, 400: errorResponse, 401: errorResponse, 408: errorResponse, 413: errorResponse, 415: errorResponse, 500: errorResponse, 503: errorResponse },
    },
    // The body is a stream, checked by the service as it is read; the schema above is for the docs.
    validatorCompiler: () => () => true,
    config: { uploadBody: true },
    onRequest: refuseDeclaredOversize(limit),
  }, async (request, reply) => {
    const view = await receiveFileBody(request, reply, limit, (body, filename) => avatars.put(request.userId, body, { filename }));
    return reply.code(202).header('location', `${app.prefix}/users/me/avatar`).send(view);
  });

  app.get('/users/me/avatar', {
    schema: {
      summary: 'Your avatar: its URLs, and the state of your latest attempt',
      operationId: 'getAvatar',
      tags, security,
      response: { 200: avatarView, 401: errorResponse, 404: errorResponse, 500: errorResponse, 503: errorResponse },
    },
  }, async (request) => avatars.get(request.userId));

  app.delete('/users/me/avatar', {
    schema: {
      summary: 'Delete your avatar, its files and any attempt still in progress',
      operationId: 'deleteAvatar',
      tags, security,
      response: { 204: { type: 'null', description: 'Deleted' }, 401: errorResponse, 404: errorResponse, 500: errorResponse, 503: errorResponse },
    },
  }, async (request, reply) => {
    await avatars.delete(request.userId);
    return reply.code(204).send();
  });
}
