import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NodeRequest } from 'srvx/node';
import type { TokenVerifier } from '../auth/jwt.js';
import { TUS_MAX_SIZE_DESCRIPTION, tusCreateHeaders, tusHeadHeaders, tusIdParams, tusPatchHeaders, tusResponseHeaders } from './tus-schemas.js';
import type { TusUploads } from '../uploads/tus-uploads.js';
import { requireBearerAuth } from './auth.js';
import { errorResponse } from './schemas.js';
import { cutSlowUpload } from './upload-timeout.js';

export interface TusRoutesOptions {
  tus: TusUploads;
  verifyToken: TokenVerifier;
  /** UPLOAD_TIMEOUT: one POST or PATCH body must arrive within it. */
  uploadTimeoutMs: number;
}

const security = [{ bearerAuth: [] }];
const tags = ['uploads'];
const errors = { 400: errorResponse, 401: errorResponse, 404: errorResponse, 408: errorResponse, 412: errorResponse, 500: errorResponse, 503: errorResponse } as const;
// CORS is the app's; the length is Fastify's (tus bodies are a line of text at most).
const SKIPPED_HEADERS = /^(access-control-|content-length$|connection$)/i;
/** A tus body reaches @tus/server as a web stream of pieces of up to this size. */
const BODY_PIECE_BYTES = 1024 * 1024;
/** Bytes gathered are handed on at the latest this long after the first of them arrived. */
const BODY_PIECE_WAIT_MS = 50;

/**
 * The request body as a web stream of 1 MiB pieces rather than the socket's 16-64 KiB reads.
 * @tus/server turns the web stream back into a Node stream and pipes it through two more
 * before the store, each paying per chunk (promises, queues): with srvx's Readable.toWeb that
 * was a fifth of the server's CPU in the tus benchmark. Gathering costs one copy of the bytes.
 *
 * A slow body is not held back: bytes are handed on BODY_PIECE_WAIT_MS after they arrive at
 * the latest, so when the request is cut (UPLOAD_TIMEOUT) or dropped, what arrived before is
 * already with the store, which keeps it for the resume (@tus/server ends its write gracefully
 * on a request error). Ends like the request: 'end' closes the stream; an error or a close
 * before the end errors it, dropping the bytes of those last milliseconds (the client resumes
 * from HEAD's offset).
 */
function bodyInPieces(raw: IncomingMessage): ReadableStream<Uint8Array> {
  let pieces: Buffer[] = [];
  let gathered = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const onData = (chunk: Buffer) => {
    pieces.push(chunk);
    gathered += chunk.length;
    if (gathered >= BODY_PIECE_BYTES) {
      raw.pause();
      notify();
    } else if (pieces.length === 1) {
      notify(); // the first bytes of a piece: the reader starts the clock on them
    }
  };
  const stop = (error?: Error) => {
    if (ended) return;
    ended = true;
    failure = error;
    raw.off('data', onData);
    notify();
  };
  raw.on('data', onData);
  raw.pause();
  raw.once('end', () => stop());
  raw.once('error', (error) => stop(error));
  raw.once('close', () => stop(raw.complete ? undefined : new Error('The client closed the connection before the end of the body.')));
  const take = (): Buffer => {
    const piece = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, gathered);
    pieces = [];
    gathered = 0;
    return piece;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let due = false;
      let timer: NodeJS.Timeout | undefined;
      while (gathered < BODY_PIECE_BYTES && !ended && !due) {
        const woken = new Promise<void>((resolve) => (wake = resolve));
        raw.resume();
        timer ??= gathered > 0 ? setTimeout(() => { due = true; notify(); }, BODY_PIECE_WAIT_MS) : undefined;
        await woken;
      }
      clearTimeout(timer);
      if (failure) return controller.error(failure);
      if (gathered > 0) controller.enqueue(take());
      if (ended && gathered === 0) controller.close();
    },
    cancel() {
      stop();
      pieces = [];
      gathered = 0;
      raw.resume();
    },
  }, { highWaterMark: 0 });
}

/** srvx's web Request over Node's request, with the body in pieces (above) instead of Readable.toWeb's. */
function tusRequest(request: FastifyRequest, reply: FastifyReply): Request {
  const web = new NodeRequest({ req: request.raw, res: reply.raw });
  let body: ReadableStream<Uint8Array> | null | undefined;
  // An own property shadows srvx's getter; srvx's other members (text(), the native Request) read it through `this.body`.
  Object.defineProperty(web, 'body', {
    get: () => (body ??= request.method === 'GET' || request.method === 'HEAD' ? null : bodyInPieces(request.raw)),
  });
  return web;
}

/**
 * `/api/v1/uploads/tus`: resumable uploads (the tus 1.0 protocol, https://tus.io) for large
 * files and poor connections, behind the same Bearer auth as the other upload routes.
 * The protocol is @tus/server's (see src/uploads/tus-uploads.ts); these routes hand it the
 * request stream as it arrives (in 1 MiB pieces, see bodyInPieces) and answer with its
 * response through Fastify, so request ids, security headers, logs and metrics are the same
 * as everywhere, and refusals are in the API's error shape (with the tus headers).
 */
export async function tusRoutes(app: FastifyInstance, options: TusRoutesOptions): Promise<void> {
  const { tus } = options;

  // The body is the tus server's to read, as it arrives.
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store');
    const timer = cutSlowUpload(request, options.uploadTimeoutMs);
    try {
      const { response, error } = await tus.handle(tusRequest(request, reply), request.userId);
      for (const [name, value] of response.headers) if (!SKIPPED_HEADERS.test(name)) reply.header(name, value);
      timer.check(reply);
      if (error) throw error;
      reply.code(response.status);
      const body = request.method === 'HEAD' || response.status === 204 ? '' : await response.text();
      return body ? reply.type('text/plain; charset=utf-8').send(body) : reply.send();
    } finally {
      timer.clear();
    }
  };

  // eslint-disable-next-line @typescript-eslint/require-await -- a plugin is an async function
  await app.register(async (secured) => {
    requireBearerAuth(secured, options.verifyToken);
    // Discovery (Tus-Version, Tus-Extension, Tus-Max-Size).
    secured.options('/uploads/tus', {
      schema: {
        summary: 'tus discovery: the protocol versions, extensions and size limit this server supports',
        operationId: 'tusOptions', tags, security,
        response: { 204: { type: 'null', description: 'The tus capabilities, in headers.', headers: tusResponseHeaders(['Tus-Version', 'Tus-Extension', 'Tus-Max-Size']) } },
      },
    }, handle);

    secured.post('/uploads/tus', {
      schema: {
        summary: 'tus creation: start a resumable upload (optionally with its first bytes)',
        description: `Answers 201 with Location: /api/v1/uploads/tus/{id}, where {id} is also the upload's id at GET /api/v1/uploads/{id} (and in X-Upload-Id). ${TUS_MAX_SIZE_DESCRIPTION} Unfinished uploads expire after UPLOAD_EXPIRY (Upload-Expires).`,
        operationId: 'createTusUpload', tags, security,
        headers: tusCreateHeaders,
        response: {
          201: { type: 'null', description: 'Created: PATCH the bytes to Location.', headers: tusResponseHeaders(['Location', 'Tus-Resumable', 'Upload-Offset', 'Upload-Expires', 'X-Upload-Id']) },
          ...errors, 413: errorResponse, 415: errorResponse,
        },
      },
      config: { uploadBody: true },
      validatorCompiler: () => () => true,
    }, handle);

    secured.head('/uploads/tus/:id', {
      schema: {
        summary: 'tus: how many bytes of an unfinished upload the server has (resume from Upload-Offset)',
        operationId: 'getTusUploadOffset', tags, security, params: tusIdParams, headers: tusHeadHeaders,
        response: {
          200: { type: 'null', description: 'Upload-Offset: the bytes received; Upload-Length: the whole.', headers: tusResponseHeaders(['Tus-Resumable', 'Upload-Offset', 'Upload-Length', 'Upload-Metadata', 'Cache-Control']) },
          ...errors, 410: errorResponse,
        },
      },
      validatorCompiler: () => () => true,
    }, handle);

    secured.patch('/uploads/tus/:id', {
      schema: {
        summary: 'tus: send the next bytes, starting at Upload-Offset',
        description: 'The body is application/offset+octet-stream. When the last byte arrives the upload enters the pipeline (RECEIVED) and the answer carries X-Upload-Id; poll GET /api/v1/uploads/{id}. A PATCH cut by UPLOAD_TIMEOUT answers 408 and keeps what arrived: HEAD, then resume.',
        operationId: 'patchTusUpload', tags, security, params: tusIdParams, headers: tusPatchHeaders,
        body: { content: { 'application/offset+octet-stream': { schema: { type: 'string', format: 'binary' } } } },
        response: {
          204: { type: 'null', description: 'Stored: Upload-Offset is the new offset.', headers: tusResponseHeaders(['Tus-Resumable', 'Upload-Offset', 'Upload-Expires', 'X-Upload-Id']) },
          ...errors, 409: errorResponse, 410: errorResponse, 413: errorResponse, 415: errorResponse,
        },
      },
      config: { uploadBody: true },
      // The body is a stream read by the tus server; the schemas are for the docs (the tus server checks the headers).
      validatorCompiler: () => () => true,
    }, handle);

    secured.delete('/uploads/tus/:id', {
      schema: {
        summary: 'tus termination: abandon an unfinished upload and free its bytes',
        operationId: 'deleteTusUpload', tags, security, params: tusIdParams, headers: tusHeadHeaders,
        response: { 204: { type: 'null', description: 'Removed.', headers: tusResponseHeaders(['Tus-Resumable']) }, ...errors },
      },
      validatorCompiler: () => () => true,
    }, handle);
  });
}
