import { type CachedMtaStsPolicy, isPolicyFresh } from './policy.ts';
import type { StsRecordLookup } from './sts-record.ts';

/** What to do about a domain's policy before delivering to it. */
export type PolicyLookupStep =
  | { step: 'use-cached'; cached: CachedMtaStsPolicy; reason: string }
  | { step: 'fetch'; id: string; fallback?: CachedMtaStsPolicy }
  | { step: 'no-policy'; reason: string };

/** §3.3: after a failed fetch, wait at least five minutes per policy id before the next one. */
export const MTA_STS_FETCH_BACKOFF_MS = 5 * 60_000;

/**
 * RFC 8461 §3.3 and §5.1, given the TXT lookup (or its failure), the cached policy and any recent
 * failed fetch (the id it was for):
 * - the TXT id is the cached policy's and the policy has not expired: use it, no fetch;
 * - a new id (or an expired cache): fetch, keeping a fresh cached policy to fall back on;
 * - no record, or DNS trouble: a fresh cached policy still applies ("MUST apply that cached
 *   policy"); without one there is no policy.
 */
export function planPolicyLookup(
  record: StsRecordLookup | { kind: 'dns-failed'; detail: string },
  cached: CachedMtaStsPolicy | undefined,
  now: number,
  recentFailure?: { id: string },
): PolicyLookupStep {
  const fresh = isPolicyFresh(cached, now) ? cached : undefined;
  if (record.kind !== 'found') {
    const why =
      record.kind === 'dns-failed'
        ? `the _mta-sts TXT lookup failed (${record.detail})`
        : `no usable _mta-sts TXT record (${record.reason})`;
    return fresh
      ? { step: 'use-cached', cached: fresh, reason: `${why}; the cached policy still applies` }
      : { step: 'no-policy', reason: why };
  }
  if (fresh && fresh.policy.id === record.id) {
    return { step: 'use-cached', cached: fresh, reason: 'the published id is the cached one' };
  }
  if (recentFailure?.id === record.id) {
    const why = `fetching policy ${record.id} failed less than five minutes ago`;
    return fresh
      ? { step: 'use-cached', cached: fresh, reason: `${why}; the cached policy still applies` }
      : { step: 'no-policy', reason: why };
  }
  return { step: 'fetch', id: record.id, ...(fresh && { fallback: fresh }) };
}
