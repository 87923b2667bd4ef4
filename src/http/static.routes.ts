import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ObjectInfo } from '../storage/index.js';
import type { RenditionMaker } from '../designs/rendition-maker.js';
import { assetVersionOfKey, IMMUTABLE_PUBLIC_CACHE, isImmutableKey, isPrintFileKey, isStorageError, type ObjectStorage } from '../storage/index.js';
import { PRIVATE_PREFIXES } from '../uploads/upload.js';
import { errorBody } from './error-handler.js';
import { setStaticSecurityHeaders } from './security-headers.js';

export interface StaticRoutesOptions {
  storage: ObjectStorage;
  /** Makes a design's rendition on its first request (issue #13); without it, a missing one is 404. */
  renditions?: Pick<RenditionMaker, 'ensure'>;
  /**
   * S3 mode: `/static/*` serves only renditions, made on first request, by redirecting to the
   * stored object's URL (public, CloudFront or freshly signed): the bucket serves the bytes.
   */
  redirectTo?: { url: (key: string) => Promise<string>; publicBucket: boolean };
}

// The same as the uploader sets on S3 objects. The seed's unversioned keys are overwritten by
// a re-render, so come back within the hour; versioned ones never change (issue #13).
const CACHE_CONTROL = 'public, max-age=3600';

/**
 * `GET|HEAD /static/*`: local mode's stand-in for the bucket (the seed's
 * `http://localhost:8000/static/designs/{id}/preview.png`). Objects are read through the
 * ObjectStorage facade, never from a path built here: the facade's key rules (no `..`, no
 * dot-files such as the `.preview.png.meta.json` metadata, no backslash, NUL or percent sign, no empty segment, so no
 * folder listing) and the driver's root and symlink checks apply once, for every caller.
 * Any key they refuse, and any object that is not there, is the same JSON 404.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify takes a plugin without `done` as promise-style only if it returns a promise.
export async function staticRoutes(app: FastifyInstance, options: StaticRoutesOptions): Promise<void> {
  const { storage, renditions, redirectTo } = options;
  // Images for any site, never a document (CORS for /static: security-headers.ts).
  app.addHook('onRequest', setStaticSecurityHeaders);

  if (redirectTo) {
    app.route<{ Params: { '*': string } }>({
      method: ['GET', 'HEAD'],
      url: '/static/*',
      schema: { hide: true },
      handler: async (request, reply) => {
        const key = request.params['*'];
        if (!renditions || assetVersionOfKey(key) === undefined || !(await renditions.ensure(key))) return notFound(request, reply);
        // The target never changes for a public bucket; a signed one expires, so the redirect must not be kept.
        reply.header('cache-control', redirectTo.publicBucket ? IMMUTABLE_PUBLIC_CACHE : 'no-store');
        return reply.redirect(await redirectTo.url(key), 302);
      },
    });
    return;
  }

  app.route<{ Params: { '*': string } }>({
    method: ['GET', 'HEAD'],
    url: '/static/*',
    schema: { hide: true },
    handler: async (request, reply) => {
      const key = request.params['*'];
      let info = await findObject(storage, key);
      // A rendition nobody asked for yet: made now, then served like any other.
      if (!info && renditions && assetVersionOfKey(key) !== undefined && (await renditions.ensure(key))) info = await findObject(storage, key);
      if (!info) return notFound(request, reply);
      setCacheHeaders(reply, key, info);
      if (isNotModified(request, info)) return reply.code(304).send();
      if (request.method === 'HEAD') {
        return reply.type(info.contentType ?? 'application/octet-stream').header('content-length', info.size).send();
      }
      let object;
      try {
        object = await storage.get(key);
      } catch (error) {
        // Deleted between the head and the read.
        if (isStorageError(error, 'STORAGE_OBJECT_NOT_FOUND')) return notFound(request, reply);
        throw error;
      }
      setCacheHeaders(reply, key, object);
      return reply.type(object.contentType ?? 'application/octet-stream').header('content-length', object.size).send(object.body);
    },
  });
}

/** The object's metadata, or null when it is absent or the key is one the facade refuses. */
async function findObject(storage: ObjectStorage, key: string): Promise<ObjectInfo | null> {
  // Uploads as received and quarantined files are never served (issue #11).
  if (PRIVATE_PREFIXES.some((prefix) => key.startsWith(prefix))) return null;
  // Print files are for production only (issue #12): the API's authenticated route serves them.
  if (isPrintFileKey(key)) return null;
  try {
    return await storage.head(key);
  } catch (error) {
    if (isStorageError(error, 'STORAGE_INVALID_KEY')) return null;
    throw error;
  }
}

function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .type('application/json; charset=utf-8')
    .send(errorBody({ code: 'FILE_NOT_FOUND', message: 'No such file.' }, request.id));
}

/** A weak validator: size and modification time, as most static servers derive it. */
export function etagOf(info: Pick<ObjectInfo, 'size' | 'lastModified'>): string {
  return `W/"${info.size.toString(16)}-${info.lastModified.getTime().toString(16)}"`;
}

function setCacheHeaders(reply: FastifyReply, key: string, info: ObjectInfo): void {
  reply.header('etag', etagOf(info));
  reply.header('last-modified', info.lastModified.toUTCString());
  reply.header('cache-control', isImmutableKey(key) ? IMMUTABLE_PUBLIC_CACHE : CACHE_CONTROL);
}

/** RFC 9110 §13.1: If-None-Match (weak comparison) wins; If-Modified-Since only without it. */
function isNotModified(request: FastifyRequest, info: ObjectInfo): boolean {
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const current = etagOf(info).replace(/^W\//, '');
    return ifNoneMatch.split(',').some((tag) => {
      const t = tag.trim();
      return t === '*' || t.replace(/^W\//, '') === current;
    });
  }
  const ifModifiedSince = request.headers['if-modified-since'];
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    // HTTP dates have whole seconds.
    return Number.isFinite(since) && Math.floor(info.lastModified.getTime() / 1000) * 1000 <= since;
  }
  return false;
}
