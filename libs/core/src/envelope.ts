import type { Recipient } from './message.ts';

/** The domain of a mailbox, lower-cased (domains are case-insensitive, RFC 5321 §2.4). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? '' : address.slice(at + 1).toLowerCase();
}

/** Local part kept as given (it may be case-sensitive), domain lower-cased. */
export function normalizeAddress(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? address : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
}

/** One delivery job per destination domain: recipients grouped in first-seen order, duplicates dropped. */
export function groupRecipientsByDomain(recipients: readonly Recipient[]): Map<string, Recipient[]> {
  const groups = new Map<string, Recipient[]>();
  const seen = new Set<string>();
  for (const recipient of recipients) {
    const address = normalizeAddress(recipient.address);
    if (seen.has(address)) continue;
    seen.add(address);
    const domain = domainOf(address);
    const group = groups.get(domain) ?? [];
    group.push({ ...recipient, address });
    groups.set(domain, group);
  }
  return groups;
}
