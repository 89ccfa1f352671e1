import type { BounceConfig } from '@outpost/config';
import { newMessageId } from '@outpost/core';
import type { MessageWriter, ReportedRecipient, WebhookEvent } from '@outpost/queue';
import { webhookJob } from '@outpost/queue';
import { ATTR, contextFromTraceparent, type Logger, SpanStatusCode, type Tracer } from '@outpost/telemetry';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { mayNotifySender } from './backscatter-guard.ts';
import { dsnKeys } from './bounce-keys.ts';
import {
  countSentDsn,
  recordBackscatterCapped,
  recordDoubleBounce,
  toUnsentRecord,
} from './bounce-records.ts';
import type { Collector, DsnContext } from './dsn-collector.ts';
import { type DsnPlan, markPlan, planOnce } from './dsn-plan.ts';
import { pendingRecipients } from './pending-recipients.ts';
import type { SendDsnJobData } from './send-job.ts';
import { toDsnReport } from './to-dsn-report.ts';
import { writeDsn } from './write-dsn.ts';

export interface SendDeps {
  redis: Redis;
  collector: Collector;
  writer: MessageWriter;
  /** Where a delay warning finds the message's other recipients still being retried. */
  queues: { message: Queue; delivery: Queue };
  bounce: BounceConfig;
  hostname: string;
  stateTtlMs: number;
  logger: Logger;
  now: () => number;
  /** Set when webhooks are configured: a sent delay warning is an event for them too. */
  webhookQueue?: Queue;
  /** `dsn.generate` spans join the original message's trace. */
  tracer?: Tracer;
}

export type SendOutcome = 'nothing-collected' | DsnPlan['verdict'];

/**
 * The end of a collection window: takes what the window collected and sends one DSN for all of
 * it, or records why not. The collected state is deleted only after that succeeded, so a failure
 * retries the job with nothing lost.
 */
export async function sendCollectedDsn(data: SendDsnJobData, deps: SendDeps): Promise<SendOutcome> {
  const { messageId, event, window } = data;
  const taken = await deps.collector.take(messageId, event, window);
  if (!taken) return 'nothing-collected';
  const { context, recipients } = taken;
  const planKey = dsnKeys.plan(messageId, event, window);
  const plan = await planOnce(
    deps.redis,
    planKey,
    deps.stateTtlMs,
    async () => {
      if (context.sender === '') return 'double-bounce';
      return (await mayNotifySender(deps.redis, context.sender, deps.bounce.backscatterLimit))
        ? 'send'
        : 'capped';
    },
    () => newMessageId(deps.now()),
  );
  const log = { messageId, event, recipients: recipients.map((recipient) => recipient.address) };
  const record = () => toUnsentRecord(messageId, event, context.sender, deps.now(), recipients);

  if (plan.verdict === 'send') {
    const listed =
      event === 'delayed'
        ? [...recipients, ...(await otherPending(deps, messageId, recipients))]
        : recipients;
    if (!plan.written) {
      await write(deps, plan.dsnId, context, listed, event, 'sender', context.sender);
      await markPlan(deps.redis, planKey, 'written');
      await countSentDsn(deps.redis, event);
    }
    if (event === 'delayed' && deps.webhookQueue && !plan.announced) {
      await emitDelayWarned(deps.webhookQueue, messageId, listed, deps.now());
      await markPlan(deps.redis, planKey, 'announced');
    }
    deps.logger.info({ ...log, dsnId: plan.dsnId, to: context.sender }, 'DSN queued');
  } else if (plan.verdict === 'capped') {
    await recordBackscatterCapped(deps.redis, record());
    deps.logger.warn(
      { ...log, sender: context.sender, limit: deps.bounce.backscatterLimit },
      'DSN not sent: sender over the backscatter limit',
    );
  } else {
    const copyTo = postmasterCopyTo(context, deps);
    if (copyTo && !plan.written) {
      await write(deps, plan.dsnId, context, recipients, event, 'postmaster', copyTo);
      await markPlan(deps.redis, planKey, 'written');
    }
    await recordDoubleBounce(deps.redis, { ...record(), ...(copyTo && { postmasterCopy: plan.dsnId }) });
    deps.logger.warn(
      { ...log, postmasterCopy: copyTo ? plan.dsnId : undefined },
      'double bounce: mail from <> failed',
    );
  }
  await deps.collector.finish(messageId, event, window);
  return plan.verdict;
}

/** One `delayed_dsn_sent` webhook event per recipient the delay warning listed. */
async function emitDelayWarned(
  queue: Queue,
  messageId: string,
  recipients: readonly ReportedRecipient[],
  at: number,
): Promise<void> {
  await queue.addBulk(
    recipients.map((recipient) => {
      const data: WebhookEvent = {
        v: 1,
        event: 'delayed_dsn_sent',
        messageId,
        recipient: recipient.address,
        domain: recipient.address.slice(recipient.address.lastIndexOf('@') + 1).toLowerCase(),
        status: 'deferred',
        enhancedStatus: recipient.enhancedStatus,
        category: recipient.category,
        ...(recipient.diagnostic !== undefined && { reply: recipient.diagnostic }),
        at,
      };
      return webhookJob(data);
    }),
  );
}

/** The delay warning is the only one for the message: it lists every recipient still pending. */
async function otherPending(
  deps: SendDeps,
  messageId: string,
  reported: readonly ReportedRecipient[],
): Promise<ReportedRecipient[]> {
  const listed = new Set(reported.map((recipient) => recipient.address.toLowerCase()));
  const pending = await pendingRecipients(deps.queues, messageId, deps.now());
  return pending.filter((recipient) => !listed.has(recipient.address.toLowerCase()));
}

/** The Message-ID suffix that marks a postmaster copy: its own failure is not copied again. */
const postmasterSuffix = (hostname: string) => `.postmaster@${hostname}>`;

function postmasterCopyTo(context: DsnContext, deps: SendDeps): string | undefined {
  if (!deps.bounce.postmaster) return undefined;
  if (context.headers.messageId.endsWith(postmasterSuffix(deps.hostname))) return undefined;
  return deps.bounce.postmaster;
}

async function write(
  deps: SendDeps,
  dsnId: string,
  context: DsnContext,
  recipients: readonly ReportedRecipient[],
  event: SendDsnJobData['event'],
  audience: 'sender' | 'postmaster',
  to: string,
): Promise<void> {
  const span = deps.tracer?.startSpan(
    'dsn.generate',
    {
      attributes: {
        [ATTR.messageId]: context.messageId,
        'outpost.dsn.id': dsnId,
        'outpost.dsn.event': event,
        'outpost.dsn.audience': audience,
        [ATTR.recipientCount]: recipients.length,
      },
    },
    contextFromTraceparent(context.traceparent),
  );
  try {
    const report = toDsnReport({ context, event, recipients, audience, hostname: deps.hostname });
    const headerMessageId =
      audience === 'postmaster'
        ? `<${dsnId}${postmasterSuffix(deps.hostname)}`
        : `<${dsnId}@${deps.hostname}>`;
    await writeDsn(
      { report, context, dsnId, to, headerMessageId },
      {
        writer: deps.writer,
        hostname: deps.hostname,
        lifetimeMs: deps.bounce.dsnLifetimeMs,
        now: deps.now(),
      },
    );
  } catch (error) {
    span?.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
    throw error;
  } finally {
    span?.end();
  }
}
