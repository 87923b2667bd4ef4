import { createConnection } from 'node:net';

/**
 * The real Redis the BullMQ tests use: TEST_REDIS_URL, else redis://127.0.0.1:6379. If it is
 * down, its suites are skipped with a message, except when CI is set: then they run and fail.
 */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.write('PING\r\n');
    });
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export const redisAvailable = await reachable(REDIS_URL);

if (!redisAvailable && !process.env.CI) {
  console.warn(`Redis not reachable at ${REDIS_URL}: skipping the BullMQ tests. Start Redis or set TEST_REDIS_URL; with CI set they fail instead.`);
}

/** Skip Redis suites only off CI, where a silent skip would prove nothing. */
export const skipRedis = !redisAvailable && !process.env.CI;
