/**
 * Who may send to a recipient domain:
 * - `inbound`: the domain is one we accept mail for (OUTPOST_RELAY_DOMAINS), from anyone, as an MX does;
 * - `submission`: any other domain, for an authenticated user or a client in a trusted network;
 * - `denied`: anything else. Saying yes here would make us an open relay.
 */
export type RelayVerdict = 'inbound' | 'submission' | 'denied';

export interface RelayQuestion {
  /** Recipient domain in lower-case A-labels (or an address literal). */
  domain: string;
  relayDomains: readonly string[];
  authenticated: boolean;
  trusted: boolean;
}

export function relayVerdict(question: RelayQuestion): RelayVerdict {
  if (question.relayDomains.includes(question.domain)) return 'inbound';
  if (question.authenticated || question.trusted) return 'submission';
  return 'denied';
}
