import { wantsNotification } from '@outpost/core';
import type { DeliveryJobData, ReportedRecipient } from '@outpost/queue';
import type { Queue } from 'bullmq';

/**
 * The recipients of a message that are still being retried, from its unfinished delivery jobs
 * (the children of its message job). A delay warning goes out once per message, but each
 * destination's job reports its delay on its own schedule: without this, the warning would list
 * only the recipients of whichever job came first.
 */
export async function pendingRecipients(
  queues: { message: Queue; delivery: Queue },
  messageId: string,
  now: number,
): Promise<ReportedRecipient[]> {
  const parent = await queues.message.getJob(messageId);
  if (!parent) return [];
  const { unprocessed = [] } = await parent.getDependencies();
  const pending: ReportedRecipient[] = [];
  for (const key of unprocessed) {
    const job = await queues.delivery.getJob(key.slice(key.lastIndexOf(':') + 1));
    const data = job?.data as DeliveryJobData | undefined;
    // Only jobs that tried and were told "later" have a problem to report.
    if (!job || data?.v !== 1 || data.attempts === 0 || !data.lastProblem) continue;
    const problem = data.lastProblem;
    for (const recipient of data.recipients) {
      if (!wantsNotification(recipient.notify, 'delayed')) continue;
      pending.push({
        address: recipient.address,
        ...(recipient.orcpt !== undefined && { orcpt: recipient.orcpt }),
        action: 'delayed',
        status: 'deferred',
        enhancedStatus: problem.status,
        category: problem.category,
        ...(problem.diagnostic !== undefined && { diagnostic: problem.diagnostic }),
        at: job.processedOn ?? now,
        willRetryUntil: data.expiresAt,
      });
    }
  }
  return pending;
}
