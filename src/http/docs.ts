import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI document (`/docs/json`, built from the routes' schemas) and the interactive
 * docs (`/docs`, whose assets come from the @fastify/swagger-ui package, not a CDN).
 * Registered before the routes: @fastify/swagger collects them as they are added.
 */
export async function registerDocs(app: FastifyInstance, options: { publicBaseUrl: string }): Promise<void> {
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
      },
      servers: [{ url: options.publicBaseUrl }],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      tags: [
        { name: 'designs', description: 'Designs and their rendered images' },
        { name: 'uploads', description: 'User images: streamed, sniffed, virus-scanned and re-encoded before they are served' },
        { name: 'health', description: 'Liveness, readiness and metrics' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: false } });
}
