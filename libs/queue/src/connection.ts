import { Redis } from 'ioredis';

/**
 * Producers (ingest) fail fast while Redis is unreachable so a client gets 451 within seconds,
 * instead of a reply that waits on a reconnect. Workers wait forever on blocking commands, as
 * BullMQ requires (`maxRetriesPerRequest: null`).
 */
export function createRedisConnection(
  url: string,
  role: 'producer' | 'worker',
  commandTimeoutMs = 5_000,
): Redis {
  const common = { connectionName: `outpost-${role}`, lazyConnect: false } as const;
  if (role === 'producer') {
    return new Redis(url, {
      ...common,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: commandTimeoutMs,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
    });
  }
  return new Redis(url, {
    ...common,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitForRedis(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
