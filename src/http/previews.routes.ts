import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { TokenVerifier } from '../auth/jwt.js';
import { uploadNotFound } from '../designs/design-repository.js';
import { parseDesignRequest } from '../designs/design-service.js';
import { AppError } from '../errors.js';
import type { DesignImageUpload } from '../jobs/render-design.task.js';
import type { DesignSpec, RenderedImage } from '../rendering/index.js';
import { formatDuration } from '../shared/duration.js';
import { requireBearerAuth } from './auth.js';
import { throwDesignBodyError } from './designs.routes.js';
import { createDesignBody, errorResponse, errorResponseFor } from './schemas.js';

/** The formats a preview is answered in, by media type; the first is the default (`*∕*`, no Accept). */
const PREVIEW_TYPES = { 'image/png': 'png', 'image/webp': 'webp' } as const;
type PreviewType = keyof typeof PREVIEW_TYPES;

/** What the preview route needs from the container (src/composition-root.ts builds it). */
export interface PreviewDeps {
  /** The `preview` rendition of the design, as a render would make it (same options and watermark), in `format`. */
  render(spec: DesignSpec, image: Uint8Array | undefined, watermarked: boolean, format: 'png' | 'webp'): Promise<RenderedImage>;
  /** The caller's design images: an upload of `ownerId` (null for none, or someone else's) and its normalised original's bytes. */
  images: { find(uploadId: string, ownerId: string): Promise<DesignImageUpload | null>; read(key: string): Promise<Uint8Array> };
  /** WATERMARK_DEFAULT: whether a body without `watermark` is watermarked, as for a design. */
  watermarkDefault: boolean;
  /** PREVIEW_RATE_LIMIT per PREVIEW_RATE_WINDOW per user; counted in Redis when given (every API process shares it), else in this process. */
  rateLimit: { max: number; timeWindowMs: number; redis?: Redis };
}

export interface PreviewRoutesOptions {
  previews: PreviewDeps;
  verifyToken: TokenVerifier;
}

/**
 * `POST /api/v1/previews`: a design body (as POST /api/v1/designs takes it) answered with its
 * preview's bytes, rendered on the request. Nothing is stored, queued or recorded: a shop's
 * editor can show each change as the customer makes it, and create the design once it is done.
 */
export async function previewRoutes(app: FastifyInstance, options: PreviewRoutesOptions): Promise<void> {
  const { previews } = options;
  const { max, timeWindowMs, redis } = previews.rateLimit;
  requireBearerAuth(app, options.verifyToken);
  // After the token check (an instance hook, run before the route's): the rate is the user's, not the address's.
  await app.register(rateLimit, {
    max,
    timeWindow: timeWindowMs,
    keyGenerator: (request: FastifyRequest) => request.userId,
    nameSpace: 'customify-previews:',
    ...(redis ? { redis } : {}),
    // A Redis outage lets previews through rather than failing them: the limit guards the CPU, it keeps no account.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new AppError('RATE_LIMITED',
      `Too many previews: at most ${context.max} per ${formatDuration(timeWindowMs)} per user. Retry after ${Math.max(1, Math.ceil(context.ttl / 1000))} s (Retry-After).`),
  });

  app.post('/previews', {
    schema: {
      summary: 'Render a design\'s preview (600 px) and answer its bytes; nothing is stored',
      description:
        'The body is the body of POST /api/v1/designs (`product_type`, `design_data`, optional `watermark`), validated the same way with the same error codes and fields. ' +
        'Answers the `preview` rendition a render of that design would make: `image/webp` or `image/png` by the `Accept` header (PNG when Accept is absent or `*/*`; 406 NOT_ACCEPTABLE when it allows neither). ' +
        'No design, file or job is made. `design_data.image.upload_id` must name your own PUBLISHED upload (409 UPLOAD_NOT_READY while it is being checked). ' +
        'Each user may ask for PREVIEW_RATE_LIMIT previews per PREVIEW_RATE_WINDOW (default 120 per minute): past it, 429 RATE_LIMITED with `Retry-After`.',
      operationId: 'renderPreview',
      tags: ['designs'],
      security: [{ bearerAuth: [] }],
      body: createDesignBody,
      response: {
        200: {
          description: 'The preview, 600x600. `Cache-Control: no-store`, `Vary: Accept`.',
          content: {
            'image/png': { schema: { type: 'string', format: 'binary' } },
            'image/webp': { schema: { type: 'string', format: 'binary' } },
          },
        },
        404: { ...errorResponse, description: 'UPLOAD_NOT_FOUND: design_data.image.upload_id names no upload of yours.' },
        406: { ...errorResponse, description: 'NOT_ACCEPTABLE: Accept allows neither image/png nor image/webp.' },
        409: { ...errorResponse, description: 'UPLOAD_REJECTED: the upload was rejected; UPLOAD_NOT_READY: it is still being checked (retry in a few seconds).' },
        429: errorResponseFor(429),
      },
    },
    // As POST /designs: when the compiled schema refuses the body, the domain's guard names the field and rule.
    attachValidation: true,
  }, async (request, reply) => {
    if (request.validationError) throwDesignBodyError(request.validationError, request.body);
    const type = previewType(request.headers.accept);
    const { spec, watermark } = parseDesignRequest(request.body);
    const image = await designImage(previews.images, spec, request.userId);
    const preview = await previews.render(spec, image, watermark ?? previews.watermarkDefault, PREVIEW_TYPES[type]);
    // Added to what CORS may have put there (Vary: Origin), never in place of it.
    const vary = reply.getHeader('vary');
    return reply
      .type(type)
      .header('cache-control', 'no-store')
      .header('vary', vary === undefined ? 'Accept' : `${String(vary)}, Accept`)
      .header('content-length', preview.data.length)
      .send(preview.data);
  });
}

/**
 * The preview's media type for an Accept header: the acceptable one with the highest q, the more
 * specific range winning a tie (a browser's `image/webp,...,*∕*;q=0.8` gets WebP), then PNG.
 * Throws NOT_ACCEPTABLE when neither is acceptable.
 */
export function previewType(accept: string | undefined): PreviewType {
  const types = Object.keys(PREVIEW_TYPES) as PreviewType[];
  if (accept === undefined || accept.trim() === '') return types[0]!;
  const ranges = accept.split(',').map((part) => {
    const [range = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const q = params.find((param) => param.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { range, q: Number.isFinite(quality) ? quality : 0 };
  });
  let best: { type: PreviewType; q: number; specificity: number } | undefined;
  for (const type of types) {
    const [major] = type.split('/');
    // The most specific range that matches decides the type's q (RFC 9110, 12.5.1).
    let match: { q: number; specificity: number } | undefined;
    for (const { range, q } of ranges) {
      const specificity = range === type ? 3 : range === `${major}/*` ? 2 : range === '*/*' ? 1 : 0;
      if (specificity > 0 && (!match || specificity > match.specificity)) match = { q, specificity };
    }
    if (match && match.q > 0 && (!best || match.q > best.q || (match.q === best.q && match.specificity > best.specificity))) best = { type, ...match };
  }
  if (!best) {
    throw new AppError('NOT_ACCEPTABLE', `A preview is image/png or image/webp, and the Accept header (${JSON.stringify(accept.slice(0, 200))}) allows neither: send Accept: image/webp, image/png or */*.`, {
      field: 'Accept',
    });
  }
  return best.type;
}

/**
 * The bytes of the design's image for a preview, read as a render reads them: only the caller's
 * own upload, and only once PUBLISHED (a render would wait for it; a preview cannot).
 */
async function designImage(images: PreviewDeps['images'], spec: DesignSpec, ownerId: string): Promise<Uint8Array | undefined> {
  const uploadId = spec.design_data.image?.upload_id;
  if (uploadId === undefined) return undefined;
  const upload = await images.find(uploadId.toLowerCase(), ownerId);
  if (!upload) throw uploadNotFound();
  const field = 'design_data.image.upload_id';
  if (upload.status === 'REJECTED') {
    throw new AppError('UPLOAD_REJECTED', `design_data.image.upload_id names an upload that was rejected (${upload.reason ?? 'REJECTED'}): it cannot be used. Upload another image.`, { field });
  }
  if (upload.status !== 'PUBLISHED' || upload.originalKey === null) {
    throw new AppError('UPLOAD_NOT_READY', `Upload ${upload.id} is still being checked (${upload.status}): a preview needs it PUBLISHED. Retry in a few seconds (GET /api/v1/uploads/${upload.id} shows its status).`, { field });
  }
  return images.read(upload.originalKey);
}
