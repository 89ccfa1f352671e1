import type { RecipientStatus } from '@outpost/core';
import { newMessageId } from '@outpost/core';
import type {
  AttemptRecord,
  AttemptWriteExtras,
  DeliveryLog,
  MtaStsEntry,
  RecipientState,
} from '@outpost/store';
import { capTranscript } from '@outpost/store';
import type { RecipientOutcome, SessionRecord } from './attempt-delivery.ts';

/** The trace id in a W3C traceparent ("00-<trace id>-<span id>-<flags>"). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const id = traceparent?.split('-')[1];
  return id && /^[0-9a-f]{32}$/.test(id) ? id : undefined;
}

/**
 * Writes the attempt to the delivery log (the operator's permanent "level 3 log", FAQ) and each
 * recipient's current status. Transcripts are kept for sessions that did not deliver everything.
 */
export async function recordAttempt(
  log: DeliveryLog,
  options: {
    messageId: string;
    domain: string;
    attempt: number;
    started: number;
    finished: number;
    traceparent?: string;
    outcomes: readonly RecipientOutcome[];
    sessions: readonly SessionRecord[];
    /** The receiver's MTA-STS policy, when one applied. */
    mtaSts?: MtaStsEntry;
    statusOf: (address: string) => RecipientStatus;
    maxTranscriptBytes: number;
    /** Written with the record: the message's metadata, and the keys that end with this attempt. */
    extras?: AttemptWriteExtras;
  },
): Promise<void> {
  const allDelivered = options.outcomes.every((outcome) => outcome.classification.verdict === 'delivered');
  const last = options.sessions.at(-1);
  const traceId = traceIdOf(options.traceparent);
  const record: AttemptRecord = {
    id: newMessageId(options.started),
    messageId: options.messageId,
    domain: options.domain,
    attempt: options.attempt,
    time: options.started,
    durationMs: options.finished - options.started,
    ...(traceId && { traceId }),
    ...(last && { mxHost: last.host, mxAddress: last.address }),
    recipients: options.outcomes.map((outcome) => {
      const reply = outcome.event.kind === 'reply' ? outcome.event.reply : undefined;
      return {
        address: outcome.recipient.address,
        verdict: outcome.classification.verdict,
        status: options.statusOf(outcome.recipient.address),
        enhancedStatus: outcome.classification.status,
        category: outcome.classification.category,
        ...(reply && { replyCode: reply.code, replyText: reply.text }),
        ...(!reply &&
          'detail' in outcome.event &&
          outcome.event.detail && { replyText: outcome.event.detail }),
        ...(outcome.remoteHost && { remoteHost: outcome.remoteHost }),
        ...(outcome.remoteAddress && { remoteAddress: outcome.remoteAddress }),
        ...(outcome.classification.possibleDuplicate && { possibleDuplicate: true }),
      };
    }),
    sessions: options.sessions.map((session) => ({
      host: session.host,
      address: session.address,
      port: session.port,
      tls: session.tls,
      tlsOutcome: session.tlsOutcome,
      greeted: session.greeted,
      durationMs: session.durationMs,
      ...(!allDelivered && { transcript: capTranscript(session.transcript, options.maxTranscriptBytes) }),
    })),
    ...(options.mtaSts && { mtaSts: options.mtaSts }),
  };
  const states: RecipientState[] = record.recipients.map((recipient) => ({
    address: recipient.address,
    status: recipient.status,
    updatedAt: options.finished,
    enhancedStatus: recipient.enhancedStatus,
    category: recipient.category,
    ...(recipient.replyText !== undefined && { replyText: recipient.replyText }),
    attempts: options.attempt,
  }));
  // The record and the states it leads to (and the extras), in one script.
  await log.write(record, states, options.extras);
}
