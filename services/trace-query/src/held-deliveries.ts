import { controlKeys, domainKeyPart } from '@outpost/queue';
import type { Redis } from 'ioredis';
import {
  domainHold,
  findJobsOfDomains,
  findMessageJobs,
  type HoldMark,
  isPending,
  messageHold,
  type OutpostQueues,
} from './message-jobs.ts';
import { scanKeySuffixes } from './scan-keys.ts';

/** A recipient waiting on an operator's hold: of its message or of its whole domain. */
export interface HeldEntry {
  messageId: string;
  domain: string;
  address: string;
  status: 'held';
  heldBy: 'message' | 'domain';
  by: string;
  /** When the hold was set. */
  time: number;
  /** Attempts made before the hold. */
  attempt: number;
}

export interface HeldQuery {
  domain?: string;
  category?: string;
  code?: number;
  recipient?: string;
  since?: number;
  until?: number;
  limit?: number;
  cursor?: string;
}

/**
 * `status=held`: holds are not attempts, so the log's indexes do not have them; they are read from
 * the hold keys and the jobs they hold. There are few holds (an operator set each); a held domain's
 * jobs cost a pass over the queue, one for all of them.
 */
export async function heldDeliveries(
  redis: Redis,
  queues: OutpostQueues,
  query: HeldQuery,
): Promise<{ entries: HeldEntry[]; cursor?: string }> {
  // A hold has no reply: asking for a category or a reply code matches none.
  if (query.category !== undefined || query.code !== undefined) return { entries: [] };
  const found = new Map<string, HeldEntry>();
  const add = (entry: HeldEntry) => {
    const key = `${entry.messageId} ${entry.address}`;
    if (!found.has(key)) found.set(key, entry);
  };
  for (const messageId of await scanKeySuffixes(redis, controlKeys.heldMessage(''))) {
    const hold = await messageHold(redis, messageId);
    const { deliveries } = await findMessageJobs(queues, messageId);
    for (const { job } of deliveries.filter(isPending)) {
      for (const recipient of job.data.recipients)
        add(entry(messageId, job.data.domain, recipient.address, 'message', hold, job.data.attempts));
    }
  }
  // Held domains' jobs are found in one pass over the queue for all of them (only the asked-for
  // domain's, when the query names one): the pass is what costs, with many jobs queued.
  const heldDomains = (await scanKeySuffixes(redis, controlKeys.pausedDomain(''))).filter(
    (domain) => !query.domain || domain === domainKeyPart(query.domain),
  );
  const jobsOf = await findJobsOfDomains(queues, heldDomains);
  for (const domain of heldDomains) {
    const hold = await domainHold(redis, domain);
    for (const job of jobsOf.get(domainKeyPart(domain)) ?? []) {
      for (const recipient of job.data.recipients)
        add(entry(job.data.messageId, domain, recipient.address, 'domain', hold, job.data.attempts));
    }
  }
  const matching = [...found.values()]
    .filter(
      (held) =>
        (!query.domain || held.domain === domainKeyPart(query.domain)) &&
        (!query.recipient || held.address.toLowerCase() === query.recipient.toLowerCase()) &&
        (query.since === undefined || held.time >= query.since) &&
        (query.until === undefined || held.time <= query.until),
    )
    .sort((a, b) => b.time - a.time || a.address.localeCompare(b.address));
  const offset = Number(query.cursor ? Buffer.from(query.cursor, 'base64url').toString() : 0) || 0;
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
  const entries = matching.slice(offset, offset + limit);
  const next =
    offset + limit < matching.length ? Buffer.from(String(offset + limit)).toString('base64url') : undefined;
  return { entries, ...(next && { cursor: next }) };
}

function entry(
  messageId: string,
  domain: string,
  address: string,
  heldBy: HeldEntry['heldBy'],
  hold: HoldMark | undefined,
  attempt: number,
): HeldEntry {
  return {
    messageId,
    domain,
    address,
    status: 'held',
    heldBy,
    by: hold?.by ?? 'unknown',
    time: hold?.at ?? 0,
    attempt,
  };
}
