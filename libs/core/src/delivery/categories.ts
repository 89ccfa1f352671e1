/**
 * Failure categories: stable ids used in attempt records, the API, metrics and diagnosis.
 * `held` is a recipient status, not a category.
 */
export const FAILURE_CATEGORIES = [
  'no_such_user',
  'mailbox_full',
  'domain_not_found',
  'null_mx',
  'dns_temporary',
  'connection_refused_or_timeout',
  'no_greeting',
  'busy_try_later',
  'greylisted',
  'rate_limited',
  'message_too_large',
  'policy_ip_or_ptr',
  'blocklisted',
  'tls_required',
  // Verified TLS required by the receiver's MTA-STS policy (RFC 8461 §5), and not had.
  'mta_sts_tls_required',
  'content_rejected',
  'auth_or_relay_denied',
  // SPF, DKIM or DMARC of the sender's domain failed or missing (RFC 7372 X.7.20-X.7.26).
  'sender_authentication',
  'mail_loop',
  'unknown',
] as const;

export type FailureCategory = (typeof FAILURE_CATEGORIES)[number];
