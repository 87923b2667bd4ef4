/**
 * `promise`, or a rejection with `onTimeout()` if it has not settled within `ms`. The timer is
 * cleared either way, so a finished call leaves nothing that keeps the process alive. The
 * promise itself is not cancelled: callers that own a resource close it.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
