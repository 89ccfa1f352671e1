import type { RecipientStatus } from '@outpost/core';
import type { WebhookEvent } from '@outpost/queue';
import { webhookJob } from '@outpost/queue';
import type { Queue } from 'bullmq';
import type { RecipientOutcome } from './attempt-delivery.ts';
import { diagnosticOf } from './record-outcomes.ts';

const EVENT_OF: Partial<Record<RecipientStatus, WebhookEvent['event']>> = {
  delivered: 'delivered',
  deferred: 'deferred',
  bounced: 'bounced',
  expired: 'expired',
};

/**
 * Queues one webhook event per recipient outcome; a separate worker POSTs them with retries, so a
 * slow or dead webhook endpoint never holds up delivery.
 */
export async function emitWebhookEvents(
  queue: Queue,
  context: { messageId: string; domain: string; attempt: number; at: number },
  outcomes: readonly RecipientOutcome[],
  statusOf: (address: string) => RecipientStatus,
): Promise<void> {
  const jobs = outcomes.flatMap((outcome) => {
    const status = statusOf(outcome.recipient.address);
    const event = EVENT_OF[status];
    if (!event) return [];
    const reply = diagnosticOf(outcome);
    const data: WebhookEvent = {
      v: 1,
      event,
      messageId: context.messageId,
      recipient: outcome.recipient.address,
      domain: context.domain,
      status,
      enhancedStatus: status === 'expired' ? '4.4.7' : outcome.classification.status,
      category: outcome.classification.category,
      ...(reply !== undefined && { reply }),
      attempt: context.attempt,
      at: context.at,
    };
    return [webhookJob(data)];
  });
  if (jobs.length > 0) await queue.addBulk(jobs);
}
