import type { DsnAction } from '@outpost/core';
import { QUEUE_PREFIX } from '@outpost/queue';

const DSN = `${QUEUE_PREFIX}:dsn`;

/**
 * Redis keys of the DSN state. All share the queue's hash tag, so a Lua script may touch several
 * (Redis Cluster keeps them in one slot). Every key has a TTL: Redis runs noeviction.
 */
export const dsnKeys = {
  /** The id of the collection window open for (message, event), if one is. */
  window: (messageId: string, event: DsnAction) => `${DSN}:${messageId}:${event}:window`,
  /** Recipients (JSON, one per element) reported in the open window. */
  recipients: (messageId: string, event: DsnAction) => `${DSN}:${messageId}:${event}:recipients`,
  /** What the reports say about the message itself (sender, headers, DSN parameters ...). */
  context: (messageId: string, event: DsnAction) => `${DSN}:${messageId}:${event}:context`,
  /** A window's recipients and context once its send job took them. */
  takenRecipients: (messageId: string, event: DsnAction, window: string) =>
    `${DSN}:${messageId}:${event}:${window}:recipients`,
  takenContext: (messageId: string, event: DsnAction, window: string) =>
    `${DSN}:${messageId}:${event}:${window}:context`,
  /** What the send job decided for a window (verdict, DSN id), so a retry decides the same. */
  plan: (messageId: string, event: DsnAction, window: string) =>
    `${DSN}:${messageId}:${event}:${window}:plan`,
  /** Set once a delay warning for the message is being collected or was sent; holds its window. */
  delayWarned: (messageId: string) => `${DSN}:${messageId}:delay-warned`,
  /**
   * Recipients already collected for a final event of the message (failed, delivered): a delivery
   * job run again after a crash reports them again, maybe after their window closed.
   */
  reported: (messageId: string, event: DsnAction) => `${DSN}:reported:${messageId}:${event}`,
  /** A report job already collected (at-least-once processing must not list it twice). */
  reportSeen: (jobId: string) => `${DSN}:report:${jobId}`,
  /** DSNs sent to a sender address in the current hour (backscatter guard). */
  senderRate: (sender: string) => `${DSN}:rate:${sender.toLowerCase()}`,
};

/** Counters: sent:<event>, double-bounce, postmaster-copy, backscatter-capped. */
export const DSN_STATS_KEY = `${QUEUE_PREFIX}:stats:dsn`;
/** The latest double bounces (JSON, newest first, capped). */
export const DOUBLE_BOUNCES_KEY = `${DSN}:double-bounces`;
/** The latest DSNs not sent because their sender was over the backscatter limit. */
export const BACKSCATTER_CAPPED_KEY = `${DSN}:backscatter-capped`;
/** How many entries those two lists keep. */
export const RECORD_LIST_LENGTH = 1_000;
