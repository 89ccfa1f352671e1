import { Resolver as NodeResolver } from 'node:dns/promises';
import type { MxRecord } from '@outpost/core';
import { DnsError, toDnsError } from './dns-error.ts';
import { TtlCache } from './ttl-cache.ts';

/** The lookups delivery needs; the real implementation is below, tests may pass their own. */
export interface DnsResolver {
  /** MX records; `[]` when the name exists without MX (implicit MX). Throws DnsError. */
  resolveMx(domain: string): Promise<MxRecord[]>;
  /** A and AAAA addresses of a host; both may be empty. Throws DnsError (nxdomain/temporary). */
  resolveAddresses(host: string): Promise<{ ipv4: string[]; ipv6: string[] }>;
  /**
   * TXT records, each as its character-strings (RFC 1035 §3.3.14; callers join them as their
   * protocol says). `[]` when the name exists without TXT. Throws DnsError (nxdomain/temporary).
   */
  resolveTxt(name: string): Promise<string[][]>;
  /** Drops what is cached for a host, so the next try looks it up again (the FAQ's advice). */
  forget(host: string): void;
}

export interface DnsResolverOptions {
  /** "host:port" list; empty = the system's resolvers. */
  servers?: readonly string[];
  timeoutMs?: number;
  tries?: number;
  /** node:dns gives no TTL for MX and TXT answers: they are cached this long. */
  mxCacheMs?: number;
  /** Cap on any cached TTL, and on the number of cached names. */
  maxTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/** How long "no such record / no such name" is remembered. */
const NEGATIVE_TTL_MS = 60_000;

interface TtlAddress {
  address: string;
  ttl: number;
}

/** node:dns Resolver with custom servers and ports, and a TTL cache bounded in size and time. */
export function createDnsResolver(options: DnsResolverOptions = {}): DnsResolver {
  const resolver = new NodeResolver({ timeout: options.timeoutMs ?? 5_000, tries: options.tries ?? 2 });
  if (options.servers && options.servers.length > 0) resolver.setServers([...options.servers]);
  const maxTtlMs = options.maxTtlMs ?? 3_600_000;
  const mxCache = new TtlCache<MxRecord[]>(options.maxEntries ?? 10_000, options.now);
  const addressCache = new TtlCache<{ ipv4: string[]; ipv6: string[] }>(
    options.maxEntries ?? 10_000,
    options.now,
  );
  // A name without TXT records is cached too (briefly): most domains publish no _mta-sts record.
  const txtCache = new TtlCache<string[][] | DnsError>(options.maxEntries ?? 10_000, options.now);

  async function lookup<T>(name: string, type: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toDnsError(error, name, type);
    }
  }

  /** A or AAAA; "no such record" is an empty list, not an error. */
  async function addressesOf(host: string, family: 4 | 6): Promise<TtlAddress[]> {
    try {
      return await lookup(host, family === 4 ? 'A' : 'AAAA', () =>
        family === 4 ? resolver.resolve4(host, { ttl: true }) : resolver.resolve6(host, { ttl: true }),
      );
    } catch (error) {
      if (error instanceof DnsError && error.failure === 'nodata') return [];
      throw error;
    }
  }

  return {
    async resolveMx(domain) {
      const key = domain.toLowerCase();
      const cached = mxCache.get(key);
      if (cached) return cached;
      let records: MxRecord[];
      try {
        const answer = await lookup(domain, 'MX', () => resolver.resolveMx(domain));
        records = answer.map(({ exchange, priority }) => ({ exchange, priority }));
      } catch (error) {
        // RFC 5321 §5.1: a name that exists without MX records is its own implicit MX.
        if (error instanceof DnsError && error.failure === 'nodata') records = [];
        else throw error;
      }
      mxCache.set(key, records, Math.min(options.mxCacheMs ?? 300_000, maxTtlMs));
      return records;
    },

    async resolveAddresses(host) {
      const key = host.toLowerCase();
      const cached = addressCache.get(key);
      if (cached) return cached;
      const [v4, v6] = await Promise.allSettled([addressesOf(host, 4), addressesOf(host, 6)]);
      // One family failing temporarily while the other answered still gives usable addresses.
      if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
      const ipv4 = v4.status === 'fulfilled' ? v4.value : [];
      const ipv6 = v6.status === 'fulfilled' ? v6.value : [];
      if (ipv4.length === 0 && ipv6.length === 0) {
        const failure = [v4, v6].find((result) => result.status === 'rejected');
        if (failure) throw (failure as PromiseRejectedResult).reason;
      }
      const result = { ipv4: ipv4.map((entry) => entry.address), ipv6: ipv6.map((entry) => entry.address) };
      const entries = [...ipv4, ...ipv6];
      // An empty answer is cached briefly: the host may get addresses soon.
      const ttl =
        entries.length === 0
          ? NEGATIVE_TTL_MS
          : Math.min(...entries.map((entry) => entry.ttl * 1000), maxTtlMs);
      addressCache.set(key, result, ttl);
      return result;
    },

    async resolveTxt(name) {
      const key = name.toLowerCase();
      const cached = txtCache.get(key);
      if (cached instanceof DnsError) throw cached;
      if (cached) return cached;
      try {
        const records = await lookup(name, 'TXT', () => resolver.resolveTxt(name));
        txtCache.set(key, records, Math.min(options.mxCacheMs ?? 300_000, maxTtlMs));
        return records;
      } catch (error) {
        if (!(error instanceof DnsError) || error.failure === 'temporary') throw error;
        if (error.failure === 'nodata') {
          txtCache.set(key, [], NEGATIVE_TTL_MS);
          return [];
        }
        txtCache.set(key, error, NEGATIVE_TTL_MS);
        throw error;
      }
    },

    forget(host) {
      addressCache.delete(host.toLowerCase());
    },
  };
}
