import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FONT_NAMES, isFontName, PRODUCT_TYPES, resolveFont } from '../rendering/index.js';
import { errorBody } from './error-handler.js';
import { setStudioSecurityHeaders } from './security-headers.js';

/**
 * Where `npm run build` bundles the studio page (scripts/build-web.js). Beside src/ and dist/
 * alike: both hold http/ one level down, so this is the project's dist/web/ from either.
 */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

export interface StudioRoutesOptions {
  /** The bundled page: index.html and the hashed files it names (default DEFAULT_WEB_ROOT). */
  webRoot?: string;
  /** Whether POST /api/v1/dev/session exists (the page then offers "sign in as a development user"). */
  devSignIn: boolean;
}

interface BuiltFile {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
// The page itself is checked on every load (its ETag answers 304); the files it names carry a
// hash of their content in their name, so a browser keeps them until the page names others.
const PAGE_CACHE = 'no-cache';
const HASHED_CACHE = 'public, max-age=31536000, immutable';
// Font files change only with a release of the package; a day is short enough for that.
const FONT_CACHE = 'public, max-age=86400';
const HASHED_NAME = /^[a-z]+-[A-Z0-9]{8}\.(?:js|css)(?:\.map)?$/;

/**
 * The studio page (issue #14): `GET /` and the bundle it loads, the bundled fonts as web fonts
 * (`/studio/fonts/{font}.ttf`, so each font's name can be shown in its own face) and the
 * choices a design offers (`/studio/catalog.json`: product types and fonts, from the domain's
 * own lists). No token: the page is public, and it calls the API with the user's token.
 * The bundle is read once, at start: a rebuilt page is served after a restart (npm start does both).
 */
export async function studioRoutes(app: FastifyInstance, options: StudioRoutesOptions): Promise<void> {
  const files = await readBuiltFiles(options.webRoot ?? DEFAULT_WEB_ROOT);
  app.addHook('onRequest', setStudioSecurityHeaders);

  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    const page = files.get('index.html');
    if (!page) {
      return reply
        .code(503)
        .type('application/json; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(errorBody({ code: 'STUDIO_NOT_BUILT', message: 'The studio page has not been built: run npm run build (npm start does it), then restart the server.' }, request.id));
    }
    return sendFile(request, reply, page, PAGE_CACHE);
  });

  app.get<{ Params: { file: string } }>('/studio/:file', { schema: { hide: true } }, async (request, reply) => {
    const { file } = request.params;
    if (file === 'catalog.json') return reply.header('cache-control', PAGE_CACHE).send(catalog(options.devSignIn));
    const built = HASHED_NAME.test(file) ? files.get(file) : undefined;
    if (!built) return notFound(request, reply);
    return sendFile(request, reply, built, HASHED_CACHE);
  });

  const fonts = new Map<string, BuiltFile>();
  app.get<{ Params: { file: string } }>('/studio/fonts/:file', { schema: { hide: true } }, async (request, reply) => {
    const name = request.params.file.replace(/\.ttf$/, '');
    if (!request.params.file.endsWith('.ttf') || !isFontName(name)) return notFound(request, reply);
    let font = fonts.get(name);
    if (!font) {
      const body = await readFile(resolveFont(name).file);
      font = { body, type: 'font/ttf', etag: etagOf(body) };
      fonts.set(name, font);
    }
    return sendFile(request, reply, font, FONT_CACHE);
  });
}

/** What the page offers: the product types and fonts a design may name, each font with its web font, and how to sign in. */
export function catalog(devSignIn: boolean): { product_types: string[]; fonts: Array<{ name: string; url: string }>; dev_sign_in: boolean } {
  return {
    dev_sign_in: devSignIn,
    product_types: [...PRODUCT_TYPES],
    fonts: FONT_NAMES.map((name) => ({ name, url: `/studio/fonts/${name}.ttf` })),
  };
}

/** index.html and the files beside it, in memory (tens of kilobytes); none when the page was never built. */
async function readBuiltFiles(root: string): Promise<Map<string, BuiltFile>> {
  const files = new Map<string, BuiltFile>();
  let names: string[];
  try {
    names = await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return files;
    throw error;
  }
  for (const name of names) {
    const type = TYPES[path.extname(name)];
    if (!type || name.startsWith('.')) continue;
    const body = await readFile(path.join(root, name));
    files.set(name, { body, type, etag: etagOf(body) });
  }
  return files;
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

function sendFile(request: FastifyRequest, reply: FastifyReply, file: BuiltFile, cacheControl: string): FastifyReply {
  reply.header('cache-control', cacheControl).header('etag', file.etag);
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag)) return reply.code(304).send();
  return reply.type(file.type).send(file.body);
}

function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).type('application/json; charset=utf-8').send(errorBody({ code: 'FILE_NOT_FOUND', message: 'No such file.' }, request.id));
}
