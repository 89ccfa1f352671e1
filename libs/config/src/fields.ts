import { z } from 'zod';
import { parseByteSize, parseDuration, parseListenAddress } from './units.ts';

/**
 * The zod field kinds every service's configuration is made of, so that a duration, a size or a
 * listen address means and says the same in every OUTPOST_* variable.
 */

/** "a, b c" -> ['a', 'b', 'c'] */
export const list = (text: string): string[] =>
  text
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter(Boolean);

const toListenAddress = (text: string, ctx: z.RefinementCtx) => {
  const parsed = parseListenAddress(text);
  if (!parsed) ctx.addIssue({ code: 'custom', message: `expected host:port, got "${text}"` });
  return parsed;
};

/** "host:port" / "[v6]:port" / ":port" */
export const listen = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => toListenAddress(text, ctx) ?? { host: '', port: 0 });

export const optionalListen = z
  .string()
  .optional()
  .transform((text, ctx) => (text === undefined || text === '' ? undefined : toListenAddress(text, ctx)));

/** "250ms", "30s", "5m", "4h", "2d" -> milliseconds */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined)
        ctx.addIssue({ code: 'custom', message: 'expected a duration like 30s, 5m, 4h, 2d' });
      return ms ?? 0;
    });

/** A duration that must be longer than zero (timeouts, windows). */
export const positiveDuration = (fallback: string) =>
  duration(fallback).refine((ms) => ms > 0, { message: 'must be longer than 0' });

/** "25MB", "512k", "1GiB" -> bytes, more than zero */
export const byteSize = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const bytes = parseByteSize(text);
      if (bytes === undefined || bytes <= 0)
        ctx.addIssue({ code: 'custom', message: 'expected a size like 25MB or 1048576' });
      return bytes ?? 0;
    });

export const boolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((text) => ['true', '1', 'yes'].includes(text));

export const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const REDIS_SCHEME = /^(rediss?)(-sentinel|-cluster)?:\/\/(?:[^@/?#]*@)?([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/i;
const REDIS_ENDPOINT = /^(?:\[[0-9a-f:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/i;
const REDIS_DB = /^\d{1,5}$/;

/**
 * REDIS_URL: redis:// or rediss:// (TLS) for one server, redis-sentinel://h1,h2/master[/db] for
 * Sentinel, redis-cluster://h1,h2 for Redis Cluster (each with an "s" after "redis" for TLS).
 * The same grammar as libs/queue's parseRedisUrl, which turns it into connection options (a test
 * there keeps the two in step). A problem never quotes the URL: it may hold a password.
 */
export const redisUrl = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .superRefine((text, ctx) => {
      const problem = redisUrlProblem(text.trim());
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

function redisUrlProblem(text: string): string | undefined {
  const match = text.match(REDIS_SCHEME);
  if (!match) {
    return 'expected redis://, rediss://, redis-sentinel://host:26379,.../master or redis-cluster://host:6379,...';
  }
  const topology = (match[2] ?? '').toLowerCase();
  const endpoints = (match[3] ?? '').split(',');
  const segments = (match[4] ?? '').split('/').filter(Boolean);
  const parameters = [...new URLSearchParams(match[5] ?? '').keys()];
  const ports = endpoints.map((endpoint) => endpoint.match(REDIS_ENDPOINT));
  const outOfRange = (port: number) => port < 1 || port > 65535;
  if (ports.some((port) => port === null || outOfRange(Number(port[1] ?? 6379)))) {
    return 'every host must be host[:port] (an IPv6 address in brackets: [::1]:6379)';
  }
  if (topology === '' && endpoints.length > 1)
    return 'several hosts need redis-sentinel:// or redis-cluster://';
  const known = topology === '-sentinel' ? ['sentinelUsername', 'sentinelPassword'] : [];
  const unknown = parameters.find((name) => !known.includes(name));
  if (unknown !== undefined) return `unknown parameter "${unknown}"`;
  if (topology === '-sentinel') {
    if (segments.length === 0) {
      return 'Sentinel needs the master name: redis-sentinel://host:26379,host:26379/mymaster';
    }
    if (segments.length > 2) return 'the path is /master-name[/db]';
    if (segments[1] !== undefined && !REDIS_DB.test(segments[1])) return 'the database must be a number';
    return undefined;
  }
  if (segments.length > 1 || (segments[0] !== undefined && !REDIS_DB.test(segments[0]))) {
    return 'the path is the database number only: /0';
  }
  if (topology === '-cluster' && segments.length > 0 && Number(segments[0]) !== 0) {
    return 'Redis Cluster has database 0 only';
  }
  return undefined;
}
