import { groupRecipientsByDomain } from './envelope.ts';
import { addHeaderFields, findHeader, type HeaderField, parseHeaderFields } from './headers.ts';
import type { ClientIdentity, DsnEnvelopeParams, Message, Recipient } from './message.ts';
import { buildReceivedHeader } from './received.ts';
import { formatRfc5322Date } from './rfc5322-date.ts';

export interface PrepareMessageInput {
  id: string;
  sender: string;
  recipients: readonly Recipient[];
  dsn: DsnEnvelopeParams;
  raw: Buffer;
  client: ClientIdentity;
  /** Our own name, for Received: and generated Message-IDs. */
  hostname: string;
  now: number;
  /** How long the queue keeps trying before the message expires. */
  lifetimeMs: number;
  traceparent?: string;
  /** The header fields of `raw`, when the caller has parsed them already. */
  fields?: readonly HeaderField[];
}

const SUMMARY_LIMIT = 998; // RFC 5322 §2.1.1 line limit: enough for any sane header value

/**
 * Turns what a client handed over into the message we store: trace field on top, Message-ID and Date
 * added when missing (RFC 5322 §3.6 requires Date; §3.6.4 says Message-ID SHOULD be present; a
 * submission server adds them, RFC 6409 §8), recipients de-duplicated.
 */
export function prepareMessage(input: PrepareMessageInput): Message {
  const fields = input.fields ?? parseHeaderFields(input.raw);
  const recipients = [...groupRecipientsByDomain(input.recipients).values()].flat();
  const received = buildReceivedHeader({
    client: input.client,
    byHost: input.hostname,
    id: input.id,
    recipients: recipients.map((recipient) => recipient.address),
    time: input.now,
  });
  const existingMessageId = findHeader(fields, 'message-id');
  const messageId = existingMessageId ?? `<${input.id}@${input.hostname}>`;
  const append: string[] = [];
  if (!existingMessageId) append.push(`Message-ID: ${messageId}`);
  if (!findHeader(fields, 'date')) append.push(`Date: ${formatRfc5322Date(input.now)}`);
  const body = addHeaderFields(input.raw, [received], append);
  const subject = findHeader(fields, 'subject');
  const from = findHeader(fields, 'from');
  return {
    id: input.id,
    sender: input.sender,
    recipients,
    dsn: input.dsn,
    arrivalTime: input.now,
    expiresAt: input.now + input.lifetimeMs,
    size: body.length,
    headers: {
      messageId: messageId.slice(0, SUMMARY_LIMIT),
      ...(subject !== undefined && { subject: subject.slice(0, SUMMARY_LIMIT) }),
      ...(from !== undefined && { from: from.slice(0, SUMMARY_LIMIT) }),
    },
    client: input.client,
    ...(input.traceparent !== undefined && { traceparent: input.traceparent }),
    body,
  };
}
