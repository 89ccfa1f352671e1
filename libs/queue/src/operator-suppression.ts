import type { Redis } from 'ioredis';
import { listSuppressed, type SuppressionEntry, suppressAddress, unsuppressAddress } from './suppression.ts';

/** What `outpost suppression list|add|remove` and the query API run on the suppression list. */

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;

export interface AddSuppressionOptions {
  address: string;
  durationMs: number;
  /** Why, in the operator's words; shown in DSNs about the address. */
  note?: string;
  now?: number;
}

/** Puts an address on the list by hand: later mail to it is bounced at once, not attempted. */
export async function addSuppression(
  redis: Redis,
  options: AddSuppressionOptions,
): Promise<SuppressionEntry> {
  const address = normalizedAddress(options.address);
  if (!(options.durationMs > 0)) throw new Error('the suppression time must be longer than 0');
  const now = options.now ?? Date.now();
  const entry: SuppressionEntry = {
    address,
    category: 'unknown',
    // RFC 3463 §3.8: 5.7.1 "delivery not authorized": our own policy refuses it, not the receiver.
    enhancedStatus: '5.7.1',
    diagnostic: `suppressed by an operator${options.note ? `: ${options.note}` : ''}`,
    source: 'operator',
    at: now,
    until: now + options.durationMs,
  };
  await suppressAddress(redis, entry);
  return entry;
}

/** Takes an address off the list; false when it was not on it. */
export async function removeSuppression(redis: Redis, address: string): Promise<boolean> {
  return unsuppressAddress(redis, normalizedAddress(address));
}

/** The addresses suppressed now, soonest to expire first. */
export async function listSuppressions(redis: Redis, limit = 1_000): Promise<SuppressionEntry[]> {
  return listSuppressed(redis, limit);
}

function normalizedAddress(address: string): string {
  const trimmed = address.trim().replace(/^<(.*)>$/, '$1');
  if (!ADDRESS.test(trimmed)) throw new Error(`"${address}" is not an email address`);
  const at = trimmed.lastIndexOf('@');
  return `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`;
}
