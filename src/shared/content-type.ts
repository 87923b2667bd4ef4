import path from 'node:path';

/** The content types this service writes or serves, by file extension. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.avif': 'image/avif',
  '.pdf': 'application/pdf', '.json': 'application/json', '.txt': 'text/plain',
};

/** The content type a key's extension implies; application/octet-stream when it implies none. */
export function contentTypeOf(key: string): string {
  return CONTENT_TYPES[path.extname(key).toLowerCase()] ?? 'application/octet-stream';
}
