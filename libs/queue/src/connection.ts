import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Command, Redis, type RedisOptions } from 'ioredis';
import { QUEUE_PREFIX } from './names.ts';
import { parseRedisUrl, type RedisTarget } from './redis-url.ts';

export * from './redis-url.ts';

export type RedisRole = 'producer' | 'worker';

export interface ConnectionFeatures {
  /**
   * ioredis auto-pipelining: the commands issued in one event-loop turn (by concurrent jobs, say) go
   * out in one write and one round trip. Only for a connection that carries Outpost's own commands:
   * never one that BullMQ's Queue or Worker objects use (auto-pipelining on Bull's connections is
   * reported to end in "job is not in the active list" errors).
   */
  autoPipelining?: boolean;
}

/** What `new Cluster()` takes (the default, RESP2 reply mapping that BullMQ expects). */
type OutpostClusterOptions = NonNullable<ConstructorParameters<typeof Cluster<'legacy'>>[1]>;

/**
 * Producers (ingest) fail fast while Redis is unreachable so a client gets 451 within seconds,
 * instead of a reply that waits on a reconnect. Workers wait forever on blocking commands, as
 * BullMQ requires (`maxRetriesPerRequest: null`).
 *
 * `url` is any REDIS_URL form (see redis-url.ts): one server, Sentinel or Cluster, with TLS when the
 * scheme ends in "s". `caFile` (OUTPOST_REDIS_CA_FILE) is a PEM bundle trusted for TLS instead of
 * the system's CAs, for managed Redis with a private CA.
 *
 * A Cluster client is returned typed as `Redis`: it answers the same commands, and every Outpost
 * key shares the `{outpost}` hash slot, so multi-key scripts and transactions stay valid.
 */
export function createRedisConnection(
  url: string,
  role: RedisRole,
  commandTimeoutMs = 5_000,
  caFile: string | undefined = process.env.OUTPOST_REDIS_CA_FILE,
  features: ConnectionFeatures = {},
): Redis {
  const target = parseRedisUrl(url);
  const tls = target.tls ? tlsOptions(caFile) : undefined;
  if (target.kind === 'cluster') {
    const cluster = new Cluster(target.nodes, clusterOptions(target, role, commandTimeoutMs, tls, features));
    return routeKeylessCommandsToOutpostSlot(cluster) as unknown as Redis;
  }
  const redis = new Redis(redisOptions(target, role, commandTimeoutMs, tls, features));
  // ioredis 6.0.0 leaves the failover detector's Sentinel subscriptions open after quit(), which
  // keeps the process alive (redis/ioredis#1362, fixed upstream after 6.0.0); disconnect() closes them.
  if (target.kind === 'sentinel') redis.once('end', () => redis.disconnect());
  return redis;
}

const retryStrategy = (times: number) => Math.min(times * 200, 2_000);

/** The options of one server or of a Sentinel-managed master; exported for tests. */
export function redisOptions(
  target: Exclude<RedisTarget, { kind: 'cluster' }>,
  role: RedisRole,
  commandTimeoutMs: number,
  tls?: ConnectionOptions,
  features: ConnectionFeatures = {},
): RedisOptions {
  const common: RedisOptions = {
    ...roleOptions(role, commandTimeoutMs),
    // One server, or the one primary Sentinel names: every pipeline goes to that server.
    ...(features.autoPipelining && { enableAutoPipelining: true }),
    ...credentials(target),
    db: target.db,
    ...(tls && { tls }),
    retryStrategy,
    // After a failover the old primary answers READONLY until it is reconfigured; reconnecting
    // finds the new one (through Sentinel, or the managed service's DNS name). The failed
    // command is not resent: ingest answers 451 and the client retries, workers retry on their own.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
  if (target.kind === 'standalone') return { ...common, ...target.endpoint };
  return {
    ...common,
    sentinels: target.sentinels,
    name: target.masterName,
    ...(target.sentinelUsername !== undefined && { sentinelUsername: target.sentinelUsername }),
    ...(target.sentinelPassword !== undefined && { sentinelPassword: target.sentinelPassword }),
    // Disconnect as soon as a Sentinel announces +switch-master instead of waiting for an error.
    failoverDetector: true,
    ...(tls && { enableTLSForSentinelMode: true, sentinelTLS: tls }),
  };
}

/** The options of a Redis Cluster client; exported for tests. */
export function clusterOptions(
  target: Extract<RedisTarget, { kind: 'cluster' }>,
  role: RedisRole,
  commandTimeoutMs: number,
  tls?: ConnectionOptions,
  features: ConnectionFeatures = {},
): OutpostClusterOptions {
  const { enableOfflineQueue, ...nodeOptions } = roleOptions(role, commandTimeoutMs);
  return {
    lazyConnect: false,
    ...(features.autoPipelining && {
      enableAutoPipelining: true,
      // An auto-pipeline is sent to the node of its commands' keys, or to a random node when none
      // has a key; keyless commands must keep going through sendCommand, which sends them to the
      // {outpost} slot's primary (routeKeylessCommandsToOutpostSlot below).
      autoPipeliningIgnoredCommands: keylessCommands(),
    }),
    // Fail fast like a producer should; the ready check (CLUSTER INFO) would itself be refused
    // while the cluster is not ready yet, so the cluster counts as ready once it knows its slots.
    ...(enableOfflineQueue === false && { enableOfflineQueue, enableReadyCheck: false }),
    clusterRetryStrategy: retryStrategy,
    redisOptions: { ...nodeOptions, ...credentials(target), ...(tls && { tls }) },
    // With TLS, keep host names as given so the certificate is checked against them (managed
    // services announce names; resolving them first would check the certificate against an IP).
    ...(tls && { dnsLookup: (address, callback) => callback(null, address) }),
  };
}

function roleOptions(
  role: RedisRole,
  commandTimeoutMs: number,
): Pick<
  RedisOptions,
  'connectionName' | 'lazyConnect' | 'enableOfflineQueue' | 'maxRetriesPerRequest' | 'commandTimeout'
> {
  const common = { connectionName: `outpost-${role}`, lazyConnect: false } as const;
  if (role === 'producer') {
    return {
      ...common,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: commandTimeoutMs,
    };
  }
  return { ...common, maxRetriesPerRequest: null };
}

function credentials(target: RedisTarget): { username?: string; password?: string } {
  return {
    ...(target.username !== undefined && { username: target.username }),
    ...(target.password !== undefined && { password: target.password }),
  };
}

function tlsOptions(caFile: string | undefined): ConnectionOptions {
  return caFile ? { ca: readFileSync(caFile) } : {};
}

let keyless: string[] | undefined;

/**
 * The commands for which ioredis finds no key in arguments that name none (PING, INFO, SCAN,
 * WAITAOF ..., and EVAL and the like, whose keys depend on their arguments): none of them may join
 * an auto-pipeline on a cluster. Exported for tests.
 */
export function keylessCommands(): string[] {
  keyless ??= Redis.prototype
    .getBuiltinCommands()
    .filter((name) => new Command(name, ['x', 'x', 'x', 'x']).getKeys().length === 0);
  return keyless;
}

/** The hash slot of every Outpost key (`{outpost}:...`). */
export const OUTPOST_SLOT = new Command('exists', [QUEUE_PREFIX]).getSlot() as number;

/**
 * ioredis sends a command without a key (INFO, CONFIG, SCAN, WAITAOF, PING) to a random node. Every
 * Outpost key lives in one slot, so those commands must reach that slot's primary: its memory is
 * what the high-water mark is about, SCAN must see our keys, and WAITAOF must wait on the node our
 * writes went to. Redirections (MOVED after a failover) still apply.
 */
function routeKeylessCommandsToOutpostSlot(cluster: Cluster): Cluster {
  const send = cluster.sendCommand.bind(cluster);
  cluster.sendCommand = (command, stream, node) => {
    if (!node && command.getSlot() === null) (command as unknown as { slot: number }).slot = OUTPOST_SLOT;
    return send(command, stream, node);
  };
  // BullMQ duplicates the connection for its blocking commands: the copy routes the same way.
  const duplicate = cluster.duplicate.bind(cluster);
  cluster.duplicate = ((...args: Parameters<Cluster['duplicate']>) =>
    routeKeylessCommandsToOutpostSlot(duplicate(...args))) as Cluster['duplicate'];
  return cluster;
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
