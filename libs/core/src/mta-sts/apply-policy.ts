import type { MtaStsPolicy } from './policy.ts';

/** Whether an MX host name matches one of a policy's mx patterns (RFC 8461 §4.1). */
export type MxMatcher = (host: string, policy: MtaStsPolicy) => boolean;

/** How an attempt treats a domain's MX hosts under its policy. */
export interface MtaStsPlan {
  /** The policy that applies (enforce or testing); absent when none does. */
  policy?: { id: string; mode: 'enforce' | 'testing' };
  /** The hosts to try, in the given order. */
  hosts: string[];
  /** MX hosts the policy does not list: skipped under enforce, only reported under testing. */
  unlisted: string[];
  /** Enforce: every session needs STARTTLS with a certificate valid for the MX host name. */
  requireVerifiedTls: boolean;
}

/**
 * RFC 8461 §5: "enforce" - never deliver to an MX host the policy does not list, or without TLS
 * whose certificate validates for the MX host name; "testing" - deliver as usual and report what
 * would have failed; "none" (or no policy) - as if the domain had none.
 */
export function planMtaStsDelivery(
  hosts: readonly string[],
  policy: MtaStsPolicy | undefined,
  matches: MxMatcher,
): MtaStsPlan {
  if (!policy || policy.mode === 'none')
    return { hosts: [...hosts], unlisted: [], requireVerifiedTls: false };
  const unlisted = hosts.filter((host) => !matches(host, policy));
  const applied = { id: policy.id, mode: policy.mode };
  if (policy.mode === 'testing')
    return { policy: applied, hosts: [...hosts], unlisted, requireVerifiedTls: false };
  return {
    policy: applied,
    hosts: hosts.filter((host) => !unlisted.includes(host)),
    unlisted,
    requireVerifiedTls: true,
  };
}

/** What a session's TLS came to, as the smtp client reports it. */
export interface SessionTlsFacts {
  offered: boolean;
  established: boolean;
  /** false also when a required verification failed and ended the handshake. */
  verified?: boolean;
  error?: string;
}

/**
 * Why a session would fail an enforced policy (§5: no STARTTLS, or a certificate that does not
 * validate for the MX host), or undefined when it meets it. Used to report under "testing" and to
 * explain a refusal under "enforce".
 */
export function tlsShortfall(host: string, tls: SessionTlsFacts): string | undefined {
  if (tls.established && tls.verified) return undefined;
  if (!tls.offered && !tls.established) return `${host} does not offer STARTTLS`;
  if (tls.established || tls.verified === false) {
    return `the certificate of ${host} does not verify (${tls.error ?? 'not verified'})`;
  }
  return `TLS with ${host} failed (${tls.error ?? 'handshake failed'})`;
}
