import type { Recipient, RecipientStatus } from '@outpost/core';
import { controlKeys, type DeliveryJobData, loadQueuedMessage, messageBodyKey } from '@outpost/queue';
import type { DeliveryLog, RecipientState } from '@outpost/store';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type DeliveryJobState,
  domainHold,
  findDomainJobs,
  findMessageJobs,
  isPending,
  type OutpostQueues,
  type QueuedMessage,
} from './message-jobs.ts';
import { emitReturnedEvents, reportReturned, returnedRecipients } from './operator-return.ts';

export const MESSAGE_ACTIONS = ['hold', 'release', 'retry', 'delete', 'bounce'] as const;
export type MessageAction = (typeof MESSAGE_ACTIONS)[number];
export const DOMAIN_ACTIONS = ['hold', 'release', 'retry'] as const;
export type DomainAction = (typeof DOMAIN_ACTIONS)[number];

/** Why an action was not done: each is a polite refusal, not an error. */
export type ActionRefusal = 'not_found' | 'finished' | 'busy' | 'held' | 'not_held';

export type ActionResult =
  | { ok: true; summary: string; count: number }
  | { ok: false; reason: ActionRefusal; summary: string };

export interface ActionDeps {
  redis: Redis;
  log: DeliveryLog;
  queues: OutpostQueues;
  /** Lifts a domain hold and any automatic pause of its destination (delivery's operator controls). */
  resumeDomain(domain: string): Promise<void>;
  /** Webhooks are configured: an operator's bounce is a recipient outcome too. */
  webhooks?: boolean;
  now?: () => number;
}

const done = (summary: string, count: number): ActionResult => ({ ok: true, summary, count });
const refuse = (reason: ActionRefusal, summary: string): ActionResult => ({ ok: false, reason, summary });

/**
 * The operator's verbs on messages and domains, shared by the HTTP API and the CLI. Each is recorded
 * in the delivery log with who did it. Holds are the keys delivery already honours (a held job
 * waits, re-checked every minute, without counting an attempt); a hold does not stop the lifetime
 * clock, so a message held past its lifetime expires as usual.
 */
export function createMessageActions(deps: ActionDeps) {
  const { redis, log, queues } = deps;
  const now = deps.now ?? Date.now;

  /** Sets the status of recipients still waiting, keeping what the log knows about them. */
  async function setStatuses(
    messageId: string,
    jobs: readonly Job<DeliveryJobData>[],
    status: (job: Job<DeliveryJobData>) => RecipientStatus | undefined,
    by: string,
    at: number,
    extra: Partial<RecipientState> = {},
  ): Promise<number> {
    const known = new Map((await log.recipientStates(messageId)).map((state) => [state.address, state]));
    const states: RecipientState[] = jobs.flatMap((job) => {
      const next = status(job);
      if (!next) return [];
      return job.data.recipients.map((recipient) => ({
        ...(known.get(recipient.address) ?? { attempts: job.data.attempts }),
        address: recipient.address,
        status: next,
        updatedAt: at,
        by,
        ...extra,
      }));
    });
    await log.setRecipientStates(messageId, states);
    return states.length;
  }

  /** Never attempted: back to queued; otherwise it was waiting for a retry. */
  const waitingStatus = (job: Job<DeliveryJobData>): RecipientStatus =>
    job.data.attempts > 0 ? 'deferred' : 'queued';

  const record = (messageId: string, action: string, by: string, at: number, detail?: string) =>
    log.recordAction(messageId, { time: at, action, by, ...(detail !== undefined && { detail }) });

  /** Moves delayed jobs to now; a job that is already waiting or active is left as it is. */
  async function promote(jobs: readonly Job<DeliveryJobData>[]): Promise<number> {
    let promoted = 0;
    for (const job of jobs) {
      if ((await job.getState()) !== 'delayed') continue;
      // It may have just become due on its own: that is as good as promoted.
      await job.promote().then(
        () => promoted++,
        () => {},
      );
    }
    return promoted;
  }

  /** The message's jobs with work left, or the refusal that applies. */
  async function pendingJobs(messageId: string) {
    const { message, deliveries } = await findMessageJobs(queues, messageId);
    const pending = deliveries.filter(isPending);
    if (!message || pending.length === 0) {
      const known = message !== undefined || (await log.message(messageId)) !== undefined;
      return {
        refusal: known
          ? refuse('finished', `message ${messageId} is no longer queued: every recipient has a final status`)
          : refuse('not_found', `no message ${messageId} in the queue or the delivery log`),
      };
    }
    return { message, pending };
  }

  const isHeld = async (messageId: string) => (await redis.exists(controlKeys.heldMessage(messageId))) === 1;
  const isDomainHeld = async (domain: string) => (await redis.exists(controlKeys.pausedDomain(domain))) === 1;

  /** delete and bounce take the whole flow away; BullMQ refuses atomically while any job of it is locked. */
  async function removeFlow(
    messageId: string,
    message: QueuedMessage,
    pending: readonly DeliveryJobState[],
  ): Promise<ActionResult | undefined> {
    const busy = refuse('busy', `message ${messageId} is being attempted right now: try again in a moment`);
    if (pending.some((entry) => entry.state === 'active')) return busy;
    try {
      await message.remove();
    } catch {
      return busy;
    }
    await redis.del(controlKeys.heldMessage(messageId), messageBodyKey(messageId));
    return undefined;
  }

  const recipientsOf = (jobs: readonly DeliveryJobState[]): Recipient[] =>
    jobs.flatMap((entry) => entry.job.data.recipients);

  return {
    async hold(messageId: string, by: string): Promise<ActionResult> {
      const found = await pendingJobs(messageId);
      if (found.refusal) return found.refusal;
      const at = now();
      // Outlives the message's lifetime (delivery stops looking once it expires), then goes by itself.
      const ttl = Math.max(found.message.data.expiresAt - at, 0) + 86_400_000;
      await redis.set(controlKeys.heldMessage(messageId), JSON.stringify({ by, at }), 'PX', ttl);
      const jobs = found.pending.map((entry) => entry.job);
      const count = await setStatuses(messageId, jobs, () => 'held', by, at);
      await record(messageId, 'hold', by, at);
      return done(
        `held: ${count} recipient(s) wait until released (the lifetime clock keeps running)`,
        count,
      );
    },

    async release(messageId: string, by: string): Promise<ActionResult> {
      const wasHeld = (await redis.del(controlKeys.heldMessage(messageId))) === 1;
      const found = await pendingJobs(messageId);
      if (found.refusal) return found.refusal;
      if (!wasHeld) return refuse('not_held', `message ${messageId} is not held`);
      const at = now();
      const jobs = found.pending.map((entry) => entry.job);
      // A job whose domain is held stays held.
      const domainHeld = new Set<string>();
      for (const job of jobs) if (await isDomainHeld(job.data.domain)) domainHeld.add(job.data.domain);
      const free = jobs.filter((job) => !domainHeld.has(job.data.domain));
      await setStatuses(messageId, free, waitingStatus, by, at);
      const promoted = await promote(free);
      await record(messageId, 'release', by, at);
      const stillHeld = domainHeld.size > 0 ? `; still held by domain: ${[...domainHeld].join(', ')}` : '';
      return done(`released: ${promoted} delivery job(s) attempt now${stillHeld}`, promoted);
    },

    async retry(messageId: string, by: string): Promise<ActionResult> {
      const found = await pendingJobs(messageId);
      if (found.refusal) return found.refusal;
      if (await isHeld(messageId)) return refuse('held', `message ${messageId} is held: release it instead`);
      const at = now();
      const promoted = await promote(found.pending.map((entry) => entry.job));
      await record(messageId, 'retry', by, at);
      return done(`${promoted} delivery job(s) attempt now`, promoted);
    },

    async delete(messageId: string, by: string): Promise<ActionResult> {
      const found = await pendingJobs(messageId);
      if (found.refusal) return found.refusal;
      const refused = await removeFlow(messageId, found.message, found.pending);
      if (refused) return refused;
      const recipients = recipientsOf(found.pending).map((recipient) => recipient.address);
      await record(messageId, 'delete', by, now(), `not delivered to ${recipients.join(', ')}`);
      return done(
        `deleted: ${recipients.length} recipient(s) will not be attempted, no DSN`,
        recipients.length,
      );
    },

    async bounce(messageId: string, by: string): Promise<ActionResult> {
      const found = await pendingJobs(messageId);
      if (found.refusal) return found.refusal;
      // Read before the flow goes: the DSN quotes the message's headers (and all of it with RET=FULL).
      const message = await loadQueuedMessage(redis, messageId);
      if (!message) return refuse('not_found', `message ${messageId} is no longer in the queue`);
      const refused = await removeFlow(messageId, found.message, found.pending);
      if (refused) return refused;
      const at = now();
      const returned = returnedRecipients(recipientsOf(found.pending), by, at);
      await reportReturned(queues.bounce, message, returned);
      if (deps.webhooks) await emitReturnedEvents(queues.webhook, messageId, returned);
      const jobs = found.pending.map((entry) => entry.job);
      await setStatuses(messageId, jobs, () => 'bounced', by, at, {
        enhancedStatus: returned[0]?.enhancedStatus,
        category: returned[0]?.category,
        replyText: returned[0]?.diagnostic,
      });
      await record(messageId, 'bounce', by, at);
      return done(`returned to the sender: ${returned.length} recipient(s) bounced`, returned.length);
    },

    /** Holds a domain's mail, queued and yet to come, until released (delivery's domain pause). */
    async holdDomain(domain: string, by: string): Promise<ActionResult> {
      const at = now();
      await redis.set(controlKeys.pausedDomain(domain), JSON.stringify({ by, at }));
      const messages = groupByMessage(await findDomainJobs(queues, domain));
      for (const [messageId, jobs] of messages) {
        await setStatuses(messageId, jobs, () => 'held', by, at);
        await record(messageId, 'hold', by, at, `domain ${domain}`);
      }
      return done(`held, ${messages.size} queued message(s) wait until released`, messages.size);
    },

    async releaseDomain(domain: string, by: string): Promise<ActionResult> {
      if (!(await domainHold(redis, domain))) return refuse('not_held', `${domain} is not held`);
      await deps.resumeDomain(domain);
      return retryDomainJobs(domain, by, 'release');
    },

    async retryDomain(domain: string, by: string): Promise<ActionResult> {
      if (await isDomainHeld(domain)) return refuse('held', `${domain} is held: release it instead`);
      // Also lifts an automatic pause of the destination, or the jobs would just wait again.
      await deps.resumeDomain(domain);
      return retryDomainJobs(domain, by, 'retry');
    },
  };

  async function retryDomainJobs(domain: string, by: string, action: DomainAction): Promise<ActionResult> {
    const at = now();
    let promoted = 0;
    const messages = groupByMessage(await findDomainJobs(queues, domain));
    for (const [messageId, jobs] of messages) {
      // A message held on its own stays held.
      if (await isHeld(messageId)) continue;
      if (action === 'release') await setStatuses(messageId, jobs, waitingStatus, by, at);
      promoted += await promote(jobs);
      await record(messageId, action, by, at, `domain ${domain}`);
    }
    const verb = action === 'release' ? 'released' : 'retried';
    return done(`${verb}, ${promoted} delivery job(s) attempt now`, promoted);
  }
}

export type MessageActions = ReturnType<typeof createMessageActions>;

function groupByMessage(jobs: readonly Job<DeliveryJobData>[]): Map<string, Job<DeliveryJobData>[]> {
  const byMessage = new Map<string, Job<DeliveryJobData>[]>();
  for (const job of jobs)
    byMessage.set(job.data.messageId, [...(byMessage.get(job.data.messageId) ?? []), job]);
  return byMessage;
}
