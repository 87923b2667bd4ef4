/**
 * Every error code the service can report, with the HTTP status it answers with and what
 * it means. The one place a code gets its status: `AppError` only accepts an `ErrorCode`, so a
 * new code must be added here (with its status) before it compiles, and cannot become a 500
 * by accident of its spelling. The HTTP error handler reads `status`; the OpenAPI document can
 * list the codes of each status with `errorCodesWithStatus()`.
 *
 * Codes used only by the command line (`cli: true`) have the status they would have if they
 * did reach HTTP: 400 for bad input, 500 for our own faults.
 */

export interface ErrorCodeInfo {
  /** The HTTP status this code answers with. */
  status: 400 | 401 | 403 | 404 | 405 | 406 | 408 | 409 | 410 | 412 | 413 | 414 | 415 | 429 | 431 | 500 | 503;
  /** What it means, for the API documentation. */
  description: string;
  /** Reported by the command line only; never an HTTP answer. */
  cli?: true;
}

export const ERROR_CODES = {
  // Request shape: the HTTP layer and Node's parser.
  BAD_REQUEST: { status: 400, description: 'The request is malformed (HTTP syntax, headers or framing).' },
  VALIDATION_FAILED: { status: 400, description: 'The request does not match the API schema.' },
  INVALID_TYPE: { status: 400, description: 'A field has the wrong JSON type.' },
  FIELD_REQUIRED: { status: 400, description: 'A required field is missing.' },
  INVALID_VALUE: { status: 400, description: 'A field has a value outside the values it accepts.' },
  UNKNOWN_FIELD: { status: 400, description: 'A field the API does not know was sent.' },
  INVALID_JSON: { status: 400, description: 'The body is not valid JSON.' },
  INVALID_UTF8: { status: 400, description: 'The body is not valid UTF-8.' },
  INVALID_CONTENT_LENGTH: { status: 400, description: 'Content-Length does not match the body.' },
  INVALID_URL: { status: 400, description: 'The URL is not valid (bad percent-encoding).' },
  DUPLICATE_HEADER: { status: 400, description: 'A header that must appear once was sent more than once.' },
  UNAUTHORIZED: { status: 401, description: 'No valid Bearer token: missing, malformed, expired, or not signed by us.' },
  FORBIDDEN: { status: 403, description: 'The token is valid but may not do this.' },
  ROUTE_NOT_FOUND: { status: 404, description: 'No route at this path.' },
  FILE_NOT_FOUND: { status: 404, description: 'No file at this /static path.' },
  METHOD_NOT_ALLOWED: { status: 405, description: 'The path exists but not with this method; the Allow header lists the methods it has.' },
  REQUEST_TIMEOUT: { status: 408, description: 'The request (headers and body) did not arrive within the server\'s time limit.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The body is larger than the limit.' },
  URI_TOO_LONG: { status: 414, description: 'The URL or a path parameter is too long.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The body is not sent as application/json.' },
  NOT_ACCEPTABLE: { status: 406, description: 'The Accept header asks only for formats this route cannot answer with; the message lists those it can.' },
  RATE_LIMITED: { status: 429, description: 'Too many requests of this kind in the window: wait the `Retry-After` seconds.' },
  HEADERS_TOO_LARGE: { status: 431, description: 'The request headers are larger than the limit.' },

  // Design input.
  UNKNOWN_PRODUCT_TYPE: { status: 400, description: 'product_type is not one of the supported products.' },
  UNKNOWN_FONT: { status: 400, description: 'The font is not one of the bundled fonts.' },
  INVALID_COLOR: { status: 400, description: 'A colour is not a hex colour like #FF0000.' },
  TEXT_REQUIRED: { status: 400, description: 'The text is empty or only whitespace.' },
  TEXT_TOO_LONG: { status: 400, description: 'The text has more characters than allowed.' },
  TOO_MANY_LINES: { status: 400, description: 'The text has more lines than allowed.' },
  TOO_MANY_MARKS: { status: 400, description: 'The text stacks more combining marks (accents) on one character than a print can show (more than 30).' },
  INVALID_TEXT: { status: 400, description: 'The text contains characters that are not allowed (control characters).' },
  UNSUPPORTED_CHARACTERS: { status: 400, description: 'The text has characters no bundled font can draw; the message names them and the scripts that work.' },
  LOW_CONTRAST: { status: 400, description: 'A warning on design responses, not a refusal: the text colour is too close to the background colour to be seen.' },
  INVALID_DESIGN_ID: { status: 400, description: 'The design id is not a UUID.' },
  INVALID_LIMIT: { status: 400, description: 'limit is not a whole number in range.' },
  INVALID_CURSOR: { status: 400, description: 'cursor is not a next_cursor this service issued.' },
  INVALID_OWNER_ID: { status: 400, description: 'A design needs a non-empty owner.' },

  // User uploads (the upload pipeline's rejection reasons) and virus scanning.
  UNSUPPORTED_TYPE: { status: 415, description: 'The file is not a JPEG, PNG, WebP, AVIF or still GIF (judged from its bytes, not its name).' },
  TOO_LARGE: { status: 413, description: 'The file is larger than the upload limit.' },
  TOO_MANY_PIXELS: { status: 400, description: 'The image has more pixels than the limit (a decompression bomb, or simply too large).' },
  CORRUPT: { status: 400, description: 'The file is empty, truncated or cannot be decoded.' },
  SCAN_UNAVAILABLE: { status: 503, description: 'The virus scanner cannot be reached; the scan is retried.' },
  SCAN_TIMEOUT: { status: 503, description: 'The virus scanner did not answer in time; the scan is retried.' },
  SCAN_TOO_LARGE: { status: 413, description: 'The file is over the virus scanner\'s stream limit.' },
  SCAN_PROTOCOL: { status: 500, description: 'The virus scanner answered something unreadable.' },
  UPLOAD_FAILED: { status: 500, description: 'Processing an upload failed for good for a cause that is not the file\'s; it is REJECTED without a reason and its message says what to do.' },
  SCAN_INPUT_FAILED: { status: 500, description: 'The staged file could not be read for scanning; the scan is retried.' },
  UPLOAD_NOT_FOUND: { status: 404, description: 'No such upload, or it belongs to someone else.' },
  INVALID_UPLOAD_ID: { status: 400, description: 'The upload id is not a UUID.' },
  UPLOAD_FILE_REQUIRED: { status: 400, description: 'A multipart upload has no `file` field.' },
  AVATAR_NOT_FOUND: { status: 404, description: 'You have no avatar: none was ever uploaded, or it was deleted.' },
  UPLOAD_TIMEOUT: { status: 408, description: 'The upload body did not arrive within UPLOAD_TIMEOUT; a direct upload\'s bytes are removed, a tus upload keeps them and can resume.' },
  UPLOAD_OFFSET_CONFLICT: { status: 409, description: 'A tus PATCH sent Upload-Offset other than the bytes received so far: HEAD the upload and resume from its Upload-Offset.' },
  UPLOAD_EXPIRED: { status: 410, description: 'The unfinished tus upload is older than UPLOAD_EXPIRY and no longer accepts bytes: start a new one.' },
  TUS_VERSION_REQUIRED: { status: 412, description: 'A tus request without `Tus-Resumable: 1.0.0`.' },
  TUS_INVALID_REQUEST: { status: 400, description: 'A tus request with a missing or invalid header (Upload-Length, Upload-Offset, Upload-Metadata, Content-Type) or an extension the server lacks.' },
  UPLOAD_IN_USE: { status: 409, description: 'The upload is the image of designs (the message names them); delete those designs first.' },
  UPLOAD_REJECTED: { status: 409, description: 'design_data.image.upload_id names an upload that was rejected (infected, unsupported, corrupt...): it cannot be used.' },
  UPLOAD_NOT_READY: { status: 409, description: 'design_data.image.upload_id names an upload still being checked (virus scan, normalising): an instant preview needs it PUBLISHED; retry in a few seconds.' },
  DESIGN_IMAGE_UNAVAILABLE: { status: 409, description: 'A design\'s image upload was rejected or is gone: the design is FAILED with this message in its error field.' },

  // Print files.
  LOW_RESOLUTION: { status: 400, description: 'A warning on print files (`print_warnings`), not a refusal: the design\'s image prints under 150 DPI at the product\'s print size and will look blurry; upload a larger image or make it smaller.' },
  PRINT_IMAGE_MISSING: { status: 500, description: 'Print files were asked for a design with `design_data.image` without a way to read its image (a caller that does not pass loadImage).' },
  PRINT_TEXT_TOO_LARGE: { status: 400, description: 'The design\'s text cannot fit the product\'s print area at the smallest legible size; the message names the text.' },

  // Designs.
  DESIGN_NOT_FOUND: { status: 404, description: 'No such design, or it belongs to someone else.' },
  DESIGN_ALREADY_EXISTS: { status: 409, description: 'A design with this id already exists.' },
  DESIGN_CONTENDED: { status: 409, description: 'The design is being changed by another request; retry.' },
  DESIGN_BUSY: { status: 409, description: 'The design is being rendered right now and this change needs a new render; send it again in a few seconds.' },
  INVALID_STATUS_TRANSITION: { status: 409, description: 'The design\'s status does not allow this (e.g. a render while one is queued or running).' },
  PRINT_NOT_AVAILABLE: { status: 409, description: 'Print files are made from a PUBLISHED design: this one is still rendering (retry once PUBLISHED) or FAILED (re-render it first); the message names its status.' },
  PRINT_FILES_NOT_READY: { status: 404, description: 'The design\'s print files are not ready (print_status is not READY), or its product makes no such file.' },

  // Our own faults and the services we depend on (5xx; the message is hidden from clients).
  INTERNAL_ERROR: { status: 500, description: 'An unexpected server error; quote the request id when reporting it.' },
  SERVICE_UNAVAILABLE: { status: 503, description: 'A service this request needs is temporarily unavailable; retry shortly.' },
  STUDIO_NOT_BUILT: { status: 503, description: 'The studio page (GET /) has not been bundled: run npm run build (npm start does it), then restart.' },
  CONFIG_INVALID: { status: 500, description: 'A configuration value is invalid.' },
  DATABASE_UNAVAILABLE: { status: 503, description: 'The database is unreachable or busy; retry shortly.' },
  DATABASE_ERROR: { status: 500, description: 'The database refused an operation.' },
  DATABASE_URL_UNSUPPORTED: { status: 500, description: 'DATABASE_URL names a database kind the service does not support.', cli: true },
  SQLITE_DRIVER_MISSING: { status: 500, description: 'The SQLite driver for this Node version did not load; run npm install.' },
  DATABASE_NOT_READY: { status: 500, description: 'The database has not been created or migrated.', cli: true },
  DATABASE_EMPTY: { status: 500, description: 'The database has no designs, so every stored object would look orphaned.', cli: true },
  MIGRATION_FAILED: { status: 500, description: 'A database migration failed.', cli: true },
  QUEUE_UNAVAILABLE: { status: 503, description: 'The render queue (Redis) is unreachable; retry shortly.' },
  RENDER_POOL_CLOSED: { status: 503, description: 'The renderer is shutting down; the render runs again on the next start.' },
  RENDER_THREAD_DIED: { status: 503, description: 'A render thread stopped mid-render; the design is retried.' },
  RENDER_THREAD_START_FAILED: { status: 503, description: 'A render thread could not start (incomplete installation); the design is retried.' },
  RENDER_FAILED: { status: 500, description: 'A render failed for good; the design is FAILED.' },
  PRINT_FAILED: { status: 500, description: 'A print job failed for good; the design\'s print_status is FAILED with the reason in print_message.' },
  TEXT_RENDER_FAILED: { status: 500, description: 'The text could not be laid out.' },
  FONT_FILE_MISSING: { status: 500, description: 'A bundled font\'s file is missing from the installation.' },
  FONT_UNREADABLE: { status: 500, description: 'A bundled font file cannot be read (damaged installation).' },
  INVALID_IMAGE: { status: 500, description: 'An image produced or read internally could not be decoded.' },
  INVALID_SCENE: { status: 500, description: 'A scene built by code is malformed (a layer outside the canvas, a bad size); the message names the layer.' },
  INVALID_RENDER_OPTION: { status: 500, description: 'A render option from code or configuration is out of range.' },
  INVALID_LEASE: { status: 500, description: 'A render lease duration from configuration is not positive.' },
  STORAGE_CREDENTIALS_MISSING: { status: 500, description: 'No storage credentials were found.' },
  STORAGE_INVALID_CREDENTIALS: { status: 500, description: 'The storage credentials are refused.' },
  STORAGE_ACCESS_DENIED: { status: 500, description: 'Storage refused an action (an IAM permission or a file mode).' },
  STORAGE_BUCKET_NOT_FOUND: { status: 500, description: 'The bucket does not exist in this region.' },
  STORAGE_OBJECT_NOT_FOUND: { status: 500, description: 'A stored object the service expected is missing.' },
  STORAGE_INVALID_KEY: { status: 500, description: 'A storage key failed the key rules.' },
  STORAGE_UNAVAILABLE: { status: 503, description: 'Storage is unreachable; retry shortly.' },
  STORAGE_THROTTLED: { status: 503, description: 'Storage is throttling requests; retry shortly.' },
  STORAGE_DISK_FULL: { status: 500, description: 'The local storage disk is full.' },
  STORAGE_READ_ONLY: { status: 500, description: 'The local storage folder is on a read-only file system.' },
  STORAGE_QUOTA_EXCEEDED: { status: 500, description: 'The local storage folder is over its disk quota.' },
  STORAGE_ERROR: { status: 500, description: 'Another storage failure.' },

  // The command line (never an HTTP answer).
  INVALID_TTL: { status: 400, description: 'customify token --ttl is not a duration in range.', cli: true },
  INVALID_USER: { status: 400, description: 'customify token --user is missing or empty.', cli: true },
  NO_SIGNING_SECRET: { status: 500, description: 'There is no HS256 secret to sign tokens with (JWKS only).', cli: true },
  INVALID_OLDER_THAN: { status: 400, description: 'customify cleanup --older-than is not a duration.', cli: true },
  INVALID_PREFIX: { status: 400, description: 'customify cleanup --prefix is not a valid key prefix.', cli: true },
  INVALID_BATCH_SIZE: { status: 400, description: 'customify cleanup batch size is out of range.', cli: true },
  ORPHANS_NEED_DATABASE: { status: 400, description: 'customify cleanup --orphans needs the service\'s database.', cli: true },
  OUT_REQUIRED: { status: 400, description: 'customify render needs --out.', cli: true },
  WATERMARK_NOT_CONFIGURED: { status: 400, description: 'customify render --watermark needs WATERMARK_TEXT or WATERMARK_IMAGE.', cli: true },
  S3_BUCKET_PRIVATE: { status: 400, description: 'customify s3 setup-policy refuses a public-read policy while S3_PUBLIC_BUCKET=false.', cli: true },
  S3_MODE_REQUIRED: { status: 400, description: 'customify s3 needs USE_LOCAL_STORAGE=false.', cli: true },
  OUT_NOT_A_FOLDER: { status: 400, description: 'customify render --out is not a folder.', cli: true },
  OUT_NOT_WRITABLE: { status: 400, description: 'customify render --out cannot be written.', cli: true },
  WEBHOOK_EVENT_NOT_FOUND: { status: 404, description: 'customify webhooks replay: no event with this id in the delivery log (customify webhooks list shows the ids).', cli: true },
  WEBHOOKS_NOT_CONFIGURED: { status: 400, description: 'customify webhooks replay needs WEBHOOK_URL and WEBHOOK_SECRET.', cli: true },
  WEBHOOK_BUSY: { status: 409, description: 'customify webhooks replay: the event is being sent right now by a worker; try again in a few seconds.', cli: true },
  WEBHOOK_NOT_DELIVERED: { status: 503, description: 'customify webhooks replay: the receiver did not take the event (the message says what it answered); it stays pending and is retried.', cli: true },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * The codes a client can receive with `status`, for the OpenAPI error responses (an `enum`
 * on `error.code`, or a list in the description). Command-line codes are left out, and a 500
 * is always INTERNAL_ERROR: the error handler hides the internal code (it is logged).
 */
export function errorCodesWithStatus(status: number): ErrorCode[] {
  if (status === 500) return ['INTERNAL_ERROR'];
  return (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => {
    const info: ErrorCodeInfo = ERROR_CODES[code];
    return info.status === status && !info.cli;
  });
}
