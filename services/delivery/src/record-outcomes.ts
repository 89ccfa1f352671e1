import type { ReportedRecipient } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import type { AttemptReport, RecipientOutcome } from './attempt-delivery.ts';

/** The reply line as received, for DSNs and records. */
export function diagnosticOf(outcome: RecipientOutcome): string | undefined {
  const { event } = outcome;
  if (event.kind === 'reply')
    return [event.reply.code, event.reply.enhanced, event.reply.text].filter(Boolean).join(' ');
  return 'detail' in event ? event.detail : undefined;
}

/** The recipient as a DSN reports it; `status` is its status in the data model after this attempt. */
export function toReportedRecipient(
  outcome: RecipientOutcome,
  status: ReportedRecipient['status'],
  at: number,
  willRetryUntil?: number,
): ReportedRecipient {
  const diagnostic = diagnosticOf(outcome);
  const action = status === 'delivered' ? 'delivered' : status === 'deferred' ? 'delayed' : 'failed';
  return {
    address: outcome.recipient.address,
    ...(outcome.recipient.notify && { notify: outcome.recipient.notify }),
    ...(outcome.recipient.orcpt && { orcpt: outcome.recipient.orcpt }),
    action,
    status,
    // RFC 3464 §2.3.4 / RFC 3463 §3.5: an expiry is "delivery time expired", 4.4.7.
    enhancedStatus: status === 'expired' ? '4.4.7' : outcome.classification.status,
    category: outcome.classification.category,
    ...(diagnostic !== undefined && { diagnostic }),
    ...(outcome.remoteHost && { remoteHost: outcome.remoteHost }),
    ...(outcome.remoteAddress && { remoteAddress: outcome.remoteAddress }),
    at,
    ...(willRetryUntil !== undefined && { willRetryUntil }),
    ...(outcome.suppressed && { reason: 'suppressed' as const }),
  };
}

/**
 * One log line per recipient and attempt (until the delivery log lands, this is the record), and
 * the transcript of every session that did not deliver, at debug level.
 */
export function logAttempt(
  logger: Logger,
  context: { messageId: string; domain: string; attempt: number },
  report: AttemptReport,
): void {
  for (const outcome of report.outcomes) {
    logger.info(
      {
        ...context,
        recipient: outcome.recipient.address,
        verdict: outcome.classification.verdict,
        status: outcome.classification.status,
        category: outcome.classification.category,
        rule: outcome.classification.rule,
        remoteHost: outcome.remoteHost,
        remoteAddress: outcome.remoteAddress,
        reply: diagnosticOf(outcome),
        possibleDuplicate: outcome.classification.possibleDuplicate,
      },
      'delivery attempt',
    );
  }
  for (const session of report.sessions) {
    logger.debug(
      { ...context, host: session.host, address: session.address, transcript: session.transcript },
      'smtp session',
    );
  }
}
