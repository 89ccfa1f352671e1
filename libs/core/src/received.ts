import type { ClientIdentity } from './message.ts';
import { formatRfc5322Date } from './rfc5322-date.ts';

/** RFC 3848 "with" protocol names: S = TLS, A = authenticated. */
export function receivedProtocol(client: ClientIdentity): string {
  if (client.protocol === 'local') return 'local';
  if (client.protocol === 'http') return client.tls ? 'HTTPS' : 'HTTP';
  return `ESMTP${client.tls ? 'S' : ''}${client.user ? 'A' : ''}`;
}

/** An address as an RFC 5321 §4.1.3 address literal; IPv4-mapped IPv6 shown as IPv4. */
export function addressLiteral(address: string): string {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.includes(':') ? `[IPv6:${v4}]` : `[${v4}]`;
}

/**
 * The Received: trace field (RFC 5321 §4.4). "for" names the recipient only when there is exactly
 * one, so a message to many does not disclose the others' addresses to each.
 */
export function buildReceivedHeader(options: {
  client: ClientIdentity;
  byHost: string;
  id: string;
  recipients: readonly string[];
  time: number;
}): string {
  const { client, byHost, id, recipients, time } = options;
  const forClause = recipients.length === 1 ? `\r\n\tfor <${recipients[0]}>` : '';
  if (client.protocol === 'local') {
    // Made here (a DSN): there is no "from" hop to record, only ours (RFC 5321 §4.4).
    return `Received: by ${byHost} (Outpost) id ${id}${forClause};\r\n\t${formatRfc5322Date(time)}`;
  }
  const helo = client.heloName ? sanitizeToken(client.heloName) : 'unknown';
  return (
    `Received: from ${helo} (${addressLiteral(client.address)})\r\n` +
    `\tby ${byHost} (Outpost) with ${receivedProtocol(client)} id ${id}${forClause};\r\n` +
    `\t${formatRfc5322Date(time)}`
  );
}

/** Client-chosen text must not break the header: keep printable ASCII without spaces or parentheses. */
function sanitizeToken(text: string): string {
  const cleaned = text.replace(/[^\x21-\x7e]|[()]/g, '').slice(0, 255);
  return cleaned === '' ? 'unknown' : cleaned;
}
