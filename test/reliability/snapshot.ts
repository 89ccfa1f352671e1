import { messageBodyKey, QUEUE_NAMES, QUEUE_PREFIX } from '@outpost/queue';
import { createDeliveryLog, logKeys } from '@outpost/store';
import type { SmtpReceiver } from '@outpost/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type {
  AcceptedMessage,
  AttemptFacts,
  JobFacts,
  ReceivedCopy,
  ScenarioSnapshot,
  SpanFacts,
} from './invariants.ts';

/** Every job state but completed: what may still hold a message after a scenario. */
const OPEN_STATES = ['active', 'failed', 'waiting', 'delayed', 'prioritized', 'paused', 'waiting-children'];

/**
 * Gathers the facts the invariants judge: the delivery log and the queues from Redis, the copies
 * the receivers recorded, and the spans when a collector listened. Messages are found from the
 * ledger and from the delivery log itself (DSNs are messages the scenario never submitted).
 */
export async function collectSnapshot(options: {
  redis: Redis;
  accepted: readonly AcceptedMessage[];
  receivers: Iterable<SmtpReceiver>;
  spans?: readonly SpanFacts[];
}): Promise<ScenarioSnapshot> {
  const { redis } = options;
  const log = createDeliveryLog(redis);
  const ids = new Set(options.accepted.map((message) => message.id));
  for (const id of await loggedMessageIds(redis)) ids.add(id);

  const states = new Map<string, Map<string, string>>();
  const attempts: AttemptFacts[] = [];
  const meta: ScenarioSnapshot['meta'] = new Map();
  await inBatches([...ids], 100, async (id) => {
    const view = await log.message(id);
    if (!view) return;
    states.set(id, new Map(view.recipients.map((state) => [state.address, state.status])));
    for (const record of view.attempts) {
      attempts.push({
        messageId: record.messageId,
        domain: record.domain,
        attempt: record.attempt,
        ...(record.traceId !== undefined && { traceId: record.traceId }),
        sessions: record.sessions.length,
        recipients: record.recipients.map((recipient) => ({
          address: recipient.address,
          verdict: recipient.verdict,
          status: recipient.status,
          ...(recipient.possibleDuplicate && { possibleDuplicate: true }),
        })),
      });
    }
    const m = view.meta as
      | { sender?: string; recipients?: string[]; traceparent?: string; headers?: { messageId?: string } }
      | undefined;
    if (m) {
      meta.set(id, {
        sender: m.sender ?? '',
        recipients: m.recipients ?? [],
        ...(m.traceparent !== undefined && { traceparent: m.traceparent }),
        ...(m.headers?.messageId !== undefined && { messageIdHeader: m.headers.messageId }),
      });
    }
  });

  const received: ReceivedCopy[] = [];
  for (const receiver of options.receivers) {
    for (const message of receiver.messages) {
      received.push({ receiver: receiver.host, from: message.from, to: message.to, data: message.data });
    }
  }
  return {
    accepted: [...options.accepted],
    received,
    states,
    attempts,
    meta,
    jobs: await openJobs(redis),
    bodies: await storedBodies(redis),
    ...(options.spans && { spans: [...options.spans] }),
  };
}

/** Message ids whose body is still stored. */
async function storedBodies(redis: Redis): Promise<string[]> {
  const prefix = messageBodyKey('');
  const ids: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    for (const key of keys) ids.push(key.slice(prefix.length));
    cursor = next;
  } while (cursor !== '0');
  return ids;
}

/** Jobs of the message, delivery and bounce queues in any state but completed. */
export async function openJobs(redis: Redis): Promise<JobFacts[]> {
  const jobs: JobFacts[] = [];
  for (const name of [QUEUE_NAMES.message, QUEUE_NAMES.delivery, QUEUE_NAMES.bounce]) {
    const queue = new Queue(name, { connection: redis, prefix: QUEUE_PREFIX });
    queue.on('error', () => {});
    try {
      for (const state of OPEN_STATES) {
        for (const job of await queue.getJobs([state as 'active'])) {
          if (!job?.id) continue;
          const data = job.data as {
            messageId?: string;
            id?: string;
            recipients?: Array<{ address: string }>;
          };
          jobs.push({
            queue: name,
            id: job.id,
            state,
            ...(job.failedReason && { failedReason: job.failedReason }),
            ...((data.messageId ?? (name === QUEUE_NAMES.message ? data.id : undefined)) && {
              messageId: data.messageId ?? data.id,
            }),
            ...(Array.isArray(data.recipients) && {
              recipients: data.recipients.map((recipient) => recipient.address),
            }),
          });
        }
      }
    } finally {
      // The connection is the caller's: close only the queue's own resources.
      await queue.close();
    }
  }
  return jobs;
}

/** Ids of every message the delivery log has something about. */
async function loggedMessageIds(redis: Redis): Promise<Set<string>> {
  const ids = new Set<string>();
  const pattern = logKeys.messageMeta('*');
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const id = key.match(/:msg:([^:]+):meta$/)?.[1];
      if (id) ids.add(id);
    }
  } while (cursor !== '0');
  return ids;
}

async function inBatches<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}
