/** Small formatting helpers shared by the CLI commands. */

const BYTE_UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'] as const;

/** `1234567` → `1.2 MB` (decimal units, as S3 consoles show them). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** `1234` → `1,234`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `3` and `object` → `3 objects`. */
export function plural(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
}
