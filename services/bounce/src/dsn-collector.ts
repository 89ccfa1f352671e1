import { randomUUID } from 'node:crypto';
import type { DsnAction } from '@outpost/core';
import { type BounceJobData, type ReportedRecipient, redisScript } from '@outpost/queue';
import type { Redis } from 'ioredis';
import { dsnKeys } from './bounce-keys.ts';

/** What every report of a message says about the message itself. */
export type DsnContext = Omit<BounceJobData, 'v' | 'event' | 'recipients'>;

export type CollectResult =
  /** Collected into `window`: its send job must exist (adding it again is harmless). */
  | { outcome: 'collected'; window: string }
  /** This report job was collected before (processed twice): its window's send job must exist. */
  | { outcome: 'duplicate'; window: string }
  /** A delay warning for the message already went out, or is collected in another window. */
  | { outcome: 'already-warned' }
  /** Every recipient of this final report was collected before, in this window or an earlier one. */
  | { outcome: 'already-reported' };

/**
 * Adds a report's recipients to the open window of (message, event), opening one when none is, in
 * one script: no report can slip between "window taken" and "new window opened". For delays the
 * window also claims the message's one delay warning (the flag holds the window that owns it).
 * A final event (failed, delivered) happens once per recipient: a recipient collected before, by a
 * delivery job that ran again after a crash, is not collected again (KEYS[6] remembers them).
 * ARGV[7..] are pairs: lower-cased address, recipient JSON.
 */
const COLLECT = redisScript(`
local seen = redis.call('GET', KEYS[4])
if seen then return {'duplicate', seen} end
local fresh = {}
for i = 7, #ARGV, 2 do
  if ARGV[6] ~= '1' or redis.call('SISMEMBER', KEYS[6], ARGV[i]) == 0 then table.insert(fresh, i) end
end
if #fresh == 0 then
  redis.call('SET', KEYS[4], '', 'PX', ARGV[2])
  return {'already-reported', ''}
end
local window = redis.call('GET', KEYS[1])
if ARGV[4] == '1' then
  local owner = redis.call('GET', KEYS[5])
  if owner and owner ~= window then
    redis.call('SET', KEYS[4], '', 'PX', ARGV[2])
    return {'already-warned', owner}
  end
end
if not window then
  window = ARGV[1]
  redis.call('SET', KEYS[1], window, 'PX', ARGV[2])
end
if ARGV[4] == '1' then redis.call('SET', KEYS[5], window, 'PX', ARGV[5]) end
for _, i in ipairs(fresh) do
  redis.call('RPUSH', KEYS[2], ARGV[i + 1])
  if ARGV[6] == '1' then redis.call('SADD', KEYS[6], ARGV[i]) end
end
if ARGV[6] == '1' then redis.call('PEXPIRE', KEYS[6], ARGV[2]) end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'NX')
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('SET', KEYS[4], window, 'PX', ARGV[2])
return {'collected', window}
`);

/**
 * Closes `window` if it is still the open one, moving its recipients and context aside under the
 * window's own keys (later reports open a new window), and returns what was moved. Run again by a
 * retry, it returns the same content: nothing is deleted until finish().
 */
const TAKE = redisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('RENAME', KEYS[2], KEYS[4])
    redis.call('PEXPIRE', KEYS[4], ARGV[2])
  end
  if redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('RENAME', KEYS[3], KEYS[5])
    redis.call('PEXPIRE', KEYS[5], ARGV[2])
  end
end
return {redis.call('GET', KEYS[5]) or '', redis.call('LRANGE', KEYS[4], 0, -1)}
`);

export interface Collector {
  collect(options: {
    reportJobId: string;
    messageId: string;
    event: DsnAction;
    context: DsnContext;
    recipients: readonly ReportedRecipient[];
    /** How long the flag of the message's one delay warning lives (delays only). */
    delayFlagTtlMs: number;
  }): Promise<CollectResult>;
  take(
    messageId: string,
    event: DsnAction,
    window: string,
  ): Promise<{ context: DsnContext; recipients: ReportedRecipient[] } | undefined>;
  finish(messageId: string, event: DsnAction, window: string): Promise<void>;
}

/**
 * `stateTtlMs` bounds how long collected state waits for its send job (and that job's retries)
 * before Redis drops it: memory stays bounded even when the send job is lost.
 */
export function createCollector(redis: Redis, stateTtlMs: number): Collector {
  const ttl = String(stateTtlMs);
  return {
    async collect({ reportJobId, messageId, event, context, recipients, delayFlagTtlMs }) {
      const keys = [
        dsnKeys.window(messageId, event),
        dsnKeys.recipients(messageId, event),
        dsnKeys.context(messageId, event),
        dsnKeys.reportSeen(reportJobId),
        dsnKeys.delayWarned(messageId),
        dsnKeys.reported(messageId, event),
      ];
      const args = [
        randomUUID(),
        ttl,
        JSON.stringify(context),
        event === 'delayed' ? '1' : '0',
        String(Math.max(1, Math.round(delayFlagTtlMs))),
        event === 'delayed' ? '0' : '1',
        ...recipients.flatMap((recipient) => [recipient.address.toLowerCase(), JSON.stringify(recipient)]),
      ];
      const [outcome, window] = (await COLLECT.run(redis, keys, args)) as [string, string];
      if (outcome === 'already-warned' || outcome === 'already-reported') return { outcome };
      // A report dropped (already warned, already reported) is remembered with an empty window:
      // processed again, it still has nothing to send.
      if (outcome === 'duplicate' && window === '') return { outcome: 'already-warned' };
      return { outcome: outcome as 'collected' | 'duplicate', window };
    },

    async take(messageId, event, window) {
      const keys = [
        dsnKeys.window(messageId, event),
        dsnKeys.recipients(messageId, event),
        dsnKeys.context(messageId, event),
        dsnKeys.takenRecipients(messageId, event, window),
        dsnKeys.takenContext(messageId, event, window),
      ];
      const [context, recipients] = (await TAKE.run(redis, keys, [window, ttl])) as [string, string[]];
      if (context === '' || recipients.length === 0) return undefined;
      return {
        context: JSON.parse(context) as DsnContext,
        recipients: recipients.map((entry) => JSON.parse(entry) as ReportedRecipient),
      };
    },

    async finish(messageId, event, window) {
      await redis.del(
        dsnKeys.takenRecipients(messageId, event, window),
        dsnKeys.takenContext(messageId, event, window),
        dsnKeys.plan(messageId, event, window),
      );
    },
  };
}
