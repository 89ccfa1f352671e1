import { createDestinationLimiter, createOperatorControls, type DestinationState } from '@outpost/delivery';
import { createDeliveryLog, DEFAULT_RETENTION, type DeliveryEntry, type DeliveryQuery } from '@outpost/store';
import type { Redis } from 'ioredis';
import { listDomainHolds } from './domain-holds.ts';
import { type HeldEntry, heldDeliveries } from './held-deliveries.ts';
import { createMessageActions } from './message-actions.ts';
import { closeQueues, openQueues } from './message-jobs.ts';
import { getMessageView } from './message-view.ts';
import { outcomeCounts } from './outcome-counts.ts';
import { queueOverview } from './queue-overview.ts';

export interface QueryContextOptions {
  /** Messages link to `${traceUiUrl}/trace/<trace id>`. */
  traceUiUrl?: string;
  /** How long actions and statuses written here are kept: the delivery log's retention. */
  logRetentionMs?: number;
  /** Webhooks are configured: an operator's bounce is queued for them too. */
  webhooks?: boolean;
}

export interface DeliveriesPage {
  entries: Array<DeliveryEntry | HeldEntry>;
  cursor?: string;
}

/**
 * The questions and actions of the trace-query service, over one Redis connection: what the HTTP
 * API serves and what the CLI runs directly (like postqueue, it needs only Redis).
 */
export function openQueryContext(redis: Redis, options: QueryContextOptions = {}) {
  const queues = openQueues(redis);
  const log = createDeliveryLog(redis, {
    ...DEFAULT_RETENTION,
    maxAgeMs: options.logRetentionMs ?? DEFAULT_RETENTION.maxAgeMs,
  });
  const controls = createOperatorControls(redis);
  const limiter = createDestinationLimiter(redis);
  const actions = createMessageActions({
    redis,
    log,
    queues,
    resumeDomain: (domain) => controls.resumeDomain(domain),
    ...(options.webhooks && { webhooks: true }),
  });
  return {
    /** For what is a plain Redis read or write (the suppression list). */
    redis,
    actions,
    message: (messageId: string) =>
      getMessageView(
        { redis, log, queues, ...(options.traceUiUrl && { traceUiUrl: options.traceUiUrl }) },
        messageId,
      ),
    /** Newest first. `failed` = bounced or expired; `held` comes from the holds, not the log. */
    deliveries: (query: DeliveryQuery): Promise<DeliveriesPage> =>
      query.status === 'held' ? heldDeliveries(redis, queues, query) : log.deliveries(query),
    overview: () => queueOverview(redis, queues),
    destinations: (): Promise<DestinationState[]> => limiter.list(),
    /** Domains an operator paused, with who and when. */
    domainHolds: () => listDomainHolds(redis),
    /** Recipient outcomes per hour over the last `hours` hours (the page's chart). */
    outcomes: (hours: number) => outcomeCounts(redis, hours),
    async close(): Promise<void> {
      await controls.close();
      await closeQueues(queues);
    },
  };
}

export type QueryContext = ReturnType<typeof openQueryContext>;
