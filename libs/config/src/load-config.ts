import type { BlockList } from 'node:net';
import { configSchema } from './schema.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

/** At most `limit` messages per sliding `windowMs`. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

export type HighWaterMark = { kind: 'percent'; value: number } | { kind: 'bytes'; value: number };

/** Everything Outpost reads from its environment, validated once at boot. */
export interface Config {
  env: 'production' | 'development';
  redisUrl: string;
  redisDurability: 'auto' | 'fsync' | 'waitaof' | 'none';
  redisHighWater: HighWaterMark;
  hostname: string;
  smtpListen: ListenAddress;
  smtpsListen?: ListenAddress;
  httpListen: ListenAddress;
  tls?: { certFile: string; keyFile: string };
  usersFile?: string;
  apiKeys?: string;
  trustedNetworks: BlockList;
  trustedNetworksText: string;
  relayDomains: string[];
  maxMessageSize: number;
  maxRecipients: number;
  /** Bytes of HTTP request bodies in flight at once; a request past it waits outside (503). */
  httpBodyBudget: number;
  /** Concurrent SMTP sessions per listener and ingest process; one more is answered 421. */
  smtpMaxClients: number;
  /** Ingest processes sharing the listening sockets (node:cluster); one per core uses every core. */
  ingestProcesses: number;
  /** Time the client may stay silent when it owes us a command or data. */
  smtpIdleTimeoutMs: number;
  /** Time any SMTP session may last, however busy. */
  smtpSessionTimeoutMs: number;
  /** Failed AUTH counting (per client address and per user name, over a sliding window). */
  authThrottle: {
    windowMs: number;
    slowAfter: number;
    delayStepMs: number;
    addressLimit: number;
    userLimit: number;
  };
  /** Messages (MAIL transactions) per authenticated user and per untrusted client address; undefined: none. */
  rateLimits: { perUser?: RateLimit; perAddress?: RateLimit };
  queueLifetimeMs: number;
  dnsServers: string[];
  deliveryPort: number;
  transportMap: string;
  allowPrivateDestinations: boolean;
  shutdownGraceMs: number;
  /** DKIM signing keys: a directory `<domain>/<selector>.pem`, and/or inline entries. */
  dkim: { keysDir?: string; keys?: string; useParentDomain: boolean };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** Raised with every problem found, so an operator fixes them all in one go. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  // An empty variable means "not set", as docker compose writes unset ${VARS} as ''.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = configSchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const raw = result.data;
  return Object.freeze({
    env: raw.OUTPOST_ENV,
    redisUrl: raw.REDIS_URL,
    redisDurability: raw.OUTPOST_REDIS_DURABILITY,
    redisHighWater: raw.OUTPOST_REDIS_HIGH_WATER,
    hostname: raw.OUTPOST_HOSTNAME.toLowerCase(),
    smtpListen: raw.OUTPOST_SMTP_LISTEN,
    ...(raw.OUTPOST_SMTPS_LISTEN && { smtpsListen: raw.OUTPOST_SMTPS_LISTEN }),
    httpListen: raw.OUTPOST_HTTP_LISTEN,
    ...(raw.OUTPOST_TLS_CERT &&
      raw.OUTPOST_TLS_KEY && { tls: { certFile: raw.OUTPOST_TLS_CERT, keyFile: raw.OUTPOST_TLS_KEY } }),
    ...(raw.OUTPOST_USERS_FILE && { usersFile: raw.OUTPOST_USERS_FILE }),
    ...(raw.OUTPOST_API_KEYS && { apiKeys: raw.OUTPOST_API_KEYS }),
    trustedNetworks: raw.OUTPOST_TRUSTED_NETWORKS.blockList,
    trustedNetworksText: raw.OUTPOST_TRUSTED_NETWORKS.text,
    relayDomains: raw.OUTPOST_RELAY_DOMAINS,
    maxMessageSize: raw.OUTPOST_MAX_MESSAGE_SIZE,
    maxRecipients: raw.OUTPOST_MAX_RECIPIENTS,
    httpBodyBudget: raw.OUTPOST_HTTP_BODY_BUDGET,
    smtpMaxClients: raw.OUTPOST_SMTP_MAX_CLIENTS,
    ingestProcesses: raw.OUTPOST_INGEST_PROCESSES,
    smtpIdleTimeoutMs: raw.OUTPOST_SMTP_IDLE_TIMEOUT,
    smtpSessionTimeoutMs: raw.OUTPOST_SMTP_SESSION_TIMEOUT,
    authThrottle: Object.freeze({
      windowMs: raw.OUTPOST_AUTH_FAILURE_WINDOW,
      slowAfter: raw.OUTPOST_AUTH_SLOW_AFTER,
      delayStepMs: raw.OUTPOST_AUTH_FAILURE_DELAY,
      addressLimit: raw.OUTPOST_AUTH_MAX_FAILURES_PER_ADDRESS,
      userLimit: raw.OUTPOST_AUTH_MAX_FAILURES_PER_USER,
    }),
    rateLimits: Object.freeze({
      ...(raw.OUTPOST_RATE_LIMIT_PER_USER && { perUser: raw.OUTPOST_RATE_LIMIT_PER_USER }),
      ...(raw.OUTPOST_RATE_LIMIT_PER_ADDRESS && { perAddress: raw.OUTPOST_RATE_LIMIT_PER_ADDRESS }),
    }),
    queueLifetimeMs: raw.OUTPOST_QUEUE_LIFETIME,
    dnsServers: raw.OUTPOST_DNS_SERVERS,
    deliveryPort: raw.OUTPOST_DELIVERY_PORT,
    transportMap: raw.OUTPOST_TRANSPORT_MAP,
    allowPrivateDestinations: raw.OUTPOST_ALLOW_PRIVATE_DESTINATIONS,
    shutdownGraceMs: raw.OUTPOST_SHUTDOWN_GRACE,
    dkim: {
      ...(raw.OUTPOST_DKIM_KEYS_DIR && { keysDir: raw.OUTPOST_DKIM_KEYS_DIR }),
      ...(raw.OUTPOST_DKIM_KEYS && { keys: raw.OUTPOST_DKIM_KEYS }),
      useParentDomain: raw.OUTPOST_DKIM_USE_PARENT_DOMAIN,
    },
    logLevel: raw.LOG_LEVEL,
  });
}
