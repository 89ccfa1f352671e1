import { Resolver as NodeResolver } from 'node:dns/promises';
import type { MxRecord } from '@outpost/core';
import { type Answer, AnswerCache } from './answer-cache.ts';

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
  /**
   * Floor on how long an answer is cached, whatever its TTL (default 5 s; 0 disables), and how
   * long a negative answer (NXDOMAIN, no such record) is cached.
   */
  minTtlMs?: number;
  /** Cap on any cached TTL. */
  maxTtlMs?: number;
  /** Cap on the number of cached answers (one per name and record type). */
  maxEntries?: number;
  now?: () => number;
}

export const DEFAULT_MIN_TTL_MS = 5_000;

/** node:dns Resolver with custom servers and ports, a bounded TTL cache and shared lookups. */
export function createDnsResolver(options: DnsResolverOptions = {}): DnsResolver {
  const resolver = new NodeResolver({ timeout: options.timeoutMs ?? 5_000, tries: options.tries ?? 2 });
  if (options.servers && options.servers.length > 0) resolver.setServers([...options.servers]);
  const answers = new AnswerCache({
    maxEntries: options.maxEntries ?? 10_000,
    minTtlMs: options.minTtlMs ?? DEFAULT_MIN_TTL_MS,
    maxTtlMs: options.maxTtlMs ?? 3_600_000,
    ...(options.now && { now: options.now }),
  });
  const untimedTtlMs = options.mxCacheMs ?? 300_000;

  /** A or AAAA of a host, cached and shared per family. */
  function addressesOf(host: string, family: 4 | 6): Promise<Answer<string[]>> {
    return answers.lookup(family === 4 ? 'A' : 'AAAA', host, async () => {
      const records =
        family === 4
          ? await resolver.resolve4(host, { ttl: true })
          : await resolver.resolve6(host, { ttl: true });
      return {
        records: records.map((record) => record.address),
        // The shortest TTL of the set; c-ares reports an empty answer as ENODATA, never as [].
        ttlMs: records.length === 0 ? 0 : Math.min(...records.map((record) => record.ttl * 1000)),
      };
    });
  }

  return {
    async resolveMx(domain) {
      const answer = await answers.lookup('MX', domain, async () => ({
        records: (await resolver.resolveMx(domain)).map(({ exchange, priority }) => ({ exchange, priority })),
        ttlMs: untimedTtlMs,
      }));
      if (answer.kind === 'records') return answer.records;
      // RFC 5321 §5.1: a name that exists without MX records is its own implicit MX.
      if (answer.error.failure === 'nodata') return [];
      throw answer.error;
    },

    async resolveAddresses(host) {
      const [v4, v6] = await Promise.allSettled([addressesOf(host, 4), addressesOf(host, 6)]);
      const families = [v4, v6].map((result) => {
        if (result.status === 'rejected') return { error: result.reason as unknown };
        const answer = result.value;
        if (answer.kind === 'records') return { addresses: answer.records };
        return answer.error.failure === 'nodata' ? { addresses: [] } : { error: answer.error };
      });
      const [ipv4, ipv6] = families.map((family) => family.addresses);
      // One family failing temporarily while the other answered still gives usable addresses.
      if (ipv4 === undefined && ipv6 === undefined) throw families[0]!.error;
      if (!ipv4?.length && !ipv6?.length) {
        const failure = families.find((family) => family.addresses === undefined);
        if (failure) throw failure.error;
      }
      return { ipv4: ipv4 ?? [], ipv6: ipv6 ?? [] };
    },

    async resolveTxt(name) {
      const answer = await answers.lookup('TXT', name, async () => ({
        records: await resolver.resolveTxt(name),
        ttlMs: untimedTtlMs,
      }));
      if (answer.kind === 'records') return answer.records;
      if (answer.error.failure === 'nodata') return [];
      throw answer.error;
    },

    forget(host) {
      answers.forget('A', host);
      answers.forget('AAAA', host);
    },
  };
}
