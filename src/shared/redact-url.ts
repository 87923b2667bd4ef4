/**
 * A connection URL without its password (`postgres://app:***@db:5432/x`, `redis://:***@cache:6379`),
 * for messages and logs. The user name stays: it helps tell which account failed.
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}
