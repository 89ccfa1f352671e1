import type { DsnAction, DsnReport } from '@outpost/core';
import { MAX_RETURNED_MESSAGE_BYTES, type ReportedRecipient } from '@outpost/queue';
import type { DsnContext } from './dsn-collector.ts';

/** Delivery caps RET=FULL copies at 1 MiB; a copy that long was probably cut short. */

/** What the DSN says, from what the reports of one window collected. */
export function toDsnReport(options: {
  context: DsnContext;
  event: DsnAction;
  recipients: readonly ReportedRecipient[];
  audience: DsnReport['audience'];
  hostname: string;
}): DsnReport {
  const { context } = options;
  return {
    event: options.event,
    reportingMta: options.hostname,
    messageId: context.messageId,
    ...(context.dsn.envid !== undefined && { envid: context.dsn.envid }),
    arrivalTime: context.arrivalTime,
    original: context.headers,
    originalSender: context.sender,
    smtpUtf8: context.smtpUtf8,
    recipients: latestPerAddress(options.recipients),
    audience: options.audience,
    returned: returnedPart(context).kind,
  };
}

/**
 * RFC 3461 §4.3: RET=FULL returns the whole message in a failed DSN (only failed reports carry it:
 * report-recipients.ts), anything else the headers. A copy that may have been cut short is not
 * returned as a message (it would be a broken one): its headers are.
 */
export function returnedPart(context: DsnContext): { kind: DsnReport['returned']; content: Buffer } {
  const whole = context.originalMessage;
  if (whole === undefined)
    return { kind: 'headers', content: Buffer.from(context.originalHeaders, 'latin1') };
  if (whole.length >= MAX_RETURNED_MESSAGE_BYTES) {
    return { kind: 'headers-of-large-message', content: Buffer.from(context.originalHeaders, 'latin1') };
  }
  return { kind: 'message', content: Buffer.from(whole, 'latin1') };
}

/** A recipient reported twice in one window (a retried report) is listed once, as last reported. */
function latestPerAddress(recipients: readonly ReportedRecipient[]): ReportedRecipient[] {
  const byAddress = new Map<string, ReportedRecipient>();
  for (const recipient of recipients) {
    const key = recipient.address.toLowerCase();
    byAddress.delete(key);
    byAddress.set(key, recipient);
  }
  return [...byAddress.values()];
}
