import { randomUUID } from 'node:crypto';
import { ERRORS, Server, type Upload } from '@tus/server';
import { AppError, describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { payloadTooLarge, type UploadService } from './upload-service.js';
import { fileIdOf, OWNER_METADATA_KEY, uploadIdOfFileId, type TusStagingStore } from './tus-store.js';
import { isUploadId } from './upload.js';
import { UPLOAD_ID_HEADER } from './tus-headers.js';

export interface TusUploadsOptions {
  store: TusStagingStore;
  uploads: UploadService;
  /** The mount path, e.g. /api/v1/uploads/tus: Location headers are `{path}/{upload id}`. */
  path: string;
  maxBytes: number;
  logger: Logger;
}

export { UPLOAD_ID_HEADER };

/** The Upload-Metadata keys read for the display name (tus-js-client's examples use `filename`; Uppy sends `name`). */
const FILENAME_KEYS = ['filename', 'name'] as const;

/** What one tus request answered: the tus response, or an error to answer with instead (with the response's protocol headers). */
export interface TusOutcome {
  response: Response;
  error?: AppError;
}

interface RequestState {
  userId: string;
  error?: unknown;
}

/**
 * Resumable uploads (tus 1.0: creation, creation-with-upload, expiration, termination) over
 * @tus/server, for one user per request. Knows nothing of Fastify: it takes a web Request
 * and the authenticated user, and returns the Response or the error to answer with.
 *
 * - The tus upload id is the id of the upload row: a UUID picked at creation, the last segment
 *   of Location. The bytes arrive at `staging/{id}` (see tus-store.ts).
 * - The owner is recorded in the upload's metadata at creation (a client-sent `owner` is
 *   overwritten); HEAD, PATCH and DELETE on an upload someone else owns answer 404, as if it
 *   did not exist. Upload-Length over the limit is 413 at creation.
 * - When the last byte arrives the upload enters the same pipeline as a direct one
 *   (UploadService.recordStaged: the row RECEIVED, the job queued) before the final PATCH is
 *   answered, with X-Upload-Id; the tus record is then dropped (HEAD answers 404 after).
 */
export class TusUploads {
  readonly server: Server;
  private readonly requests = new WeakMap<Request, RequestState>();

  constructor(private readonly options: TusUploadsOptions) {
    const { store, uploads, logger } = options;
    const stateOf = (req: Request): RequestState => {
      const state = this.requests.get(req);
      if (!state) throw new Error('A tus request reached @tus/server without a user: call TusUploads.handle.');
      return state;
    };
    this.server = new Server({
      path: options.path,
      datastore: store.datastore,
      maxSize: options.maxBytes,
      // Relative: right behind any proxy; tus clients resolve it against the endpoint.
      relativeLocation: true,
      // CORS is the app's (@fastify/cors, CORS_ORIGINS): tus must not answer `*` on its own.
      allowedOrigins: [],
      exposedHeaders: [UPLOAD_ID_HEADER],
      namingFunction: () => fileIdOf(randomUUID()),
      generateUrl: (_req, { path, id }) => `${path}/${uploadIdOfFileId(id) ?? id}`,
      getFileIdFromRequest: (_req, lastPath) => (lastPath && isUploadId(lastPath) ? fileIdOf(lastPath) : undefined),
      disableTerminationForFinishedUploads: true,
      onIncomingRequest: async (req, fileId) => {
        if (req.method === 'POST') return;
        const id = uploadIdOfFileId(fileId);
        const owner = id ? await store.ownerOf(id) : null;
        // Someone else's upload does not exist for this user. @tus/server answers its own refusals (plain objects).
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        if (owner === null || owner !== stateOf(req).userId) throw ERRORS.FILE_NOT_FOUND;
      },
      onUploadCreate: (req, upload) => Promise.resolve({ metadata: { ...upload.metadata, [OWNER_METADATA_KEY]: stateOf(req).userId } }),
      onUploadFinish: async (req, upload) => {
        const id = uploadIdOfFileId(upload.id)!;
        try {
          await uploads.recordStaged(stateOf(req).userId, id, { bytes: upload.size ?? upload.offset, filename: filenameOf(upload) });
        } catch (error) {
          // The staged bytes are gone with the row that could not be written: so is the tus upload.
          await store.finish(id).catch(() => undefined);
          throw error;
        }
        await store.finish(id).catch((error: unknown) =>
          logger.warn(`Upload ${id} recorded, but its tus record could not be removed (customify cleanup removes it once expired): ${describeError(error)}`));
        return { headers: { [UPLOAD_ID_HEADER]: id } };
      },
      onResponseError: (req, error) => {
        const state = this.requests.get(req);
        if (state && !isTusError(error)) state.error = error;
        return undefined;
      },
    });
  }

  /** Answers one tus request by `userId` (already authenticated). */
  async handle(request: Request, userId: string): Promise<TusOutcome> {
    const state: RequestState = { userId };
    this.requests.set(request, state);
    const response = await this.server.handleWeb(request);
    const location = response.headers.get('location');
    if (response.status === 201 && location) response.headers.set(UPLOAD_ID_HEADER, location.slice(location.lastIndexOf('/') + 1));
    if (response.status < 400) return { response };
    const body = await response.text();
    return { response, error: state.error instanceof AppError ? state.error : this.toAppError(response.status, body, state.error) };
  }

  private toAppError(status: number, body: string, cause: unknown): AppError {
    const said = body.trim();
    switch (status) {
      case 404: return new AppError('UPLOAD_NOT_FOUND', 'No unfinished tus upload with this id among yours: create one with POST /api/v1/uploads/tus. A finished one is at GET /api/v1/uploads/{id}.', { field: 'id' });
      case 409: return new AppError('UPLOAD_OFFSET_CONFLICT', 'Upload-Offset is not the number of bytes received so far: send HEAD for the upload and resume from its Upload-Offset.', { field: 'upload-offset' });
      case 410: return new AppError('UPLOAD_EXPIRED', 'This unfinished upload is older than UPLOAD_EXPIRY and was abandoned: start a new upload.', { field: 'id' });
      case 412: return new AppError('TUS_VERSION_REQUIRED', 'Send the header Tus-Resumable: 1.0.0 (tus clients do).', { field: 'tus-resumable' });
      case 413: return payloadTooLarge(this.options.maxBytes);
      case 400: case 403: case 501: return new AppError('TUS_INVALID_REQUEST', `The tus request is not valid: ${said}`, { field: fieldOf(said) });
      default: return new AppError('INTERNAL_ERROR', `The tus server answered ${status}: ${said}`, { cause });
    }
  }
}

/** @tus/server's own refusals are `{ status_code, body }`; anything else is an error of ours or of the store. */
function isTusError(error: unknown): boolean {
  return typeof (error as { status_code?: unknown } | null)?.status_code === 'number';
}

function fieldOf(said: string): string | undefined {
  const header = ['Upload-Offset', 'Upload-Length', 'Upload-Metadata', 'Content-Type', 'Upload-Defer-Length', 'Upload-Concat'].find((name) => said.includes(name));
  return header?.toLowerCase();
}

function filenameOf(upload: Upload): string | null {
  for (const key of FILENAME_KEYS) {
    const value = upload.metadata?.[key];
    if (value) return value;
  }
  return null;
}
