import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { errorResponseFor, type ErrorStatus } from './schemas.js';

/**
 * The OpenAPI document (`/docs/json`, built from the routes' schemas) and the interactive
 * docs (`/docs`, whose assets come from the @fastify/swagger-ui package, not a CDN).
 * Registered before the routes: @fastify/swagger collects them as they are added.
 * The design body in it is generated from the domain's design definition
 * (src/rendering/design-spec.ts), the same schema the route validates with.
 */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Customify API',
        version: '1.0.0',
        description:
          'Create a design (text, font, colour on a product); a worker renders a 600x600 PNG preview and a thumbnail and ' +
          'stores them on S3 or local disk. Poll the design until it is PUBLISHED, then use preview_url and thumbnail_url. ' +
          'Errors are `{ "error": { "code", "message", "field" } }`.',
        // The project is private and has no open-source licence (package.json: "private": true);
        // LicenseRef- is SPDX's form for a licence that is not on its list.
        license: { name: 'Proprietary, all rights reserved', identifier: 'LicenseRef-Proprietary' },
      },
      // Relative: the document is right wherever it is served from (PUBLIC_BASE_URL, a proxy, localhost).
      servers: [{ url: '/', description: 'The server this document was fetched from' }],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      tags: [
        { name: 'designs', description: 'Designs and their rendered images' },
        { name: 'uploads', description: 'User images: streamed, sniffed, virus-scanned and re-encoded before they are served' },
        { name: 'avatars', description: "The caller's avatar: an image taken like an upload, published as 512, 128 and 64 px squares" },
        { name: 'events', description: 'Live status as Server-Sent Events: your designs\' and uploads\' changes as they happen, resumable with Last-Event-ID' },
        { name: 'health', description: 'Liveness, readiness and metrics' },
      ],
    },
    // Routes without a schema (or hidden) are left as they are.
    transform: ({ schema, url, route }) => ({ schema: (schema as FastifySchema | undefined) && !schema.hide ? documentRoute(schema, url, route.method) : schema, url }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: false } });
}

/** Errors the HTTP layer itself can answer on any route, whatever the route does. */
const ANY_ROUTE: readonly ErrorStatus[] = [400, 405, 408, 431, 500];
const WITH_BODY: readonly ErrorStatus[] = [413, 415];
const WITH_PATH_PARAMETERS: readonly ErrorStatus[] = [414];
const SECURED: readonly ErrorStatus[] = [401, 503];

/**
 * Completes a route's published schema (not the one it validates with): an operationId,
 * an explicit `security: []` on public routes, and every error response the server can
 * give on it with the error body schema.
 */
function documentRoute(schema: FastifySchema, url: string, method: string | string[]): FastifySchema {
  const documented: FastifySchema = { ...schema };
  const verb = (Array.isArray(method) ? method[0]! : method).toUpperCase();
  documented.operationId ??= operationIdFor(verb, url);
  documented.security ??= [];
  const statuses = new Set<ErrorStatus>(ANY_ROUTE);
  if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(verb)) for (const status of WITH_BODY) statuses.add(status);
  if (url.includes(':')) for (const status of WITH_PATH_PARAMETERS) statuses.add(status);
  if (documented.security.length > 0) for (const status of SECURED) statuses.add(status);
  const response: Record<string, unknown> = { ...(documented.response as Record<string, unknown> | undefined) };
  for (const status of statuses) response[status] ??= errorResponseFor(status);
  documented.response = response;
  return documented;
}

/** `GET /readyz` → `getReadyz`: for routes that do not name their operation. */
function operationIdFor(verb: string, url: string): string {
  const words = url.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return [verb.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}
