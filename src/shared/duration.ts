/**
 * The one duration syntax of the service, for environment variables and command-line options
 * alike: a number and a unit, `500ms`, `30s`, `5m`, `12h`, `90d`, `2w` (`1.5h` too).
 *
 * A bare number is refused: `90` could be milliseconds, seconds or days, and each reading has
 * bitten someone (`cleanup --older-than 90` selecting everything). The only exception is a
 * variable whose name states its unit (`RENDER_BACKOFF_MS`) or that the seed defined in
 * seconds (`S3_SIGNED_URL_EXPIRES`): its caller passes `bareUnit`.
 */

export const DURATION_UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
export type DurationUnit = keyof typeof DURATION_UNITS;

/** For messages and help: what a duration looks like. */
export const DURATION_EXAMPLES = '500ms, 30s, 5m, 12h, 90d or 2w';

const DURATION = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/;

/** A duration that does not parse; the message says what was wrong and what is accepted. */
export class DurationError extends Error {}

/**
 * `value` → whole milliseconds. Throws DurationError for anything else: no unit (unless
 * `bareUnit` is given), an unknown unit, a sign, or more than Number.MAX_SAFE_INTEGER ms.
 */
export function parseDuration(value: string, options: { bareUnit?: DurationUnit } = {}): number {
  const trimmed = value.trim();
  const match = DURATION.exec(trimmed);
  if (!match) throw new DurationError(`expected a number and a unit such as ${DURATION_EXAMPLES}, got ${JSON.stringify(value)}`);
  const unit = match[2] || options.bareUnit;
  if (!unit) {
    throw new DurationError(`${JSON.stringify(value)} has no unit: write it with one, e.g. ${match[1]}s or ${match[1]}m (units: ms, s, m, h, d, w)`);
  }
  if (!Object.hasOwn(DURATION_UNITS, unit)) {
    throw new DurationError(`unknown unit "${unit}" in ${JSON.stringify(value)}: use ms, s, m, h, d or w, e.g. ${DURATION_EXAMPLES}`);
  }
  const ms = Math.round(Number(match[1]) * DURATION_UNITS[unit as DurationUnit]);
  if (!Number.isSafeInteger(ms)) throw new DurationError(`${JSON.stringify(value)} is too long`);
  return ms;
}

/** `ms` the way a person writes it: the largest unit that divides it, `90d`, `30s`, `250ms`. */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms !== 0 && ms % DURATION_UNITS[unit] === 0) return `${ms / DURATION_UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
