import type {
  ClientIdentity,
  DsnEnvelopeParams,
  Message,
  MessageSummaryHeaders,
  Recipient,
} from '@outpost/core';
import { groupRecipientsByDomain } from '@outpost/core';

/**
 * Job payloads, versioned: a worker that meets a `v` it does not know leaves the job alone instead of
 * guessing. Bump `v` and keep reading the old shape for as long as such jobs can still be queued.
 */
export interface MessageJobDataV1 {
  v: 1;
  id: string;
  sender: string;
  recipients: Recipient[];
  dsn: DsnEnvelopeParams;
  arrivalTime: number;
  expiresAt: number;
  size: number;
  headers: MessageSummaryHeaders;
  client: ClientIdentity;
  traceparent?: string;
  dkim?: Message['dkim'];
  /** The message bytes as a latin1 string: one char per byte, so any 8-bit content round-trips. */
  body: string;
}

/**
 * v2: the body is no longer in the job's JSON but binary under `messageBodyKey(id)`, written in the
 * same MULTI as the flow. JSON escaped every CRLF and re-encoded every 8-bit byte as two, and the
 * body was copied as a string at every step on both sides.
 */
export interface MessageJobDataV2 extends Omit<MessageJobDataV1, 'v' | 'body'> {
  v: 2;
}

export interface DeliveryJobDataV1 {
  v: 1;
  messageId: string;
  domain: string;
  recipients: Recipient[];
  sender: string;
  dsn: DsnEnvelopeParams;
  arrivalTime: number;
  expiresAt: number;
  /** Attempts made so far; kept by us, not BullMQ, since waiting for a slot is not an attempt. */
  attempts: number;
  /** Set once the sender was warned that the message is late (one delay DSN per job). */
  delayReported?: boolean;
  /** What the last attempt met, so an expiry can say why (RFC 3464 Diagnostic-Code). */
  lastProblem?: { status: string; category: string; diagnostic?: string };
  /**
   * Recipients a run lost after the final dot (the worker or Redis died before the outcome was
   * recorded) and that are still pending: when one is delivered later, that is a possible duplicate.
   */
  resent?: string[];
  traceparent?: string;
}

/**
 * v2: a message whose recipients are all in one domain (the common case) is stored as this one
 * job, with no parent message job. It carries the message's own data (the body is under
 * `messageBodyKey(id)` as for a flow) and finishes the message itself: when it completes it deletes
 * the body. A flow's parent job costs a whole BullMQ job lifecycle per message (its own writes at
 * ingest, the wake-up when its child completes, a fetch, a run and its removal), about a third of
 * the Redis work of a delivered message.
 */
export interface DeliveryJobDataV2 extends Omit<DeliveryJobDataV1, 'v'> {
  v: 2;
  message: MessageJobDataV2;
}

/** What a DSN reports about a recipient (RFC 3464 §2.3.3 Action). */
export type ReportAction = 'failed' | 'delayed' | 'delivered';

/** A recipient to report on, with everything a DSN and the operator need. */
export interface ReportedRecipient {
  address: string;
  notify?: Recipient['notify'];
  orcpt?: string;
  action: ReportAction;
  /** The recipient's status in the data model at the time of the report. */
  status: 'bounced' | 'expired' | 'deferred' | 'delivered';
  /** RFC 3463 status: 5.1.1, 4.4.7 for an expiry, 2.0.0 for a delivery ... */
  enhancedStatus: string;
  category: string;
  /** The remote server's reply that decided it, as received ("550 5.1.1 No such user"). */
  diagnostic?: string;
  remoteHost?: string;
  remoteAddress?: string;
  at: number;
  /** Delays: when the queue gives up (RFC 3464 Will-Retry-Until). */
  willRetryUntil?: number;
  /** Set when the recipient was not attempted because it is on the suppression list. */
  reason?: 'suppressed';
}

/**
 * Issued by delivery for recipients that failed, are late, or were delivered with NOTIFY=SUCCESS;
 * the bounce service collects them per (message, event) and sends one DSN.
 */
export interface BounceJobDataV1 {
  v: 1;
  event: ReportAction;
  messageId: string;
  sender: string;
  dsn: DsnEnvelopeParams;
  arrivalTime: number;
  headers: MessageSummaryHeaders;
  /** The original header block (latin1), for the DSN's text/rfc822-headers part. */
  originalHeaders: string;
  /** With RET=FULL only: the whole original message (latin1), capped in size. */
  originalMessage?: string;
  /** The message needed SMTPUTF8 (its DSN uses message/global-delivery-status, RFC 6533). */
  smtpUtf8: boolean;
  recipients: ReportedRecipient[];
  traceparent?: string;
}

/** One recipient outcome, as POSTed to the webhooks (RFC-free, our own JSON). */
export interface WebhookEventV1 {
  v: 1;
  /** `delayed_dsn_sent`: the sender was told the message is late. */
  event: 'delivered' | 'deferred' | 'bounced' | 'expired' | 'delayed_dsn_sent';
  messageId: string;
  recipient: string;
  domain: string;
  status: string;
  enhancedStatus?: string;
  category?: string;
  reply?: string;
  attempt?: number;
  at: number;
}

/** Readers take both: v1 jobs queued before the upgrade still hold their body inline. */
export type MessageJobData = MessageJobDataV1 | MessageJobDataV2;
export type DeliveryJobData = DeliveryJobDataV1 | DeliveryJobDataV2;

/** A payload this code knows how to process (a newer `v` is left for a newer worker). */
export const isKnownDeliveryJob = (data: { v?: unknown } | undefined): data is DeliveryJobData =>
  data?.v === 1 || data?.v === 2;

/** The job that is the whole message (no parent message job): see DeliveryJobDataV2. */
export const isSoloDeliveryJob = (data: DeliveryJobData): data is DeliveryJobDataV2 => data.v === 2;
export type BounceJobData = BounceJobDataV1;
export type WebhookEvent = WebhookEventV1;

/** The message job's payload; the body goes under its own key (see MessageJobDataV2). */
export function toMessageJobData(message: Message): MessageJobDataV2 {
  const { body: _body, ...rest } = message;
  return { v: 2, ...rest };
}

/** The message again, from its job's payload and, for v2, the body stored beside it. */
export function fromMessageJobData(data: MessageJobData, storedBody: Buffer | null): Message {
  if (data.v === 1) {
    const { v: _version, body, ...rest } = data;
    return { ...rest, body: Buffer.from(body, 'latin1') };
  }
  if (data.v !== 2) throw new Error(`unsupported message job version ${String((data as { v: unknown }).v)}`);
  if (storedBody === null) throw new Error(`the body of message ${data.id} is missing`);
  const { v: _version, ...rest } = data;
  return { ...rest, body: storedBody };
}

/** One delivery job per destination domain, in first-seen order. */
export function toDeliveryJobs(message: Message): DeliveryJobDataV1[] {
  return [...groupRecipientsByDomain(message.recipients)].map(([domain, recipients]) => ({
    v: 1,
    messageId: message.id,
    domain,
    recipients,
    sender: message.sender,
    dsn: message.dsn,
    arrivalTime: message.arrivalTime,
    expiresAt: message.expiresAt,
    attempts: 0,
    ...(message.traceparent !== undefined && { traceparent: message.traceparent }),
  }));
}

/**
 * How a message is queued: a message for one domain is one solo delivery job (v2) carrying the
 * message; a message for several domains is a flow, a message job with one v1 delivery job per
 * domain as its children.
 */
export function toStoredJobs(
  message: Message,
): { solo: DeliveryJobDataV2 } | { parent: MessageJobDataV2; children: DeliveryJobDataV1[] } {
  const children = toDeliveryJobs(message);
  const parent = toMessageJobData(message);
  if (children.length === 1) return { solo: { ...children[0]!, v: 2, message: parent } };
  return { parent, children };
}

/** A webhook event as a job of the `webhook` queue; failed ones are kept a week for operators. */
export function webhookJob(data: WebhookEvent) {
  return { name: data.event, data, opts: { removeOnComplete: true, removeOnFail: { age: 7 * 86_400 } } };
}
