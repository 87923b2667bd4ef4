/** The API, called with the signed-in user's Bearer token (kept in memory and sessionStorage, never in a URL). */

/** An error answer: `{ "error": { "code", "message", "field"? } }` (src/http/error-handler.ts). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | undefined,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  body?: Blob;
  accept?: string;
  signal?: AbortSignal;
}

export class Api {
  token: string | null = null;
  /** Called on a 401: the token expired or was refused. */
  onUnauthorized: (error: ApiError) => void = () => undefined;

  /** The answer when it is 2xx; otherwise throws ApiError with the API's code, message and field. */
  async request(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.body) {
      headers['content-type'] = options.body.type || 'application/octet-stream';
      body = options.body;
    }
    const response = await fetch(path, { method: options.method ?? 'GET', headers, body, signal: options.signal, cache: 'no-store' });
    if (response.ok) return response;
    const error = await toApiError(response);
    if (response.status === 401) this.onUnauthorized(error);
    throw error;
  }

  async json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return (await (await this.request(path, options)).json()) as T;
  }
}

async function toApiError(response: Response): Promise<ApiError> {
  const retryAfter = Number(response.headers.get('retry-after'));
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; field?: string } };
    const error = body.error ?? {};
    return new ApiError(response.status, error.code ?? 'UNKNOWN', error.message ?? `The server answered ${response.status}.`, error.field, retryAfterSeconds);
  } catch {
    return new ApiError(response.status, 'UNKNOWN', `The server answered ${response.status}.`, undefined, retryAfterSeconds);
  }
}

/** A design as GET /api/v1/designs/{id} answers it (the fields the page uses). */
export interface DesignView {
  id: string;
  status: 'PENDING' | 'RENDERING' | 'PUBLISHED' | 'FAILED' | 'DELETED';
  product_type: string;
  design_data: { text?: string; font: string; color: string; text_color?: string; image?: { upload_id: string } };
  preview_url: string | null;
  thumbnail_url: string | null;
  error: string | null;
  attempts: number;
  created_at: string;
  /** Moves on with every committed change: the order of two states of one design. */
  updated_at: string;
  assets: Record<string, Record<string, { url: string; width?: number; height?: number }>> | null;
}

export interface UploadView {
  id: string;
  status: 'RECEIVED' | 'SCANNING' | 'CLEAN' | 'PUBLISHED' | 'REJECTED' | 'DELETED';
  message: string | null;
  filename: string | null;
}

export interface Catalog {
  product_types: string[];
  fonts: Array<{ name: string; url: string }>;
  dev_sign_in: boolean;
}
