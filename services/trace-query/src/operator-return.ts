import type { Message } from '@outpost/core';
import {
  type MessageJobData,
  type ReportedRecipient,
  reportRecipients,
  type WebhookEvent,
  webhookJob,
} from '@outpost/queue';
import type { Queue } from 'bullmq';

/** RFC 3463 X.0.0: "other or undefined status", the closest to "an operator sent it back". */
export const OPERATOR_RETURN_STATUS = '5.0.0';
export const OPERATOR_RETURN_CATEGORY = 'unknown';

export function returnedRecipients(
  recipients: readonly MessageJobData['recipients'][number][],
  by: string,
  at: number,
): ReportedRecipient[] {
  return recipients.map((recipient) => ({
    address: recipient.address,
    ...(recipient.notify !== undefined && { notify: recipient.notify }),
    ...(recipient.orcpt !== undefined && { orcpt: recipient.orcpt }),
    action: 'failed',
    status: 'bounced',
    enhancedStatus: OPERATOR_RETURN_STATUS,
    category: OPERATOR_RETURN_CATEGORY,
    diagnostic: `returned by operator ${by}`,
    at,
  }));
}

/**
 * Hands the returned recipients to the bounce service, which applies NOTIFY, never-to-<> and
 * backscatter rules as for any failure (the same report delivery writes).
 */
export async function reportReturned(
  bounceQueue: Queue,
  message: Message,
  recipients: ReportedRecipient[],
): Promise<void> {
  await reportRecipients(bounceQueue, message, 'failed', recipients);
}

/** The same outcome for the webhooks, one event per recipient, as delivery queues them. */
export async function emitReturnedEvents(
  webhookQueue: Queue,
  messageId: string,
  recipients: readonly ReportedRecipient[],
): Promise<void> {
  const jobs = recipients.map((recipient) => {
    const data: WebhookEvent = {
      v: 1,
      event: 'bounced',
      messageId,
      recipient: recipient.address,
      domain: recipient.address.slice(recipient.address.lastIndexOf('@') + 1).toLowerCase(),
      status: 'bounced',
      enhancedStatus: recipient.enhancedStatus,
      category: recipient.category,
      ...(recipient.diagnostic !== undefined && { reply: recipient.diagnostic }),
      at: recipient.at,
    };
    return webhookJob(data);
  });
  if (jobs.length > 0) await webhookQueue.addBulk(jobs);
}
