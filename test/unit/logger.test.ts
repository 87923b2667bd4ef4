import { describe, expect, it } from 'vitest';
import { createLogger, resolveLogFormat } from '../../src/logger.js';

function capture(format: 'json' | 'pretty' | 'auto', isProduction = false) {
  const lines: string[] = [];
  const logger = createLogger({ logLevel: 'info', logFormat: format, isProduction }, 'customify', { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

describe('log formats', () => {
  it('auto is readable only outside production and at a terminal', () => {
    expect(resolveLogFormat('auto', { isProduction: false, isTTY: true })).toBe('pretty');
    expect(resolveLogFormat('auto', { isProduction: false, isTTY: false })).toBe('json');
    expect(resolveLogFormat('auto', { isProduction: true, isTTY: true })).toBe('json');
    expect(resolveLogFormat('pretty', { isProduction: true, isTTY: false })).toBe('pretty');
  });

  it('json writes one JSON object per entry', () => {
    const { logger, lines } = capture('json');
    logger.info({ request_id: 'r1', statusCode: 200 }, 'request completed');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, msg: 'request completed', request_id: 'r1', statusCode: 200 });
  });

  it('pretty writes time, level, message and fields on one line, an error\'s stack below', () => {
    const { logger, lines } = capture('pretty');
    logger.info({ request_id: 'r1', url: '/api/v1/designs?limit=2', note: 'two words' }, 'request completed');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}request completed {2}request_id=r1 url=\/api\/v1\/designs\?limit=2 note="two words"\n$/);
    logger.error({ err: new Error('boom') }, 'Render failed');
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR Render failed\n {4}Error: boom\n\s+at /);
    // A JSON line never appears in the readable format.
    expect(lines.some((line) => line.trimStart().startsWith('{'))).toBe(false);
  });

  it('a stream that is not a terminal gets JSON from auto, even in development', () => {
    const { logger, lines } = capture('auto');
    logger.info('hello');
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'hello' });
  });
});
