import { domainToASCII } from 'node:url';
import {
  cachePolicy,
  MTA_STS_FETCH_BACKOFF_MS,
  type PolicyResolution,
  parseStsRecords,
  planPolicyLookup,
  type StsRecordLookup,
} from '@outpost/core';
import { DnsError, TtlCache } from '@outpost/dns';
import type { PolicyCache } from './policy-cache.ts';
import { parsePolicyFile } from './policy-file.ts';

export interface PolicySourceDeps {
  cache: PolicyCache;
  resolveTxt(name: string): Promise<string[][]>;
  /** The policy file's text (policy-fetcher.ts); throws when it cannot be had. */
  fetchText(domain: string): Promise<string>;
  now?: () => number;
  /**
   * How long a worker keeps a lookup's result for the next attempts to the domain without asking
   * Redis again (default 60 s; never past the policy's expiry). The TXT answer itself is cached for
   * minutes by the resolver, so this adds little staleness and saves two Redis reads per attempt.
   */
  memoMs?: number;
}

const DEFAULT_MEMO_MS = 60_000;

export type PolicySource = ReturnType<typeof createPolicySource>;

/**
 * A domain's MTA-STS policy before each attempt (RFC 8461 §3, §5.1): the `_mta-sts` TXT record says
 * which policy is current; a cached copy with that id is used as it is, a new id is fetched over
 * HTTPS, and when the record or the fetch fails a cached policy that has not expired still
 * applies. Concurrent attempts to one domain share one lookup.
 */
export function createPolicySource(deps: PolicySourceDeps) {
  const now = deps.now ?? Date.now;
  const inFlight = new Map<string, Promise<PolicyResolution>>();
  const memoMs = deps.memoMs ?? DEFAULT_MEMO_MS;
  const memo = new TtlCache<{ resolution: PolicyResolution }>(10_000, now);

  async function txtRecord(
    domain: string,
  ): Promise<StsRecordLookup | { kind: 'dns-failed'; detail: string }> {
    try {
      return parseStsRecords(await deps.resolveTxt(`_mta-sts.${domain}`));
    } catch (error) {
      if (error instanceof DnsError && error.failure !== 'temporary')
        return { kind: 'absent', reason: 'no-record' };
      return { kind: 'dns-failed', detail: error instanceof DnsError ? error.code : String(error) };
    }
  }

  async function resolveAndRemember(domain: string): Promise<PolicyResolution> {
    const { expiresAt = Number.POSITIVE_INFINITY, ...result } = await resolve(domain);
    const remembered: PolicyResolution = { ...result, source: result.policy ? 'cache' : 'none' };
    memo.set(domain, { resolution: remembered }, Math.min(memoMs, expiresAt - now()));
    return result;
  }

  async function resolve(domain: string): Promise<PolicyResolution & { expiresAt?: number }> {
    const [record, cached, recentFailure] = await Promise.all([
      txtRecord(domain),
      deps.cache.get(domain).catch(() => undefined),
      deps.cache.recentFailure(domain).catch(() => undefined),
    ]);
    const step = planPolicyLookup(record, cached, now(), recentFailure);
    if (step.step === 'use-cached') {
      const unchanged = record.kind === 'found' && record.id === step.cached.policy.id;
      return {
        policy: step.cached.policy,
        source: 'cache',
        expiresAt: step.cached.expiresAt,
        ...(!unchanged && { note: step.reason }),
      };
    }
    if (step.step === 'no-policy') return { source: 'none', note: step.reason };
    try {
      const policy = parsePolicyFile(await deps.fetchText(domain), step.id);
      const fetchedAt = now();
      const cached = cachePolicy(policy, fetchedAt);
      await deps.cache.put(domain, cached, fetchedAt).catch(() => {});
      return { policy, source: 'fetched', expiresAt: cached.expiresAt };
    } catch (error) {
      await deps.cache.noteFailure(domain, step.id, MTA_STS_FETCH_BACKOFF_MS).catch(() => {});
      const why = `fetching policy ${step.id} failed: ${error instanceof Error ? error.message : String(error)}`;
      // §3.3: without a usable cached policy, deliver as though the domain had none.
      return step.fallback
        ? {
            policy: step.fallback.policy,
            source: 'cache',
            expiresAt: step.fallback.expiresAt,
            note: `${why}; the cached policy still applies`,
          }
        : { source: 'none', note: why };
    }
  }

  return {
    policyFor(domain: string): Promise<PolicyResolution> {
      const name = domainToASCII(domain) || domain.toLowerCase();
      const remembered = memo.get(name);
      if (remembered) return Promise.resolve(remembered.resolution);
      const running = inFlight.get(name);
      if (running) return running;
      const lookup = resolveAndRemember(name).finally(() => inFlight.delete(name));
      inFlight.set(name, lookup);
      return lookup;
    },
  };
}
