import type { Redis } from 'ioredis';
import { readRedisInfo, versionAtLeast } from './redis-info.ts';

export class RedisPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisPolicyError';
  }
}

/**
 * Any eviction policy but noeviction lets Redis silently drop queued mail (or BullMQ's own keys)
 * under memory pressure. Every service refuses to start against such a Redis.
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const memory = await readRedisInfo(redis, 'memory');
  const policy = memory.maxmemory_policy;
  if (policy !== 'noeviction') {
    throw new RedisPolicyError(
      `Redis maxmemory-policy is "${policy ?? 'unknown'}"; Outpost requires "noeviction" ` +
        '(set `maxmemory-policy noeviction` in redis.conf or run `CONFIG SET maxmemory-policy noeviction`)',
    );
  }
}

/** How an accepted message is made durable before we answer 250. */
export type Durability = 'fsync' | 'waitaof' | 'none';

/**
 * "fsync": AOF with appendfsync always, Redis fsyncs before it replies.
 * "waitaof": AOF with everysec; WAITAOF 1 0 (Redis >= 7.2) waits until our write is fsynced.
 * "none": neither (development only, or an explicit operator choice).
 */
export async function resolveDurability(
  redis: Redis,
  wanted: 'auto' | Durability,
  allowNone: boolean,
): Promise<Durability> {
  if (wanted === 'none') return 'none';
  const server = await readRedisInfo(redis, 'server');
  const supportsWaitAof = versionAtLeast(server.redis_version ?? '0', '7.2.0');
  let appendonly: string | undefined;
  let appendfsync: string | undefined;
  try {
    const config = (await redis.call('CONFIG', 'GET', 'append*')) as string[];
    const values = new Map<string, string>();
    for (let i = 0; i + 1 < config.length; i += 2) values.set(config[i]!, config[i + 1]!);
    appendonly = values.get('appendonly');
    appendfsync = values.get('appendfsync');
  } catch {
    // Managed Redis often disables CONFIG: fall back to what INFO persistence tells.
    const persistence = await readRedisInfo(redis, 'persistence');
    appendonly = persistence.aof_enabled === '1' ? 'yes' : 'no';
  }
  const aof = appendonly === 'yes';
  if ((wanted === 'auto' || wanted === 'fsync') && aof && appendfsync === 'always') return 'fsync';
  if ((wanted === 'auto' || wanted === 'waitaof') && aof && supportsWaitAof) return 'waitaof';
  if (allowNone) return 'none';
  throw new RedisPolicyError(
    `Redis does not make accepted mail durable (appendonly=${appendonly ?? '?'}, appendfsync=${appendfsync ?? '?'}, ` +
      `version ${server.redis_version ?? '?'}): run it with \`appendonly yes\` and \`appendfsync always\`, ` +
      'or everysec on Redis >= 7.2 (WAITAOF); OUTPOST_REDIS_DURABILITY=none accepts the risk explicitly',
  );
}
