import type { FastifyInstance } from 'fastify';
import type { TokenVerifier } from '../auth/jwt.js';
import { MAX_BATCH_DESIGNS, type BatchItemResult, type DesignService, type PrintFileName } from '../designs/design-service.js';
import { ValidationError } from '../errors.js';
import { requireBearerAuth } from './auth.js';
import { toHttpError } from './error-handler.js';
import { validateDesignSpec } from '../rendering/index.js';
import {
  BATCH_BODY_LIMIT_BYTES, createDesignBody, createDesignsBatchBody, designsBatchResult, patchDesignBody, designIdParams, designList, designView,
  errorResponse, errorResponseFor, listDesignsQuery, printFileParams,
} from './schemas.js';

export interface DesignRoutesOptions {
  service: DesignService;
  verifyToken: TokenVerifier;
}

interface IdParams { id: string }
interface PrintFileParams { id: string; name: PrintFileName }
// Error responses these routes declare themselves; the ones any route can give are added
// to the document by docs.ts.
const notFound = { 404: errorResponseFor(404) };
interface ListQuery { limit?: string; cursor?: string }

const security = [{ bearerAuth: [] }];
const tags = ['designs'];

/**
 * `/api/v1/designs`: the seed's design API. Every route needs a Bearer token; a design
 * belongs to the token's subject, and someone else's design is "not found" (never 403,
 * which would confirm it exists).
 */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify takes a plugin without `done` as promise-style only if it returns a promise.
export async function designRoutes(app: FastifyInstance, options: DesignRoutesOptions): Promise<void> {
  const { service } = options;
  requireBearerAuth(app, options.verifyToken);
  // Responses carry private data and, for private buckets, signed URLs: no shared caches.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.post('/designs', {
    schema: {
      summary: 'Create a design; its preview and thumbnail are rendered in the background',
      operationId: 'createDesign',
      tags, security,
      body: createDesignBody,
      response: {
        201: designView,
        404: { ...errorResponse, description: 'UPLOAD_NOT_FOUND: design_data.image.upload_id names no upload of yours.' },
        409: { ...errorResponse, description: 'UPLOAD_REJECTED: design_data.image.upload_id names an upload that was rejected.' },
      },
    },
    // The compiled schema is the fast check; when it refuses a body, the domain's guard, built
    // from the same definition, says which field and rule failed, with the domain's code.
    attachValidation: true,
  }, async (request, reply) => {
    if (request.validationError) throwDesignBodyError(request.validationError, request.body);
    const design = await service.create(request.userId, request.body);
    return reply.code(201).header('location', `${app.prefix}/designs/${design.id}`).send(design);
  });

  app.post('/designs/batch', {
    // Up to MAX_BATCH_DESIGNS designs do not fit the 64 KB every other JSON body is held to.
    bodyLimit: BATCH_BODY_LIMIT_BYTES,
    schema: {
      summary: `Create up to ${MAX_BATCH_DESIGNS} designs at once; each is created or refused on its own`,
      description:
        `Body \`{ "designs": [ <design>, ... ] }\`, 1 to ${MAX_BATCH_DESIGNS} bodies of POST /api/v1/designs (at most 1 MB in all). ` +
        'Each design is validated and stored on its own, exactly as POST /api/v1/designs would (same codes; `field` prefixed with its place, `designs[3].design_data.color`): ' +
        'a bad one never stops the others, and one that fails is not stored at all. The renders of those created are queued together. ' +
        'Answers 200 whenever the batch was taken, even if no design was created: read `items` (request order, each with its `index` and its own `status`), `created` and `failed`. ' +
        `400 for a body that is not \`{ "designs": [...] }\` (field \`body\`, \`designs\` or the unknown field) or lists 0 or more than ${MAX_BATCH_DESIGNS} designs (field \`designs\`).`,
      operationId: 'createDesignsBatch',
      tags, security,
      body: createDesignsBatchBody,
      response: {
        200: designsBatchResult,
        413: { ...errorResponse, description: 'The request body is larger than 1 MB: send fewer designs per batch.' },
      },
    },
    // As POST /designs: the compiled schema is the fast check. When it refuses the batch, the
    // envelope is checked here and each design by the service, so one bad design fails alone.
    attachValidation: true,
  }, async (request, reply) => {
    const inputs = request.validationError ? batchDesigns(request.body) : (request.body as { designs: unknown[] }).designs;
    const results = await service.createMany(request.userId, inputs);
    const items = results.map((result) => batchItem(result, (error, status) =>
      request.log.error({ err: error, index: result.index }, `Design ${result.index} of a batch failed with ${status}`)));
    const created = items.filter((item) => item.status === 201).length;
    return reply.code(200).send({ items, created, failed: items.length - created });
  });

  app.get<{ Querystring: ListQuery }>('/designs', {
    schema: {
      summary: 'List your designs, newest first',
      operationId: 'listDesigns',
      tags, security,
      querystring: listDesignsQuery,
      response: { 200: designList },
    },
  }, async (request) => {
    const { limit, cursor } = request.query;
    return service.list(request.userId, { limit: limit === undefined ? undefined : Number(limit), cursor });
  });

  app.get<{ Params: IdParams }>('/designs/:id', {
    schema: {
      summary: 'Get a design: status, and preview/thumbnail URLs once PUBLISHED',
      operationId: 'getDesign',
      tags, security,
      params: designIdParams,
      response: { 200: designView, ...notFound },
    },
  }, async (request) => service.get(request.userId, request.params.id));

  app.delete<{ Params: IdParams }>('/designs/:id', {
    schema: {
      summary: 'Delete a design and its stored images',
      operationId: 'deleteDesign',
      tags, security,
      params: designIdParams,
      response: { 204: { type: 'null', description: 'Deleted' }, ...notFound },
    },
  }, async (request, reply) => {
    await service.delete(request.userId, request.params.id);
    return reply.code(204).send();
  });

  app.patch<{ Params: IdParams; Body: { watermark: boolean } }>('/designs/:id', {
    schema: {
      summary: 'Change a design\'s watermark flag; a change renders it again (new immutable URLs)',
      description:
        'Turning `watermark` on or off re-renders a PUBLISHED or FAILED design (its print files are invalidated, as with a re-render) and publishes new URLs; ' +
        'the old images stay served for ASSET_GRACE_PERIOD. A PENDING design renders with the new flag. 409 DESIGN_BUSY while a render is running: retry in a few seconds.',
      operationId: 'updateDesign',
      tags, security,
      params: designIdParams,
      body: patchDesignBody,
      response: { 200: designView, ...notFound, 409: { ...errorResponse, description: 'DESIGN_BUSY: a render of the design is running; retry in a few seconds.' } },
    },
  }, async (request) => service.setWatermark(request.userId, request.params.id, request.body.watermark));

  app.post<{ Params: IdParams }>('/designs/:id/render', {
    schema: {
      summary: 'Render a PUBLISHED or FAILED design again (409 while a render is queued or running)',
      operationId: 'renderDesign',
      tags, security,
      params: designIdParams,
      response: { 202: designView, ...notFound, 409: errorResponseFor(409) },
    },
  }, async (request, reply) => {
    const design = await service.rerender(request.userId, request.params.id);
    return reply.code(202).send(design);
  });

  app.post<{ Params: IdParams }>('/designs/:id/print-files', {
    schema: {
      summary: 'Make the print files (print.pdf, print.png at the product\'s print size) of a PUBLISHED design, in the background',
      description:
        'Answers 202 with the design: print_status goes NONE → PENDING → READY (print_pdf_url, print_png_url) or FAILED (print_message). ' +
        'Idempotent: while PENDING or READY a request changes nothing, and two at once make one job and one set of files. ' +
        'A FAILED print is made again. A re-render of the design sets print_status back to NONE.',
      operationId: 'requestPrintFiles',
      tags, security,
      params: designIdParams,
      response: {
        202: designView,
        ...notFound,
        409: { ...errorResponse, description: 'PRINT_NOT_AVAILABLE (field status): the design is not PUBLISHED (still rendering, or FAILED: re-render it first).' },
      },
    },
  }, async (request, reply) => {
    const design = await service.requestPrint(request.userId, request.params.id);
    return reply.code(202).send(design);
  });

  app.get<{ Params: PrintFileParams }>('/designs/:id/print-files/:name', {
    schema: {
      summary: 'Download a READY print file of your design (what print_pdf_url and print_png_url point at with local storage)',
      operationId: 'getPrintFile',
      tags, security,
      params: printFileParams,
      response: {
        200: {
          description: 'The file: application/pdf or image/png.',
          content: {
            'application/pdf': { schema: { type: 'string', format: 'binary' } },
            'image/png': { schema: { type: 'string', format: 'binary' } },
          },
        },
        404: { ...errorResponse, description: 'DESIGN_NOT_FOUND, or PRINT_FILES_NOT_READY: print_status is not READY (or the product makes no such file).' },
      },
    },
  }, async (request, reply) => {
    const file = await service.printFile(request.userId, request.params.id, request.params.name);
    const type = request.params.name === 'print.pdf' ? 'application/pdf' : 'image/png';
    return reply
      .type(type)
      .header('content-length', file.size)
      .header('content-disposition', `attachment; filename="${request.params.name}"`)
      .send(file.body);
  });
}

/** The designs of a batch body the schema refused: ValidationError when the body itself is wrong, not one of its designs. */
function batchDesigns(body: unknown): unknown[] {
  const shape = 'the body is { "designs": [ <design>, ... ] }';
  if (!isObject(body)) throw new ValidationError('INVALID_TYPE', `The body must be a JSON object: ${shape}.`, 'body');
  const extra = Object.keys(body).find((key) => key !== 'designs');
  if (extra !== undefined) throw new ValidationError('UNKNOWN_FIELD', `${extra} is not a known field; remove it (${shape}).`, extra);
  if (!Object.hasOwn(body, 'designs')) throw new ValidationError('FIELD_REQUIRED', `designs is required: ${shape}.`, 'designs');
  if (!Array.isArray(body.designs)) throw new ValidationError('INVALID_TYPE', 'designs must be an array of design bodies, each as POST /api/v1/designs takes it.', 'designs');
  return body.designs;
}

interface BatchItem {
  index: number;
  status: number;
  design?: unknown;
  error?: { code: string; message: string; field?: string };
}

/**
 * One design's result as the API shows it: its error mapped as the error handler maps a whole
 * request's (5xx messages hidden, and reported through `logServerError`), its field prefixed
 * with its place in the batch (`design`, the domain's name for the whole input, is the item itself).
 */
function batchItem(result: BatchItemResult, logServerError: (error: unknown, status: number) => void): BatchItem {
  const { index } = result;
  if ('design' in result) return { index, status: 201, design: result.design };
  const mapped = toHttpError(result.error);
  if (mapped.status >= 500) logServerError(result.error, mapped.status);
  const place = `designs[${index}]`;
  const field = mapped.field === undefined ? undefined : mapped.field === 'design' ? place : `${place}.${mapped.field}`;
  return { index, status: mapped.status, error: { code: mapped.code, message: mapped.message, ...(field === undefined ? {} : { field }) } };
}

/**
 * A design body the compiled schema refused (POST /designs, POST /previews): the domain's guard,
 * built from the same definition, names the field and rule with the domain's code; the design's
 * own fields first, then `watermark`, by the schema's error.
 */
export function throwDesignBodyError(invalid: Error & { validationContext?: string }, body: unknown): never {
  if (invalid.validationContext === 'body' && isObject(body)) {
    const { watermark: _flag, ...spec } = body;
    validateDesignSpec(spec);
  }
  throw invalid;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
