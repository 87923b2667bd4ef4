import { ValidationError } from '../errors.js';
import { UUID_PATTERN } from '../shared/uuid.js';

/**
 * Keyset pagination over (created_at desc, id desc), the one way lists page (designs,
 * uploads): the limit a page takes, and the cursor that names where the next page starts.
 */

export const DEFAULT_LIST_LIMIT = 20;
export const MAX_LIST_LIMIT = 100;

/** The whole numbers 1..MAX_LIST_LIMIT (100), no sign, no leading zero: what checkLimit() accepts. */
export const LIMIT_PATTERN = '^(?:[1-9][0-9]?|100)$';

/**
 * A cursor is `<created_at in ms>_<uuid>`: plain, so that the API document can describe
 * exactly which cursors are accepted (a base64 one could only be described loosely).
 */
export const CURSOR_PATTERN = `^[0-9]{1,15}_${UUID_PATTERN.slice(1)}`;
const CURSOR = new RegExp(CURSOR_PATTERN);

export interface CursorPosition {
  createdAt: number;
  id: string;
}

/** The cursor of the page after `last`, the last item of this one. */
export function encodeCursor(last: { createdAt: Date; id: string }): string {
  return `${last.createdAt.getTime()}_${last.id}`;
}

/** Throws ValidationError INVALID_CURSOR for anything encodeCursor() did not make; `what` names the list ("designs"). */
export function decodeCursor(cursor: string, what: string): CursorPosition {
  if (!CURSOR.test(cursor)) {
    throw new ValidationError(
      'INVALID_CURSOR',
      `The cursor is not one this service issued: pass the next_cursor of the previous page unchanged, or omit it to start from the newest ${what}.`,
      'cursor',
    );
  }
  const [createdAt, id] = cursor.split('_') as [string, string];
  return { createdAt: Number(createdAt), id: id.toLowerCase() };
}

/** DEFAULT_LIST_LIMIT when omitted; throws ValidationError INVALID_LIMIT outside 1..MAX_LIST_LIMIT. */
export function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new ValidationError('INVALID_LIMIT', `limit must be a whole number from 1 to ${MAX_LIST_LIMIT}, got ${limit}`, 'limit');
  }
  return limit;
}
