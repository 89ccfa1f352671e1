import type { DsnAction } from '@outpost/core';
import type { ReportedRecipient } from '@outpost/queue';
import type { Redis } from 'ioredis';
import {
  BACKSCATTER_CAPPED_KEY,
  DOUBLE_BOUNCES_KEY,
  DSN_STATS_KEY,
  RECORD_LIST_LENGTH,
} from './bounce-keys.ts';

/** A DSN that was not sent, as operators see it in `outpost bounce status`. */
export interface UnsentDsnRecord {
  messageId: string;
  event: DsnAction;
  sender: string;
  at: number;
  recipients: Array<{ address: string; status: string; enhancedStatus: string; diagnostic?: string }>;
  /** Double bounces: the id of the copy sent to the postmaster, if one was. */
  postmasterCopy?: string;
}

export type DsnStats = Record<string, number>;

export async function countSentDsn(redis: Redis, event: DsnAction): Promise<void> {
  await redis.hincrby(DSN_STATS_KEY, `sent:${event}`, 1);
}

/** RFC 3464 has no report for a report: failures of mail from <> are recorded here instead. */
export async function recordDoubleBounce(redis: Redis, record: UnsentDsnRecord): Promise<void> {
  const multi = redis.multi().hincrby(DSN_STATS_KEY, 'double-bounce', 1);
  if (record.postmasterCopy) multi.hincrby(DSN_STATS_KEY, 'postmaster-copy', 1);
  await pushCapped(multi, DOUBLE_BOUNCES_KEY, record).exec();
}

export async function recordBackscatterCapped(redis: Redis, record: UnsentDsnRecord): Promise<void> {
  const multi = redis.multi().hincrby(DSN_STATS_KEY, 'backscatter-capped', 1);
  await pushCapped(multi, BACKSCATTER_CAPPED_KEY, record).exec();
}

export function toUnsentRecord(
  messageId: string,
  event: DsnAction,
  sender: string,
  at: number,
  recipients: readonly ReportedRecipient[],
): UnsentDsnRecord {
  return {
    messageId,
    event,
    sender,
    at,
    recipients: recipients.map((recipient) => ({
      address: recipient.address,
      status: recipient.status,
      enhancedStatus: recipient.enhancedStatus,
      ...(recipient.diagnostic !== undefined && { diagnostic: recipient.diagnostic }),
    })),
  };
}

/** Counters and the latest unsent DSNs (newest first). */
export async function readBounceStatus(
  redis: Redis,
  limit = 20,
): Promise<{ stats: DsnStats; doubleBounces: UnsentDsnRecord[]; backscatterCapped: UnsentDsnRecord[] }> {
  // LRANGE 0 -1 is the whole list: a limit of 0 reads none of it.
  const latest = (key: string) => (limit > 0 ? redis.lrange(key, 0, limit - 1) : Promise.resolve([]));
  const [stats, doubleBounces, capped] = await Promise.all([
    readDsnStats(redis),
    latest(DOUBLE_BOUNCES_KEY),
    latest(BACKSCATTER_CAPPED_KEY),
  ]);
  const parse = (entries: string[]) => entries.map((entry) => JSON.parse(entry) as UnsentDsnRecord);
  return { stats, doubleBounces: parse(doubleBounces), backscatterCapped: parse(capped) };
}

/** The DSN counters alone (what a metrics scrape needs). */
export async function readDsnStats(redis: Redis): Promise<DsnStats> {
  const stats = await redis.hgetall(DSN_STATS_KEY);
  return Object.fromEntries(Object.entries(stats).map(([name, value]) => [name, Number(value)]));
}

function pushCapped(multi: ReturnType<Redis['multi']>, key: string, record: UnsentDsnRecord) {
  return multi.lpush(key, JSON.stringify(record)).ltrim(key, 0, RECORD_LIST_LENGTH - 1);
}
