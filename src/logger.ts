import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * How log lines look. `json`: pino's JSON lines, one per entry, for log shippers and
 * production. `pretty`: one readable line per entry (time, level, message, then the fields as
 * key=value) for a person at a terminal. `auto` (LOG_FORMAT's default): pretty when
 * NODE_ENV is not production and stdout is a terminal, JSON otherwise (a pipe, a file, a
 * container's log driver). Whatever the choice, a process writes one format only.
 */
export type LogFormat = 'auto' | 'json' | 'pretty';

export function resolveLogFormat(format: LogFormat, context: { isProduction: boolean; isTTY: boolean }): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return !context.isProduction && context.isTTY ? 'pretty' : 'json';
}

export interface LoggerSettings {
  logLevel: string;
  logFormat?: LogFormat;
  isProduction?: boolean;
}

/** The process logger, one per entry point, on stdout (or `destination`, for tests). */
export function createLogger(settings: LoggerSettings, name = 'customify', destination: DestinationStream = process.stdout): Logger {
  const format = resolveLogFormat(settings.logFormat ?? 'auto', {
    isProduction: settings.isProduction ?? false,
    isTTY: destination === process.stdout && process.stdout.isTTY === true,
  });
  return pino({ name, level: settings.logLevel }, format === 'pretty' ? prettyDestination(destination) : destination);
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
// Fields every line has, shown in the prefix or not at all.
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name', 'err', 'v']);

/** Turns pino's JSON lines into `12:00:01.234 INFO  message key=value`, with an error's stack below. */
export function prettyDestination(out: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      out.write(`${formatEntry(entry)}\n`);
    },
  };
}

export function formatEntry(entry: Record<string, unknown>): string {
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = LEVELS[entry.level as number] ?? String(entry.level);
  const fields = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/[\s"]/.test(value) ? value : JSON.stringify(value)}`);
  let text = `${time} ${level} ${typeof entry.msg === 'string' ? entry.msg : ''}${fields.length ? `  ${fields.join(' ')}` : ''}`;
  const err = entry.err as { stack?: string; message?: string } | undefined;
  if (err) text += `\n    ${(err.stack ?? err.message ?? JSON.stringify(err)).split('\n').join('\n    ')}`;
  return text;
}
