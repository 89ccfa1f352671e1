import { headerBlockLength, type Message } from '@outpost/core';
import type { Queue } from 'bullmq';
import { BOUNCE_JOB_OPTIONS } from './job-options.ts';
import type { BounceJobData, ReportAction, ReportedRecipient } from './payloads.ts';

/** RET=FULL returns the message, but not an unbounded one. */
export const MAX_RETURNED_MESSAGE_BYTES = 1024 * 1024;

/**
 * Hands recipients to the bounce service, which owns DSN collection, the NOTIFY rules and the
 * never-to-<> rule. One job per (message, event) per delivery attempt; it groups them.
 */
export async function reportRecipients(
  queue: Queue,
  message: Message,
  event: ReportAction,
  recipients: ReportedRecipient[],
): Promise<void> {
  if (recipients.length === 0) return;
  const { body } = message;
  const data: BounceJobData = {
    v: 1,
    event,
    messageId: message.id,
    sender: message.sender,
    dsn: message.dsn,
    arrivalTime: message.arrivalTime,
    headers: message.headers,
    originalHeaders: body.subarray(0, headerBlockLength(body)).toString('latin1'),
    // RFC 3461 §4.3: RET asks for the message in a failed DSN; delay and success notices carry
    // the headers (and the report jobs stay small).
    ...(message.dsn.ret === 'FULL' &&
      event === 'failed' && {
        originalMessage: body.subarray(0, MAX_RETURNED_MESSAGE_BYTES).toString('latin1'),
      }),
    smtpUtf8: /[^\x00-\x7f]/.test(
      [message.sender, ...message.recipients.map((entry) => entry.address)].join(''),
    ),
    recipients,
    ...(message.traceparent !== undefined && { traceparent: message.traceparent }),
  };
  await queue.add(event, data, BOUNCE_JOB_OPTIONS);
}
