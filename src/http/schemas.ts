import { DESIGN_ID_PATTERN } from '../designs/design-id.js';
import { DESIGN_STATUSES, PRINT_STATUSES } from '../designs/design.js';
import { MAX_BATCH_DESIGNS, PRINT_FILE_NAMES } from '../designs/design-service.js';
import { CURSOR_PATTERN, LIMIT_PATTERN, MAX_LIST_LIMIT } from '../db/keyset-page.js';
import { designSpecJsonSchema } from '../rendering/index.js';
import type { ErrorCode } from '../error-codes.js';

/**
 * JSON schemas of the public API. Fastify validates requests with them (ajv, no type
 * coercion, extra fields rejected), serialises responses with them (only the fields listed
 * here ever leave the service) and @fastify/swagger publishes them as the OpenAPI document.
 * The design body is not written here: it is generated from the domain's one definition
 * (`designSpecSchema` in src/rendering/design-spec.ts), so the route, the domain and /docs
 * accept the same designs.
 */

export const BODY_LIMIT_BYTES = 64 * 1024;
/** POST /api/v1/designs/batch's own limit: room for MAX_BATCH_DESIGNS designs with long texts (each can be some KB). */
export const BATCH_BODY_LIMIT_BYTES = 1024 * 1024;

const watermarkProperty = {
  type: 'boolean',
  description: 'Whether the larger renditions carry the deployment\'s watermark (WATERMARK_TEXT / WATERMARK_IMAGE; renditions under WATERMARK_MIN_SIZE never do). Default WATERMARK_DEFAULT. Print files never carry one.',
} as const;

/** The body of POST /api/v1/designs: the domain's design definition, and the design's watermark flag. */
const designSpecBody = designSpecJsonSchema();
export const createDesignBody = {
  ...designSpecBody,
  properties: { ...(designSpecBody.properties as Record<string, unknown>), watermark: watermarkProperty },
};
const designDataInput = (designSpecBody.properties as Record<string, Record<string, unknown>>).design_data!;

/**
 * The body of POST /api/v1/designs/batch. Each item is the body of POST /api/v1/designs (a
 * copy: Fastify and @fastify/swagger annotate the schemas they are given). The route checks
 * the envelope itself and lets the service explain each bad design, so one does not refuse
 * the batch: this schema is the fast check and the documentation.
 */
export const createDesignsBatchBody = {
  type: 'object',
  required: ['designs'],
  additionalProperties: false,
  properties: {
    designs: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_BATCH_DESIGNS,
      description: `1 to ${MAX_BATCH_DESIGNS} design bodies, each as POST /api/v1/designs takes it (watermark included).`,
      items: structuredClone(createDesignBody),
    },
  },
};

/** The body of PATCH /api/v1/designs/{id}: what can change without creating a new design. */
export const patchDesignBody = {
  type: 'object',
  required: ['watermark'],
  additionalProperties: false,
  properties: { watermark: watermarkProperty },
} as const;

const assetView = {
  type: 'object',
  required: ['url', 'width', 'height', 'bytes'],
  properties: {
    url: { type: 'string', description: 'Immutable: the bytes behind it never change (a re-render publishes new URLs). Signed afresh on each read for private buckets.' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    bytes: { type: ['integer', 'null'], description: 'Null for an image published before versions existed.' },
  },
} as const;

/**
 * `schema` without its `pattern` keywords (nor the `allOf` lists of them, nor `anyOf` lists of
 * `required` rules): for responses.
 * The design's patterns are ECMA-262 `u`-mode expressions (the font coverage class names
 * astral code points as \u{…}), which the serializer's schema check compiles without the `u`
 * flag and refuses; and a response needs no pattern, only the shape.
 */
function withoutPatterns(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutPatterns);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'pattern') continue;
    if (key === 'allOf' && Array.isArray(value) && value.every((part) => typeof part === 'object' && part !== null && 'pattern' in part)) continue;
    // "text or image" (design_data's anyOf of `required` lists) is a rule, not a shape; kept, it
    // would make the serializer test each design against the branches on every response.
    if (key === 'anyOf' && Array.isArray(value) && value.every((part) => typeof part === 'object' && part !== null && 'required' in part && !('properties' in part))) continue;
    copy[key] = withoutPatterns(value);
  }
  return copy;
}

export const designIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: DESIGN_ID_PATTERN, description: 'The design id (a UUID).' } },
} as const;

export const listDesignsQuery = {
  type: 'object',
  properties: {
    // A string: the query string is validated without type coercion (so that a body's
    // `"text": 123` is refused rather than turned into "123").
    // Both patterns are exact: every value they accept, the service accepts.
    limit: { type: 'string', pattern: LIMIT_PATTERN, description: `Designs per page, 1 to ${MAX_LIST_LIMIT} (default 20).` },
    cursor: { type: 'string', pattern: CURSOR_PATTERN, description: 'next_cursor of the previous page, unchanged.' },
  },
} as const;

const nullableString = { type: ['string', 'null'] } as const;

export const designView = {
  type: 'object',
  required: [
    'id', 'status', 'product_type', 'design_data', 'preview_url', 'thumbnail_url', 'error', 'attempts', 'created_at', 'updated_at', 'published_at', 'warnings',
    'print_status', 'print_message', 'print_warnings', 'print_pdf_url', 'print_png_url', 'watermark', 'assets',
  ],
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: { type: 'string', enum: [...DESIGN_STATUSES] },
    product_type: { type: 'string' },
    // What was accepted is what is shown: the request's schema, less its patterns (see withoutPatterns).
    design_data: withoutPatterns(designDataInput) as Record<string, unknown>,
    preview_url: { ...nullableString, description: '600x600 PNG, once PUBLISHED. Signed afresh on each read for private buckets.' },
    thumbnail_url: { ...nullableString, description: 'Thumbnail (at most 200x200) PNG, once PUBLISHED.' },
    error: { ...nullableString, description: 'Why the render failed, when FAILED.' },
    attempts: { type: 'integer' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    published_at: { ...nullableString, format: 'date-time' },
    warnings: {
      type: 'array',
      description:
        'What you should know about the design, which is stored and rendered anyway; empty for most designs. ' +
        'LOW_CONTRAST (field design_data.text_color): the text colour hardly shows on the background (contrast below 1.5:1).',
      items: {
        type: 'object',
        required: ['code', 'field', 'message'],
        properties: {
          code: { type: 'string', enum: ['LOW_CONTRAST'] },
          field: { type: 'string', description: 'The input concerned, in dotted form: design_data.text_color.' },
          message: { type: 'string' },
        },
      },
    },
    print_status: {
      type: 'string', enum: [...PRINT_STATUSES],
      description: 'Print files (POST /api/v1/designs/{id}/print-files): NONE until requested, PENDING while made, READY, or FAILED (see print_message). A re-render sets it back to NONE.',
    },
    print_message: { ...nullableString, description: 'Why making the print files failed, when print_status is FAILED.' },
    print_warnings: {
      type: 'array',
      description: 'Once READY: what a print-on-demand service would warn about. LOW_RESOLUTION (field design_data.image): the image prints under 150 DPI at the product\'s print size.',
      items: {
        type: 'object',
        required: ['code', 'field', 'message'],
        properties: {
          code: { type: 'string', enum: ['LOW_RESOLUTION'] },
          field: { type: 'string' },
          message: { type: 'string' },
          dpi: { type: 'number', description: 'The image\'s effective resolution at print size.' },
        },
      },
    },
    print_pdf_url: { ...nullableString, description: 'print.pdf once READY (null if the product makes none): a URL signed afresh on each read (S3), or the authenticated print-files route (local storage). Never public.' },
    print_png_url: { ...nullableString, description: 'print.png (300 DPI, the product\'s print size) once READY, as print_pdf_url.' },
    watermark: watermarkProperty,
    assets: {
      type: ['object', 'null'],
      description: 'Once PUBLISHED: each rendition (RENDITIONS: thumbnail, small, preview, large by default) in each format (IMAGE_FORMATS: png, webp by default), `assets.preview.webp.url`, for a `<picture>` with `srcset`. Null until then.',
      additionalProperties: { type: 'object', additionalProperties: assetView },
    },
  },
} as const;

export const printFileParams = {
  type: 'object',
  required: ['id', 'name'],
  properties: {
    id: designIdParams.properties.id,
    name: { type: 'string', enum: [...PRINT_FILE_NAMES], description: 'print.pdf or print.png.' },
  },
} as const;

export const designList = {
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: {
    items: { type: 'array', items: designView },
    next_cursor: { ...nullableString, description: 'Pass as ?cursor= for the next page; null on the last page.' },
  },
} as const;

export const errorResponse = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Stable, machine-readable: VALIDATION_FAILED, UNKNOWN_FONT, UNAUTHORIZED, DESIGN_NOT_FOUND, ...' },
        message: { type: 'string' },
        field: { type: 'string', description: 'The input at fault, in dotted form: design_data.color.' },
        request_id: { type: 'string' },
      },
    },
  },
} as const;

/** The answer of POST /api/v1/designs/batch: one result per design, in request order. */
export const designsBatchResult = {
  type: 'object',
  required: ['items', 'created', 'failed'],
  properties: {
    items: {
      type: 'array',
      description: 'One per design sent, in the same order.',
      items: {
        type: 'object',
        required: ['index', 'status'],
        properties: {
          index: { type: 'integer', description: 'The design\'s position in `designs`, from 0.' },
          status: {
            type: 'integer',
            description: '201 when created (see `design`); otherwise what POST /api/v1/designs would have answered for it (see `error`): 400, 404 UPLOAD_NOT_FOUND, 409 UPLOAD_REJECTED, 500 or 503 (nothing of it was stored; send it again).',
          },
          design: { ...designView, description: 'The created design (PENDING), when status is 201.' },
          error: {
            type: 'object',
            required: ['code', 'message'],
            description: 'Why this design was not created, when status is not 201: the code and message POST /api/v1/designs would give.',
            properties: {
              code: errorResponse.properties.error.properties.code,
              message: { type: 'string' },
              field: { type: 'string', description: 'The input at fault, from the batch body: designs[3].design_data.color, or designs[3] for the whole design.' },
            },
          },
        },
      },
    },
    created: { type: 'integer', description: 'How many designs were created (status 201).' },
    failed: { type: 'integer', description: 'How many were not.' },
  },
} as const;

/** What each error status means, as the error body's `message` would say in general. */
export const ERROR_STATUSES = {
  400: 'The request is not valid (malformed, a bad header, body, parameter or query): `code` says what, `field` says where.',
  401: 'No bearer token, or one that is not valid: send `Authorization: Bearer <JWT>`.',
  404: 'No such design (or it belongs to someone else).',
  405: 'The path exists but not with this method; the `Allow` header lists the methods it has.',
  406: 'The `Accept` header allows none of the formats this route answers with.',
  408: 'The whole request was not received in time.',
  409: 'The design\'s status does not allow this: a render while one is queued or running (retry once PUBLISHED or FAILED); print files of a design that is not PUBLISHED (PRINT_NOT_AVAILABLE).',
  413: 'The request body is larger than 64 KB.',
  414: 'The URL or a path parameter is too long.',
  415: 'The body is not `application/json`.',
  429: 'Too many requests of this kind: wait the `Retry-After` seconds (RATE_LIMITED).',
  431: 'The request headers are too large.',
  500: 'Internal error; quote the request id if you report it.',
  503: 'A service the request needs is unavailable; retry after the `Retry-After` seconds.',
} as const;

export type ErrorStatus = keyof typeof ERROR_STATUSES;

/** The schema of error status `status`, as a response schema with its meaning. */
export function errorResponseFor(status: ErrorStatus): Record<string, unknown> {
  return { ...errorResponse, description: ERROR_STATUSES[status] };
}

/**
 * The codes a schema failure answers with, by field and ajv keyword, for the path and query
 * parameters. A design body that fails its schema is explained by the domain's own check
 * (designs.routes.ts), which names the same fields with the same codes.
 */
export const FIELD_ERROR_CODES: Readonly<Record<string, Readonly<Record<string, ErrorCode>>>> = {
  id: { pattern: 'INVALID_DESIGN_ID' },
  name: { enum: 'INVALID_VALUE' },
  limit: { pattern: 'INVALID_LIMIT', type: 'INVALID_LIMIT' },
  cursor: { pattern: 'INVALID_CURSOR', type: 'INVALID_CURSOR' },
};

/** What to do about a parameter that fails its schema: the same words the domain's own checks use. */
export const FIELD_ERROR_MESSAGES: Readonly<Record<string, string>> = {
  id: 'The design id must be a UUID such as 3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b.',
  limit: `limit must be a whole number from 1 to ${MAX_LIST_LIMIT}.`,
  cursor: 'The cursor is not one this service issued: pass the next_cursor of the previous page unchanged, or omit it to start from the newest designs.',
};

/** Codes for a keyword whatever the field. */
export const KEYWORD_ERROR_CODES: Readonly<Record<string, ErrorCode>> = {
  type: 'INVALID_TYPE',
  required: 'FIELD_REQUIRED',
  additionalProperties: 'UNKNOWN_FIELD',
};
