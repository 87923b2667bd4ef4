/** Sent on the creating POST and the final PATCH: the id of GET /api/v1/uploads/{id} (also the last segment of Location). */
export const UPLOAD_ID_HEADER = 'X-Upload-Id';

/**
 * The headers a browser's tus client (tus-js-client, Uppy) sends and must be allowed to send
 * across origins (CORS preflight), and those it must be allowed to read from the answers
 * (Upload-Offset to resume, Location and X-Upload-Id for the upload): the tus 1.0 protocol's,
 * with its extensions this server supports, and X-HTTP-Method-Override for clients behind
 * proxies that drop PATCH.
 */
export const TUS_REQUEST_HEADERS = ['Tus-Resumable', 'Upload-Length', 'Upload-Offset', 'Upload-Metadata', 'Upload-Defer-Length', 'Upload-Concat', 'X-HTTP-Method-Override', 'X-Requested-With'] as const;
export const TUS_RESPONSE_HEADERS = ['Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size', 'Upload-Offset', 'Upload-Length', 'Upload-Metadata', 'Upload-Expires', 'Upload-Defer-Length', 'Upload-Concat', UPLOAD_ID_HEADER] as const;
