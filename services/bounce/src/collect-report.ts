import type { BounceConfig } from '@outpost/config';
import { type BounceJobData, type ReportedRecipient, suppressAddress } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Collector, DsnContext } from './dsn-collector.ts';
import { recipientsToReport, shouldSuppress } from './report-rules.ts';
import { scheduleSend } from './send-job.ts';

export interface CollectDeps {
  redis: Redis;
  collector: Collector;
  bounceQueue: Queue;
  bounce: BounceConfig;
  logger: Logger;
  now: () => number;
}

const DAY_MS = 86_400_000;

/**
 * One report from delivery (one delivery attempt, one event): suppress the addresses that bounced
 * for good, then add the recipients that want a DSN to the message's collection window, whose send
 * job sends one DSN for all of them when the window closes.
 */
export async function collectReport(
  reportJobId: string,
  report: BounceJobData,
  deps: CollectDeps,
): Promise<void> {
  const context = { messageId: report.messageId, event: report.event };
  await suppressPermanentFailures(report.recipients, deps);
  const recipients = recipientsToReport(report);
  if (recipients.length === 0) {
    deps.logger.debug({ ...context, sender: report.sender }, 'no DSN wanted for this report');
    return;
  }
  const result = await deps.collector.collect({
    reportJobId,
    messageId: report.messageId,
    event: report.event,
    context: contextOf(report),
    recipients,
    delayFlagTtlMs: delayFlagTtl(recipients, deps.now()),
  });
  if (result.outcome === 'already-warned') {
    deps.logger.debug(context, 'delay warning already sent for this message');
    return;
  }
  if (result.outcome === 'already-reported') {
    // A delivery job that ran again (its worker or Redis crashed) reports the same outcome again.
    deps.logger.info(context, 'recipients already reported for this message: no second DSN');
    return;
  }
  // Added by every report of the window (and again by a retry): the job id makes it one job.
  await scheduleSend(
    deps.bounceQueue,
    { v: 1, messageId: report.messageId, event: report.event, window: result.window },
    deps.bounce.collectWindowMs,
  );
}

async function suppressPermanentFailures(recipients: readonly ReportedRecipient[], deps: CollectDeps) {
  if (deps.bounce.suppressionMs <= 0) return;
  const now = deps.now();
  for (const recipient of recipients) {
    if (!shouldSuppress(recipient, deps.bounce.suppressionCategories)) continue;
    await suppressAddress(deps.redis, {
      address: recipient.address,
      category: recipient.category,
      enhancedStatus: recipient.enhancedStatus,
      ...(recipient.diagnostic !== undefined && { diagnostic: recipient.diagnostic }),
      source: 'bounce',
      at: now,
      until: now + deps.bounce.suppressionMs,
    });
    deps.logger.info(
      {
        recipient: recipient.address,
        category: recipient.category,
        until: new Date(now + deps.bounce.suppressionMs),
      },
      'address suppressed',
    );
  }
}

function contextOf(report: BounceJobData): DsnContext {
  const { v: _v, event: _event, recipients: _recipients, ...context } = report;
  return context;
}

/** The "warned once" flag must outlive the message: until its expiry (plus a day), else a week. */
function delayFlagTtl(recipients: readonly ReportedRecipient[], now: number): number {
  const until = Math.max(0, ...recipients.map((recipient) => recipient.willRetryUntil ?? 0));
  return until > now ? until - now + DAY_MS : 7 * DAY_MS;
}
