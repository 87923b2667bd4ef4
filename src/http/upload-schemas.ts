import { CURSOR_PATTERN, DEFAULT_LIST_LIMIT, LIMIT_PATTERN, MAX_LIST_LIMIT } from '../db/keyset-page.js';
import { UPLOAD_KINDS, UPLOAD_STATUSES, REJECTION_REASONS } from '../uploads/upload.js';
import { UUID_PATTERN } from '../shared/uuid.js';

/**
 * JSON schemas of /api/v1/uploads, beside the designs' in schemas.ts (same conventions:
 * responses list only what leaves the service; list queries are strings, checked by the service).
 */

const nullableString = { type: ['string', 'null'] } as const;

export const uploadIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: UUID_PATTERN, description: 'The upload id (a UUID).' } },
} as const;

export const listUploadsQuery = {
  type: 'object',
  properties: {
    limit: { type: 'string', pattern: LIMIT_PATTERN, description: `Uploads per page, 1 to ${MAX_LIST_LIMIT} (default ${DEFAULT_LIST_LIMIT}).` },
    cursor: { type: 'string', pattern: CURSOR_PATTERN, description: 'next_cursor of the previous page, unchanged.' },
  },
} as const;

export const uploadView = {
  type: 'object',
  required: ['id', 'kind', 'status', 'reason', 'message', 'filename', 'content_type', 'bytes', 'width', 'height', 'url', 'created_at', 'updated_at', 'published_at'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    kind: { type: 'string', enum: [...UPLOAD_KINDS] },
    status: {
      type: 'string',
      enum: [...UPLOAD_STATUSES],
      description: 'RECEIVED -> SCANNING -> CLEAN -> PUBLISHED, or REJECTED (see reason). Poll until PUBLISHED or REJECTED.',
    },
    reason: { type: ['string', 'null'], enum: [...REJECTION_REASONS, null], description: 'Why it was REJECTED. Null on a REJECTED upload when the service could not process it (not the file\'s fault, e.g. storage access denied): the message says what to do.' },
    message: { ...nullableString, description: 'What went wrong and what to do: the rejection, or the last transient failure while retried.' },
    filename: { ...nullableString, description: 'The name the client gave (multipart), for display only.' },
    content_type: { ...nullableString, description: 'Of the published original (image/jpeg or image/png), once PUBLISHED.' },
    bytes: { type: ['integer', 'null'], description: 'Size as received; of the published original once PUBLISHED.' },
    width: { type: ['integer', 'null'] },
    height: { type: ['integer', 'null'] },
    url: { ...nullableString, description: 'The published original (upright, sRGB, no metadata), once PUBLISHED. Signed afresh on each read for private buckets.' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    published_at: { ...nullableString, format: 'date-time' },
  },
} as const;

export const uploadList = {
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: {
    items: { type: 'array', items: uploadView },
    next_cursor: { ...nullableString, description: 'Pass as ?cursor= for the next page; null on the last page.' },
  },
} as const;

/** The request body as OpenAPI describes it (Fastify does not validate a streamed body). */
export const uploadRequestBody = {
  required: true,
  description: 'The image: raw bytes with any image/* or application/octet-stream Content-Type, or multipart/form-data with a `file` field. The type is judged from the bytes, never from the name or Content-Type.',
  content: {
    'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
    'image/*': { schema: { type: 'string', format: 'binary' } },
    'multipart/form-data': {
      schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary' } } },
    },
  },
} as const;

/** `uploadRequestBody` as a route's `schema.body` (both file routes: POST /uploads, PUT /users/me/avatar). */
export const fileBodySchema = {
  content: Object.fromEntries(Object.entries(uploadRequestBody.content).map(([type, media]) => [type, { schema: media.schema }])),
};
