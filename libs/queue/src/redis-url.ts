/**
 * REDIS_URL in the forms Outpost accepts, parsed into what a connection needs:
 *
 *   redis://[user[:password]@]host[:port][/db]                      one server (rediss:// for TLS)
 *   redis-sentinel://[user[:password]@]host[:port][,host[:port]...]/master[/db][?sentinelPassword=..]
 *                                                                   Sentinel (rediss-sentinel:// for TLS)
 *   redis-cluster://[user[:password]@]host[:port][,host[:port]...]  Redis Cluster (rediss-cluster://)
 *
 * The credentials in the URL are those of the data nodes. Sentinels often have none, or their own:
 * `sentinelUsername` / `sentinelPassword` query parameters. Default ports: 6379, Sentinel 26379.
 * Hosts and credentials are percent-decoded; an IPv6 address is written in brackets.
 */

export interface RedisEndpoint {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
}

export type RedisTarget =
  | ({ kind: 'standalone'; endpoint: RedisEndpoint; db: number; tls: boolean } & Credentials)
  | ({
      kind: 'sentinel';
      sentinels: RedisEndpoint[];
      masterName: string;
      db: number;
      tls: boolean;
      sentinelUsername?: string;
      sentinelPassword?: string;
    } & Credentials)
  | ({ kind: 'cluster'; nodes: RedisEndpoint[]; tls: boolean } & Credentials);

export class RedisUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUrlError';
  }
}

const KINDS: Record<string, { kind: RedisTarget['kind']; tls: boolean; defaultPort: number }> = {
  redis: { kind: 'standalone', tls: false, defaultPort: 6379 },
  rediss: { kind: 'standalone', tls: true, defaultPort: 6379 },
  'redis-sentinel': { kind: 'sentinel', tls: false, defaultPort: 26379 },
  'rediss-sentinel': { kind: 'sentinel', tls: true, defaultPort: 26379 },
  'redis-cluster': { kind: 'cluster', tls: false, defaultPort: 6379 },
  'rediss-cluster': { kind: 'cluster', tls: true, defaultPort: 6379 },
};

export const REDIS_URL_SCHEMES = Object.keys(KINDS);

// scheme://[userinfo@]hosts[/path][?query]; WHATWG URL cannot hold a list of hosts with ports.
const SHAPE = /^([a-z-]+):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i;
const ENDPOINT = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/i;
const SENTINEL_PARAMETERS = new Set(['sentinelUsername', 'sentinelPassword']);

/** Never echoes the URL: it may hold a password. */
export function parseRedisUrl(url: string): RedisTarget {
  const shape = url.trim().match(SHAPE);
  if (!shape) throw new RedisUrlError('expected scheme://host[:port]...');
  const [, schemeText = '', userinfo, hostList = '', path = '', query] = shape;
  const scheme = KINDS[schemeText.toLowerCase()];
  if (!scheme) {
    throw new RedisUrlError(`unknown scheme "${schemeText}" (expected ${REDIS_URL_SCHEMES.join(', ')})`);
  }
  const endpoints = hostList.split(',').map((text) => parseEndpoint(text, scheme.defaultPort));
  if (scheme.kind === 'standalone' && endpoints.length > 1) {
    throw new RedisUrlError('several hosts need redis-sentinel:// or redis-cluster://');
  }
  const credentials = parseUserinfo(userinfo);
  const parameters = parseQuery(query, scheme.kind === 'sentinel' ? SENTINEL_PARAMETERS : new Set());
  const segments = path.split('/').filter(Boolean).map(decode);
  const tls = scheme.tls;

  if (scheme.kind === 'standalone') {
    if (segments.length > 1) throw new RedisUrlError('the path is the database number only: /0');
    return { kind: 'standalone', endpoint: endpoints[0]!, db: parseDb(segments[0]), tls, ...credentials };
  }
  if (scheme.kind === 'sentinel') {
    const [masterName, db, ...extra] = segments;
    if (!masterName)
      throw new RedisUrlError('Sentinel needs the master name: redis-sentinel://hosts/mymaster');
    if (extra.length > 0) throw new RedisUrlError('the path is /master-name[/db]');
    return {
      kind: 'sentinel',
      sentinels: endpoints,
      masterName,
      db: parseDb(db),
      tls,
      ...credentials,
      ...(parameters.sentinelUsername !== undefined && { sentinelUsername: parameters.sentinelUsername }),
      ...(parameters.sentinelPassword !== undefined && { sentinelPassword: parameters.sentinelPassword }),
    };
  }
  // Redis Cluster has database 0 only.
  if (segments.length > 1 || parseDb(segments[0]) !== 0) {
    throw new RedisUrlError('Redis Cluster has database 0 only: no path');
  }
  return { kind: 'cluster', nodes: endpoints, tls, ...credentials };
}

function parseEndpoint(text: string, defaultPort: number): RedisEndpoint {
  const match = decode(text).match(ENDPOINT);
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
  if (!match || !host || port < 1 || port > 65535) {
    throw new RedisUrlError(`"${text}" is not host[:port] (write an IPv6 address as [::1]:6379)`);
  }
  return { host, port };
}

function parseUserinfo(userinfo: string | undefined): Credentials {
  if (userinfo === undefined || userinfo === '') return {};
  const colon = userinfo.indexOf(':');
  // redis://secret@host: like redis-cli -u, a lone field is the password (AUTH <password>).
  const username = colon < 0 ? '' : decode(userinfo.slice(0, colon));
  const password = decode(colon < 0 ? userinfo : userinfo.slice(colon + 1));
  return { ...(username && { username }), ...(password && { password }) };
}

function parseQuery(query: string | undefined, allowed: Set<string>): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(query ?? '')) {
    if (!allowed.has(name)) {
      throw new RedisUrlError(
        `unknown parameter "${name}"${allowed.size > 0 ? ` (known: ${[...allowed].join(', ')})` : ''}`,
      );
    }
    parameters[name] = value;
  }
  return parameters;
}

function parseDb(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d{1,5}$/.test(text)) throw new RedisUrlError(`"${text}" is not a database number`);
  return Number(text);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new RedisUrlError('bad percent-encoding');
  }
}
