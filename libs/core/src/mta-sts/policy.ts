/**
 * An MTA-STS policy (RFC 8461 §3.2) as delivery applies it, and its life in the cache (§3.3, §5.1).
 */
export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MtaStsPolicy {
  /** The id of the TXT record the policy was fetched under (§3.1). */
  id: string;
  mode: MtaStsMode;
  /** How long the policy may be cached, in seconds (§3.2 max_age). */
  maxAgeSeconds: number;
  /** MX patterns: host names, or `*.example.com` for one left-most label (§4.1). */
  mx: readonly string[];
}

export interface CachedMtaStsPolicy {
  policy: MtaStsPolicy;
  fetchedAt: number;
  /** Epoch ms after which the policy no longer applies (fetchedAt + max_age). */
  expiresAt: number;
}

/** §3.2: max_age is at most 31557600 seconds (about a year). */
export const MTA_STS_MAX_AGE_LIMIT_SECONDS = 31_557_600;

export function cachePolicy(policy: MtaStsPolicy, fetchedAt: number): CachedMtaStsPolicy {
  const seconds = Math.min(Math.max(policy.maxAgeSeconds, 0), MTA_STS_MAX_AGE_LIMIT_SECONDS);
  return { policy, fetchedAt, expiresAt: fetchedAt + seconds * 1000 };
}

/** A cached policy applies until max_age has passed since it was fetched (§3.2, §5.1). */
export function isPolicyFresh(
  cached: CachedMtaStsPolicy | undefined,
  now: number,
): cached is CachedMtaStsPolicy {
  return cached !== undefined && now < cached.expiresAt;
}

/** What delivery learned about a domain's policy before an attempt, and how. */
export interface PolicyResolution {
  /** Undefined: the domain has no (usable) policy; deliver as usual. */
  policy?: MtaStsPolicy;
  /** fetched: just now over HTTPS; cache: a fresh cached copy; none: no policy applies. */
  source: 'fetched' | 'cache' | 'none';
  /** Why a fetch was not used or failed (for the attempt record), when that matters. */
  note?: string;
}
