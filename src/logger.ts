import { pino, type Logger } from 'pino';

export type { Logger };

/** The process logger. JSON lines on stdout, as pino writes them; one per entry point. */
export function createLogger(level: string, name = 'customify'): Logger {
  return pino({ name, level });
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
