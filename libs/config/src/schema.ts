import { BlockList, isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { domainToASCII } from 'node:url';
import { z } from 'zod';
import {
  boolean,
  byteSize,
  duration,
  integer,
  list,
  listen,
  optionalListen,
  positiveDuration,
  redisUrl,
} from './fields.ts';
import { parseByteSize, parseDuration } from './units.ts';

/**
 * A message rate: "1000/1h" (at most 1000 per sliding hour); "0" or "off" for no limit (undefined).
 */
const rate = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const trimmed = text.trim().toLowerCase();
      if (trimmed === '0' || trimmed === 'off') return undefined;
      const match = trimmed.match(/^(\d+)\s*\/\s*(.+)$/);
      const windowMs = match ? parseDuration(match[2]!) : undefined;
      if (!match || windowMs === undefined || windowMs <= 0 || Number(match[1]) < 1) {
        ctx.addIssue({ code: 'custom', message: `expected a rate like 1000/1h, or 0 for no limit` });
        return undefined;
      }
      return { limit: Number(match[1]), windowMs };
    });

const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Domain list, stored as lower-case A-labels (RFC 5890) so they compare with envelope domains. */
const domains = z
  .string()
  .default('')
  .transform((text, ctx) =>
    list(text).map((domain) => {
      const ascii = domainToASCII(domain);
      if (!ascii.split('.').every((label) => LDH_LABEL.test(label))) {
        ctx.addIssue({ code: 'custom', message: `"${domain}" is not a domain name` });
      }
      return ascii;
    }),
  );

/** CIDR list ("10.0.0.0/8, ::1/128, 192.0.2.7") -> a BlockList that matches client addresses. */
const networks = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const blockList = new BlockList();
      const entries = list(text);
      for (const entry of entries) {
        const [address = '', prefixText] = entry.split('/');
        const family = isIP(address);
        const prefix = prefixText === undefined ? (family === 6 ? 128 : 32) : Number(prefixText);
        if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
          ctx.addIssue({ code: 'custom', message: `"${entry}" is not an address or CIDR network` });
          continue;
        }
        blockList.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
      }
      return { text: entries.join(','), blockList };
    });

/** Redis memory high-water mark: "80%" of maxmemory, or a byte figure. */
const highWater = z
  .string()
  .default('80%')
  .transform((text, ctx) => {
    const percent = text.trim().match(/^(\d{1,3})%$/);
    if (percent) {
      const value = Number(percent[1]);
      if (value < 1 || value > 100) ctx.addIssue({ code: 'custom', message: 'percentage must be 1-100' });
      return { kind: 'percent' as const, value };
    }
    const bytes = parseByteSize(text);
    if (bytes === undefined) ctx.addIssue({ code: 'custom', message: 'expected a percentage or a size' });
    return { kind: 'bytes' as const, value: bytes ?? 0 };
  });

const FQDN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i;

export const configSchema = z
  .object({
    OUTPOST_ENV: z.enum(['production', 'development']).default('production'),
    REDIS_URL: redisUrl('redis://127.0.0.1:6379'),
    // PEM file of the CA(s) that signed a TLS Redis's certificate (instead of the system's CAs).
    OUTPOST_REDIS_CA_FILE: z.string().optional(),
    OUTPOST_REDIS_DURABILITY: z.enum(['auto', 'fsync', 'waitaof', 'none']).default('auto'),
    OUTPOST_REDIS_HIGH_WATER: highWater,
    OUTPOST_HOSTNAME: z.string().default(osHostname()),
    OUTPOST_SMTP_LISTEN: listen('0.0.0.0:2525'),
    OUTPOST_SMTPS_LISTEN: optionalListen,
    OUTPOST_HTTP_LISTEN: listen('0.0.0.0:8080'),
    OUTPOST_TLS_CERT: z.string().optional(),
    OUTPOST_TLS_KEY: z.string().optional(),
    OUTPOST_USERS_FILE: z.string().optional(),
    OUTPOST_API_KEYS: z.string().optional(),
    OUTPOST_TRUSTED_NETWORKS: networks('127.0.0.0/8,::1/128'),
    OUTPOST_RELAY_DOMAINS: domains,
    OUTPOST_MAX_MESSAGE_SIZE: byteSize('25MB'),
    OUTPOST_MAX_RECIPIENTS: integer(100, 1, 100_000),
    // Bytes of HTTP request bodies being read or parsed at once (they are parsed on the V8 heap).
    OUTPOST_HTTP_BODY_BUDGET: byteSize('128MB'),
    OUTPOST_SMTP_MAX_CLIENTS: integer(1000, 1, 1_000_000),
    OUTPOST_INGEST_PROCESSES: integer(1, 1, 64),
    // RFC 5321 §4.5.3.2.7: a server waits at least 5 minutes for the next command.
    OUTPOST_SMTP_IDLE_TIMEOUT: positiveDuration('5m'),
    OUTPOST_SMTP_SESSION_TIMEOUT: positiveDuration('30m'),
    OUTPOST_AUTH_FAILURE_WINDOW: positiveDuration('15m'),
    OUTPOST_AUTH_SLOW_AFTER: integer(3, 0, 1_000_000),
    OUTPOST_AUTH_FAILURE_DELAY: duration('1s'),
    OUTPOST_AUTH_MAX_FAILURES_PER_ADDRESS: integer(10, 1, 1_000_000),
    OUTPOST_AUTH_MAX_FAILURES_PER_USER: integer(50, 1, 1_000_000),
    OUTPOST_RATE_LIMIT_PER_USER: rate('1000/1h'),
    OUTPOST_RATE_LIMIT_PER_ADDRESS: rate('1000/1h'),
    OUTPOST_QUEUE_LIFETIME: duration('5d'),
    OUTPOST_DNS_SERVERS: z
      .string()
      .default('')
      .transform((text) => list(text)),
    OUTPOST_DELIVERY_PORT: integer(25, 1, 65535),
    OUTPOST_TRANSPORT_MAP: z.string().default(''),
    OUTPOST_ALLOW_PRIVATE_DESTINATIONS: boolean(false),
    OUTPOST_SHUTDOWN_GRACE: duration('30s'),
    OUTPOST_DKIM_KEYS_DIR: z.string().optional(),
    OUTPOST_DKIM_KEYS: z.string().optional(),
    OUTPOST_DKIM_USE_PARENT_DOMAIN: boolean(false),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.OUTPOST_ENV !== 'development' && !FQDN.test(env.OUTPOST_HOSTNAME)) {
      ctx.addIssue({
        code: 'custom',
        path: ['OUTPOST_HOSTNAME'],
        message: `"${env.OUTPOST_HOSTNAME}" is not a fully qualified domain name (required unless OUTPOST_ENV=development)`,
      });
    }
    if (env.OUTPOST_REDIS_CA_FILE !== undefined && !/^rediss/i.test(env.REDIS_URL.trim())) {
      ctx.addIssue({
        code: 'custom',
        path: ['OUTPOST_REDIS_CA_FILE'],
        message: 'is for TLS: REDIS_URL must start with rediss:// (or rediss-sentinel://, rediss-cluster://)',
      });
    }
    if ((env.OUTPOST_TLS_CERT === undefined) !== (env.OUTPOST_TLS_KEY === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.OUTPOST_TLS_CERT === undefined ? 'OUTPOST_TLS_CERT' : 'OUTPOST_TLS_KEY'],
        message: 'OUTPOST_TLS_CERT and OUTPOST_TLS_KEY must be set together',
      });
    }
  });

export type RawConfig = z.output<typeof configSchema>;
