import { controlKeys } from '@outpost/queue';
import type { Redis } from 'ioredis';
import { domainHold } from './message-jobs.ts';
import { scanKeySuffixes } from './scan-keys.ts';

/** A domain an operator paused (`outpost destination pause`, POST /v1/domains/:domain/hold). */
export interface DomainHold {
  domain: string;
  by: string;
  /** When it was paused; 0 when the tool that paused it did not say. */
  at: number;
}

/** Every paused domain with who paused it and when, by name. Few exist (an operator set each). */
export async function listDomainHolds(redis: Redis): Promise<DomainHold[]> {
  const domains = (await scanKeySuffixes(redis, controlKeys.pausedDomain(''))).sort();
  const holds = await Promise.all(
    domains.map(async (domain) => ({ domain, hold: await domainHold(redis, domain) })),
  );
  // A hold lifted between the scan and the read is gone: leave it out.
  return holds.flatMap(({ domain, hold }) => (hold ? [{ domain, by: hold.by, at: hold.at }] : []));
}
