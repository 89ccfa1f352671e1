import { wantsNotification } from '@outpost/core';
import type { BounceJobData, ReportedRecipient } from '@outpost/queue';

/**
 * The recipients of a report that belong in a DSN. RFC 3461 §4.1: each recipient's NOTIFY decides
 * (NEVER: nothing; a list: those events; none: failures and delays). A message from the null sender
 * gets no DSN at all (RFC 5321 §4.5.5, RFC 3461 §6.2: no bounce loops), but its failures are kept
 * for the double-bounce record, whatever their NOTIFY.
 */
export function recipientsToReport(report: BounceJobData): ReportedRecipient[] {
  const ofEvent = report.recipients.filter((recipient) => recipient.action === report.event);
  if (report.sender === '') return report.event === 'failed' ? ofEvent : [];
  return ofEvent.filter((recipient) => wantsNotification(recipient.notify, report.event));
}

/**
 * A recipient goes on the suppression list when it bounced permanently (5.x.x, not an expiry: a
 * receiver that was down for days says nothing about the address) with a listed category, and it
 * was attempted (a suppressed one is not re-suppressed, or it would never come off the list).
 */
export function shouldSuppress(recipient: ReportedRecipient, categories: readonly string[]): boolean {
  return (
    recipient.action === 'failed' &&
    recipient.status === 'bounced' &&
    recipient.reason !== 'suppressed' &&
    recipient.enhancedStatus.startsWith('5.') &&
    categories.includes(recipient.category)
  );
}
