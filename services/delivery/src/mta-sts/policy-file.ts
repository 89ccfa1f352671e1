import type { MtaStsPolicy } from '@outpost/core';
import { parsePolicy, validateMx } from 'mailauth/lib/mta-sts.js';

/**
 * The policy file (RFC 8461 §3.2) and MX matching (§4.1) with mailauth's parser and matcher; its
 * fetch is not used (fixed port 443, system CAs only, see policy-fetcher.ts). mailauth loads
 * node:dns and node:https, which is why this lives here and not in the pure core.
 */
export function parsePolicyFile(text: string, id: string): MtaStsPolicy {
  // Lax syntax (case of field names, stray whitespace) as deployed policies need; the version,
  // mode, max_age range and mx presence are still required. Throws on an invalid policy.
  const parsed = parsePolicy(text);
  return {
    id,
    mode: parsed.mode,
    maxAgeSeconds: parsed.maxAge ?? 0,
    mx: parsed.mx ?? [],
  };
}

/** §4.1: an exact host name, or `*.example.com` for exactly one left-most label; A-labels compared. */
export function policyListsMx(host: string, policy: MtaStsPolicy): boolean {
  return validateMx(host, { mode: policy.mode, mx: [...policy.mx] }).valid;
}
