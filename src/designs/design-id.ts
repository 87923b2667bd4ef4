import { ValidationError } from '../errors.js';
import { isUuid, UUID_PATTERN } from '../shared/uuid.js';

/** A design id: a UUID, either case. Also the JSON Schema pattern of ids in the API. */
export const DESIGN_ID_PATTERN = UUID_PATTERN;

export function isDesignId(value: unknown): value is string {
  return isUuid(value);
}

/** Design ids are UUIDs; anything else is refused before any I/O. */
export function assertDesignId(value: unknown, field = 'design_id'): string {
  if (!isDesignId(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
    throw new ValidationError('INVALID_DESIGN_ID', `Design id must be a UUID such as 3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b, got ${shown}`, field);
  }
  return value.toLowerCase();
}
