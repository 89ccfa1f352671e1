/** How long a limiter waits for Redis before it lets the client through. */
export const LIMITER_TIMEOUT_MS = 1_000;

/**
 * Runs a Redis-backed limiter step; when Redis fails or is slow, returns `fallback` instead. Limits
 * protect against abuse but must never stop mail on their own: with Redis down, the message would
 * be refused with 451 at the end of DATA anyway, and nothing is lost by letting MAIL through.
 */
export async function failOpen<T>(
  operation: () => Promise<T>,
  fallback: T,
  onFailure: (error: unknown) => void,
  timeoutMs = LIMITER_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([operation(), timeout]);
  } catch (error) {
    onFailure(error);
    return fallback;
  } finally {
    clearTimeout(timer);
  }
}
