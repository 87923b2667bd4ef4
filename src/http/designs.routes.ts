import type { FastifyInstance } from 'fastify';
import type { TokenVerifier } from '../auth/jwt.js';
import type { DesignService } from '../designs/design-service.js';
import { requireBearerAuth } from './auth.js';
import { commonErrors, createDesignBody, designIdParams, designList, designView, errorResponse, listDesignsQuery } from './schemas.js';

export interface DesignRoutesOptions {
  service: DesignService;
  verifyToken: TokenVerifier;
}

interface IdParams { id: string }
interface ListQuery { limit?: string; cursor?: string }

const security = [{ bearerAuth: [] }];
const tags = ['designs'];

/**
 * `/api/v1/designs`: the seed's design API. Every route needs a Bearer token; a design
 * belongs to the token's subject, and someone else's design is "not found" (never 403,
 * which would confirm it exists).
 */
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
      tags, security,
      body: createDesignBody,
      response: { 201: designView, 413: errorResponse, 415: errorResponse, ...commonErrors },
    },
  }, async (request, reply) => {
    const design = await service.create(request.userId, request.body);
    return reply.code(201).header('location', `${app.prefix}/designs/${design.id}`).send(design);
  });

  app.get<{ Querystring: ListQuery }>('/designs', {
    schema: {
      summary: 'List your designs, newest first',
      tags, security,
      querystring: listDesignsQuery,
      response: { 200: designList, ...commonErrors },
    },
  }, async (request) => {
    const { limit, cursor } = request.query;
    return service.list(request.userId, { limit: limit === undefined ? undefined : Number(limit), cursor });
  });

  app.get<{ Params: IdParams }>('/designs/:id', {
    schema: {
      summary: 'Get a design: status, and preview/thumbnail URLs once PUBLISHED',
      tags, security,
      params: designIdParams,
      response: { 200: designView, ...commonErrors },
    },
  }, async (request) => service.get(request.userId, request.params.id));

  app.delete<{ Params: IdParams }>('/designs/:id', {
    schema: {
      summary: 'Delete a design and its stored images',
      tags, security,
      params: designIdParams,
      response: { 204: { type: 'null', description: 'Deleted' }, ...commonErrors },
    },
  }, async (request, reply) => {
    await service.delete(request.userId, request.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: IdParams }>('/designs/:id/render', {
    schema: {
      summary: 'Render a PUBLISHED or FAILED design again (409 while a render is queued or running)',
      tags, security,
      params: designIdParams,
      response: { 202: designView, 409: errorResponse, ...commonErrors },
    },
  }, async (request, reply) => {
    const design = await service.rerender(request.userId, request.params.id);
    return reply.code(202).send(design);
  });
}
