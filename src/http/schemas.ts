import { DESIGN_STATUSES } from '../designs/design.js';
import { FONT_NAMES, MAX_TEXT_LENGTH, PRODUCT_TYPES } from '../rendering/index.js';
import { UUID_PATTERN } from '../shared/uuid.js';

/**
 * JSON schemas of the public API. Fastify validates requests with them (ajv, no type
 * coercion, extra fields rejected), serialises responses with them (only the fields listed
 * here ever leave the service) and @fastify/swagger publishes them as the OpenAPI document.
 * The domain (`validateDesignSpec`) checks the same rules again: designs also arrive from
 * the CLI and the database.
 */

export const HEX_COLOR_PATTERN = '^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$';
export { UUID_PATTERN };
export const BODY_LIMIT_BYTES = 64 * 1024;

const color = (description: string) => ({ type: 'string', pattern: HEX_COLOR_PATTERN, description, examples: ['#FF0000'] }) as const;

export const designDataInput = {
  type: 'object',
  additionalProperties: false,
  required: ['text', 'font', 'color'],
  properties: {
    text: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_TEXT_LENGTH,
      description: `The text to print: 1 to ${MAX_TEXT_LENGTH} characters, up to 10 lines separated by \\n, no control characters.`,
      examples: ['Test Design'],
    },
    font: { type: 'string', enum: [...FONT_NAMES], description: 'One of the bundled fonts.' },
    color: color('Background colour, #RGB or #RRGGBB.'),
    text_color: color('Text colour; without it, white or black, whichever contrasts more with the background.'),
  },
} as const;

export const createDesignBody = {
  type: 'object',
  additionalProperties: false,
  required: ['product_type', 'design_data'],
  properties: {
    product_type: { type: 'string', enum: [...PRODUCT_TYPES] },
    design_data: designDataInput,
  },
} as const;

export const designIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: UUID_PATTERN, description: 'The design id (a UUID).' } },
} as const;

export const listDesignsQuery = {
  type: 'object',
  properties: {
    // A string: the query string is validated without type coercion (so that a body's
    // `"text": 123` is refused rather than turned into "123"). The service checks 1..100.
    limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'Designs per page, 1 to 100 (default 20).' },
    cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,200}$', description: 'next_cursor of the previous page, unchanged.' },
  },
} as const;

const nullableString = { type: ['string', 'null'] } as const;

export const designView = {
  type: 'object',
  required: ['id', 'status', 'product_type', 'design_data', 'preview_url', 'thumbnail_url', 'error', 'attempts', 'created_at', 'updated_at', 'published_at'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: { type: 'string', enum: [...DESIGN_STATUSES] },
    product_type: { type: 'string' },
    design_data: {
      type: 'object',
      required: ['text', 'font', 'color'],
      properties: {
        text: { type: 'string' },
        font: { type: 'string' },
        color: { type: 'string' },
        text_color: { type: 'string' },
      },
    },
    preview_url: { ...nullableString, description: '600x600 PNG, once PUBLISHED. Signed afresh on each read for private buckets.' },
    thumbnail_url: { ...nullableString, description: 'Thumbnail (at most 200x200) PNG, once PUBLISHED.' },
    error: { ...nullableString, description: 'Why the render failed, when FAILED.' },
    attempts: { type: 'integer' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    published_at: { ...nullableString, format: 'date-time' },
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

/** Error responses every authenticated route can give. */
export const commonErrors = {
  400: errorResponse,
  401: errorResponse,
  404: errorResponse,
  500: errorResponse,
  503: errorResponse,
} as const;

/**
 * The codes a schema failure answers with, by field (dotted) and ajv keyword (type, required,
 * additionalProperties, enum, pattern, minLength, maxLength): the same codes
 * the domain's own validation uses, so a client sees UNKNOWN_FONT whichever layer caught it.
 */
export const FIELD_ERROR_CODES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  product_type: { enum: 'UNKNOWN_PRODUCT_TYPE' },
  'design_data.text': { minLength: 'TEXT_REQUIRED', maxLength: 'TEXT_TOO_LONG' },
  'design_data.font': { enum: 'UNKNOWN_FONT' },
  'design_data.color': { pattern: 'INVALID_COLOR' },
  'design_data.text_color': { pattern: 'INVALID_COLOR' },
  id: { pattern: 'INVALID_DESIGN_ID' },
  limit: { pattern: 'INVALID_LIMIT', type: 'INVALID_LIMIT' },
  cursor: { pattern: 'INVALID_CURSOR', type: 'INVALID_CURSOR' },
};

/** Codes for a keyword whatever the field. */
export const KEYWORD_ERROR_CODES: Readonly<Record<string, string>> = {
  type: 'INVALID_TYPE',
  required: 'FIELD_REQUIRED',
  additionalProperties: 'UNKNOWN_FIELD',
};
