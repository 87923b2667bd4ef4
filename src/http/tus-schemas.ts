import { UUID_PATTERN } from '../shared/uuid.js';

/**
 * OpenAPI descriptions of the tus routes (src/http/tus.routes.ts): the protocol lives in
 * headers, so these document headers. The tus server checks them itself (412, 400, 409, 413):
 * Fastify does not validate against these schemas.
 */

export const TUS_MAX_SIZE_DESCRIPTION = 'Upload-Length over UPLOAD_MAX_BYTES (Tus-Max-Size) is refused with 413 before any byte is stored.';

const TUS_HEADERS: Record<string, { description: string; schema: Record<string, unknown> }> = {
  'Tus-Resumable': { description: 'The tus protocol version: 1.0.0.', schema: { type: 'string', enum: ['1.0.0'] } },
  'Tus-Version': { description: 'Protocol versions supported.', schema: { type: 'string' } },
  'Tus-Extension': { description: 'tus extensions supported: creation, creation-with-upload, creation-defer-length, termination, expiration.', schema: { type: 'string' } },
  'Tus-Max-Size': { description: 'The largest upload accepted, in bytes (UPLOAD_MAX_BYTES).', schema: { type: 'integer' } },
  Location: { description: 'The upload\'s URL, /api/v1/uploads/tus/{id}; {id} is the upload id of GET /api/v1/uploads/{id}.', schema: { type: 'string' } },
  'Upload-Offset': { description: 'Bytes received so far.', schema: { type: 'integer', minimum: 0 } },
  'Upload-Length': { description: 'The whole upload\'s size in bytes.', schema: { type: 'integer', minimum: 0 } },
  'Upload-Metadata': { description: 'As sent at creation: comma-separated `key base64(value)` pairs; `filename` (or `name`) is kept as the upload\'s display name, `owner` is set by the server.', schema: { type: 'string' } },
  'Upload-Expires': { description: 'When this unfinished upload expires (UPLOAD_EXPIRY after its creation), RFC 7231 date.', schema: { type: 'string' } },
  'X-Upload-Id': { description: 'The upload id: poll GET /api/v1/uploads/{id} once the last byte is sent.', schema: { type: 'string', format: 'uuid' } },
  'Cache-Control': { description: 'no-store.', schema: { type: 'string' } },
};

/** Response `headers` for the named tus headers (as @fastify/swagger takes them: a schema with its description). */
export function tusResponseHeaders(names: string[]): Record<string, Record<string, unknown>> {
  return Object.fromEntries(names.map((name) => [name, { ...TUS_HEADERS[name]!.schema, description: TUS_HEADERS[name]!.description }]));
}

const tusResumable = { type: 'string', enum: ['1.0.0'], description: 'Required on every tus request but OPTIONS (412 without it).' } as const;

export const tusIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: UUID_PATTERN, description: 'The upload id: the last segment of Location.' } },
} as const;

export const tusCreateHeaders = {
  type: 'object',
  required: ['tus-resumable'],
  properties: {
    'tus-resumable': tusResumable,
    'upload-length': { type: 'string', pattern: '^[0-9]+$', description: 'The file\'s size in bytes (or Upload-Defer-Length: 1 and send it on a later PATCH). 413 over UPLOAD_MAX_BYTES.' },
    'upload-defer-length': { type: 'string', enum: ['1'], description: 'The size is not known yet.' },
    'upload-metadata': { type: 'string', description: 'Comma-separated `key base64(value)` pairs; `filename` is kept for display.' },
    'content-type': { type: 'string', enum: ['application/offset+octet-stream'], description: 'Only with a body (creation-with-upload).' },
  },
} as const;

export const tusHeadHeaders = {
  type: 'object',
  required: ['tus-resumable'],
  properties: { 'tus-resumable': tusResumable },
} as const;

export const tusPatchHeaders = {
  type: 'object',
  required: ['tus-resumable', 'upload-offset', 'content-type'],
  properties: {
    'tus-resumable': tusResumable,
    'upload-offset': { type: 'string', pattern: '^[0-9]+$', description: 'Where these bytes start: the Upload-Offset of the last answer or of HEAD (409 otherwise).' },
    'content-type': { type: 'string', enum: ['application/offset+octet-stream'] },
    'upload-length': { type: 'string', pattern: '^[0-9]+$', description: 'Only for an upload created with Upload-Defer-Length.' },
  },
} as const;
