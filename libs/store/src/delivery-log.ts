import type { RecipientStatus } from '@outpost/core';
import { redisScript } from '@outpost/queue';
import type { ChainableCommander, Redis } from 'ioredis';
import { logKeys, parseEntryMember } from './keys.ts';
import type { AttemptRecord, DeliveryEntry, OperatorAction, RecipientState } from './records.ts';
import { relieveLog } from './relieve-log.ts';
import { type AttemptWriteExtras, attemptWriteOf, writeAttempt } from './write-attempt-script.ts';

export interface RetentionPolicy {
  maxAgeMs: number;
  maxBytes: number;
  /** A transcript is capped at this many bytes (long sessions keep their start and end). */
  maxTranscriptBytes: number;
}

/**
 * One index's entries older than the cutoff, and the index itself from the set of indexes once it is
 * empty, in one script: done apart, a record written between the count and the removal would leave
 * its index out of the set, and so out of every later trim.
 * KEYS: the index, the set of indexes; ARGV: cutoff.
 */
const TRIM_INDEX = redisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], KEYS[1]) end
return 0
`);

/**
 * A size trim goes this far below the budget (1% of it), so that a log at its budget is trimmed
 * once per many writes instead of a record at a time on every write.
 */
const trimSlack = (maxBytes: number) => Math.floor(maxBytes / 100);

export const DEFAULT_RETENTION: RetentionPolicy = {
  maxAgeMs: 7 * 86_400_000,
  maxBytes: 256 * 1024 * 1024,
  maxTranscriptBytes: 32 * 1024,
};

export interface DeliveryQuery {
  /** `failed` = bounced or expired. */
  status?: RecipientStatus | 'failed';
  domain?: string;
  recipient?: string;
  category?: string;
  code?: number;
  since?: number;
  until?: number;
  limit?: number;
  cursor?: string;
}

export interface DeliveryPage {
  entries: DeliveryEntry[];
  /** Pass back to get the next (older) page; absent on the last page. */
  cursor?: string;
}

/**
 * The delivery log in Redis: one record per attempt, indexed by message, recipient, domain,
 * status, category, reply code and time. Retention by age and by total bytes is enforced here, so
 * the log cannot push Redis (which runs noeviction) to its memory limit.
 */
export function createDeliveryLog(redis: Redis, retention: RetentionPolicy = DEFAULT_RETENTION) {
  /**
   * Writes one attempt's record and its indexes, and, when given, the recipients' states after it
   * (`states`, as setRecipientStates), in one script (write-attempt-script.ts), with the message's
   * metadata and the deletion of keys that end with the attempt when given (`extras`). Its reply is
   * the log's size with this record: only a write that takes it over the byte budget trims.
   */
  async function write(
    record: AttemptRecord,
    states: readonly RecipientState[] = [],
    extras: AttemptWriteExtras = {},
  ): Promise<void> {
    const bytes = await writeAttempt(redis, attemptWriteOf(record, states, retention.maxAgeMs, extras));
    if (bytes > retention.maxBytes) await trimBySize(bytes);
  }

  async function setRecipientStates(messageId: string, states: readonly RecipientState[]): Promise<void> {
    if (states.length === 0) return;
    const multi = redis.multi();
    addRecipientStates(multi, messageId, states);
    await multi.exec();
  }

  function addRecipientStates(
    multi: ChainableCommander,
    messageId: string,
    states: readonly RecipientState[],
  ): void {
    if (states.length === 0) return;
    const key = logKeys.messageRecipients(messageId);
    for (const state of states) multi.hset(key, state.address, JSON.stringify(state));
    multi.pexpire(key, retention.maxAgeMs);
  }

  async function recipientStates(messageId: string): Promise<RecipientState[]> {
    const values = await redis.hvals(logKeys.messageRecipients(messageId));
    return values.map((value) => JSON.parse(value) as RecipientState);
  }

  async function recordAction(messageId: string, action: OperatorAction): Promise<void> {
    const key = logKeys.messageActions(messageId);
    await redis
      .multi()
      .rpush(key, JSON.stringify(action))
      .ltrim(key, -100, -1)
      .pexpire(key, retention.maxAgeMs)
      .exec();
  }

  async function setMessageMeta(messageId: string, meta: Record<string, unknown>): Promise<void> {
    await redis.set(logKeys.messageMeta(messageId), JSON.stringify(meta), 'PX', retention.maxAgeMs);
  }

  async function message(messageId: string) {
    const [metaText, attemptIds, states, actions] = await Promise.all([
      redis.get(logKeys.messageMeta(messageId)),
      redis.zrange(logKeys.messageAttempts(messageId), '0', '-1'),
      recipientStates(messageId),
      redis.lrange(logKeys.messageActions(messageId), 0, -1),
    ]);
    const attempts = (await records(attemptIds)).filter(
      (record): record is AttemptRecord => record !== undefined,
    );
    if (!metaText && attempts.length === 0 && states.length === 0) return undefined;
    return {
      messageId,
      meta: metaText ? (JSON.parse(metaText) as Record<string, unknown>) : undefined,
      recipients: states,
      attempts,
      actions: actions.map((text) => JSON.parse(text) as OperatorAction),
    };
  }

  async function records(ids: readonly string[]): Promise<Array<AttemptRecord | undefined>> {
    if (ids.length === 0) return [];
    const texts = await redis.mget(ids.map(logKeys.record));
    return texts.map((text) => (text ? (JSON.parse(text) as AttemptRecord) : undefined));
  }

  /** Newest first; the most selective index is scanned and the other filters applied to its entries. */
  async function deliveries(query: DeliveryQuery): Promise<DeliveryPage> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const key = query.recipient
      ? logKeys.index('rcpt', query.recipient)
      : query.domain
        ? logKeys.index('domain', query.domain)
        : query.category
          ? logKeys.index('cat', query.category)
          : query.code !== undefined
            ? logKeys.index('code', String(query.code))
            : query.status
              ? logKeys.index('status', query.status)
              : logKeys.index('all');
    let { max, skip } = decodeCursor(query.cursor, query.until);
    const min = query.since ?? '-inf';
    const entries: DeliveryEntry[] = [];
    const batch = limit * 2;
    for (let scanned = 0; entries.length < limit && scanned < limit * 20; scanned += batch) {
      const page = await redis.zrevrangebyscore(key, max, String(min), 'WITHSCORES', 'LIMIT', skip, batch);
      if (page.length === 0) return { entries };
      const members: Array<{ member: string; score: number }> = [];
      for (let i = 0; i < page.length; i += 2) members.push({ member: page[i]!, score: Number(page[i + 1]) });
      const byId = new Map<string, AttemptRecord | undefined>();
      const ids = [...new Set(members.map(({ member }) => parseEntryMember(member).attemptId))];
      for (const [i, record] of (await records(ids)).entries()) byId.set(ids[i]!, record);
      for (const { member, score } of members) {
        // Advance the cursor past this member whether or not it matches.
        if (score === Number(max)) skip++;
        else {
          max = String(score);
          skip = 1;
        }
        const { attemptId, index } = parseEntryMember(member);
        const record = byId.get(attemptId);
        const recipient = record?.recipients[index];
        if (!record || !recipient) continue; // trimmed by retention
        const entry: DeliveryEntry = {
          ...recipient,
          attemptId,
          messageId: record.messageId,
          domain: record.domain,
          attempt: record.attempt,
          time: record.time,
          ...(record.traceId !== undefined && { traceId: record.traceId }),
        };
        if (matches(entry, query)) entries.push(entry);
        if (entries.length === limit) return { entries, cursor: encodeCursor(max, skip) };
      }
      if (page.length < batch * 2) return { entries };
    }
    return { entries, cursor: encodeCursor(max, skip) };
  }

  let trimming: Promise<number> | undefined;
  /**
   * Drops the oldest records once the log is over its byte budget, until it is 1% under it, with the
   * same bookkeeping as memory relief. `used` is the log's size when the caller has just read it
   * (the write's INCRBY reply), saving a GET.
   */
  async function trimBySize(used?: number): Promise<number> {
    // Concurrent writes over the budget join the trim in flight: each trimming on its own would
    // drop the excess once per write (50 jobs at once dropped most of the log).
    // Writes that land meanwhile are seen in the byte count the drop script returns.
    trimming ??= (async () => {
      let bytes = used ?? Number((await redis.get(logKeys.bytes)) ?? 0);
      let records = 0;
      while (bytes > retention.maxBytes) {
        const excess = bytes - retention.maxBytes + trimSlack(retention.maxBytes);
        const relief = await relieveLog(redis, excess);
        records += relief.records;
        if (relief.records === 0 || relief.left === undefined) break;
        bytes = relief.left;
      }
      return records;
    })().finally(() => {
      trimming = undefined;
    });
    return trimming;
  }

  /** Drops records older than the age limit, and index entries pointing at them. */
  async function trimByAge(now = Date.now()): Promise<number> {
    const cutoff = now - retention.maxAgeMs;
    const old = await redis.zrangebyscore(logKeys.records, '-inf', cutoff);
    await redis.zremrangebyscore(logKeys.records, '-inf', cutoff);
    const removed = await dropRecords(old);
    for (const key of await redis.smembers(logKeys.indexes)) {
      await TRIM_INDEX.run(redis, [key, logKeys.indexes], [String(cutoff)]);
    }
    return removed;
  }

  async function dropRecords(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const sizes = await redis.hmget(logKeys.sizes, ...ids);
    const bytes = sizes.reduce((total, size) => total + Number(size ?? 0), 0);
    await redis
      .multi()
      .del(...ids.map(logKeys.record))
      .hdel(logKeys.sizes, ...ids)
      .decrby(logKeys.bytes, bytes)
      .exec();
    return ids.length;
  }

  return {
    write,
    setRecipientStates,
    recipientStates,
    recordAction,
    setMessageMeta,
    message,
    deliveries,
    trimBySize,
    trimByAge,
    usedBytes: async () => Number((await redis.get(logKeys.bytes)) ?? 0),
  };
}

export type DeliveryLog = ReturnType<typeof createDeliveryLog>;

/** The secondary indexes one recipient's entry goes into: one per field the operator API queries by. */

function matches(entry: DeliveryEntry, query: DeliveryQuery): boolean {
  if (query.status === 'failed' && entry.status !== 'bounced' && entry.status !== 'expired') return false;
  if (query.status && query.status !== 'failed' && entry.status !== query.status) return false;
  if (query.domain && entry.domain !== query.domain.toLowerCase()) return false;
  if (query.recipient && entry.address.toLowerCase() !== query.recipient.toLowerCase()) return false;
  if (query.category && entry.category !== query.category) return false;
  if (query.code !== undefined && entry.replyCode !== query.code) return false;
  return true;
}

function encodeCursor(max: string, skip: number): string {
  return Buffer.from(`${max}:${skip}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined, until: number | undefined): { max: string; skip: number } {
  if (!cursor) return { max: until === undefined ? '+inf' : String(until), skip: 0 };
  const [max = '+inf', skip = '0'] = Buffer.from(cursor, 'base64url').toString().split(':');
  return { max, skip: Number(skip) || 0 };
}
