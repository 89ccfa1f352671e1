import type { ClientIdentity, Recipient } from '@outpost/core';
import {
  type DsnEnvelopeParams,
  newMessageId,
  parseHeaderFields,
  prepareMessage,
  tooManyHops,
} from '@outpost/core';
import type { MemoryGuard, MessageWriter } from '@outpost/queue';
import { queuedFootprint, StorageError } from '@outpost/queue';
import { ATTR, type Logger, SpanStatusCode, type Tracer, traceparentOf } from '@outpost/telemetry';
import { type DkimSigner, fromAddresses } from './dkim/dkim-signer.ts';
import { IngestRefusal } from './ingest-refusal.ts';

export interface AcceptInput {
  sender: string;
  recipients: Recipient[];
  dsn: DsnEnvelopeParams;
  raw: Buffer;
  client: ClientIdentity;
  /**
   * Whether the client may send as an address: its user's or API key's senders, any for a trusted
   * network. DKIM signs only a From: whose every address passes (absent: none does, as for mail
   * an unauthenticated client hands in for a relay domain), so that a client cannot borrow the
   * signature of a domain it does not own.
   */
  mayUseAddress?: (address: string) => boolean;
}

export interface AcceptDeps {
  writer: MessageWriter;
  memoryGuard: Pick<MemoryGuard, 'state' | 'tryReserve' | 'release'>;
  hostname: string;
  queueLifetimeMs: number;
  logger: Logger;
  /** Adds DKIM signatures (RFC 6376) after our own header fields, before the message is stored. */
  dkimSign?: DkimSigner;
  /** Starts the message's trace (`ingest.accept`); delivery and bounce spans join it. */
  tracer?: Tracer;
  now?: () => number;
}

export type AcceptMessage = (input: AcceptInput) => Promise<{ id: string }>;

/**
 * The one path by which mail enters the queue, for SMTP and HTTP alike. It resolves only once the
 * message is durable (RFC 5321 §6.1: after the 250 the responsibility is ours); any refusal is an
 * IngestRefusal and nothing of the message is stored.
 */
export function createMessageAcceptor(deps: AcceptDeps): AcceptMessage {
  const now = deps.now ?? Date.now;
  return async (input) => {
    const started = now();
    const id = newMessageId(started);
    const logFields = {
      id,
      sender: input.sender,
      recipients: input.recipients.length,
      size: input.raw.length,
      client: input.client.address,
      user: input.client.user,
      protocol: input.client.protocol,
    };
    const span = deps.tracer?.startSpan('ingest.accept', {
      attributes: {
        [ATTR.messageId]: id,
        [ATTR.protocol]: input.client.protocol,
        [ATTR.recipientCount]: input.recipients.length,
        [ATTR.size]: input.raw.length,
        [ATTR.peerAddress]: input.client.address,
      },
    });
    const traceparent = span ? traceparentOf(span) : undefined;
    try {
      if (deps.memoryGuard.state.full) throw new IngestRefusal('storageFull');
      const fields = parseHeaderFields(input.raw);
      if (tooManyHops(fields)) throw new IngestRefusal('tooManyHops');
      let message = prepareMessage({
        id,
        sender: input.sender,
        recipients: input.recipients,
        dsn: input.dsn,
        raw: input.raw,
        fields,
        client: input.client,
        hostname: deps.hostname,
        now: started,
        lifetimeMs: deps.queueLifetimeMs,
        ...(traceparent !== undefined && { traceparent }),
      });
      if (deps.dkimSign) {
        // No From: address at all is the signer's to explain ("no From: address to sign for").
        const from = fromAddresses(message.headers.from);
        if (from.every((address) => input.mayUseAddress?.(address) === true)) {
          const signed = await deps.dkimSign(message.body, message.headers.from);
          message = { ...message, body: signed.message, size: signed.message.length, dkim: signed.outcome };
        } else {
          const note = `not signed: the client may not send as ${from.join(', ')}`;
          message = { ...message, dkim: { signatures: [], note } };
        }
      }
      // Room is reserved before the write: a burst of messages between two INFO polls must not
      // carry Redis past the high-water mark (beyond it, delivery could not drain the queue).
      const footprint = queuedFootprint(message.size);
      if (!deps.memoryGuard.tryReserve(footprint)) throw new IngestRefusal('storageFull');
      try {
        await deps.writer.write(message);
      } catch (error) {
        deps.memoryGuard.release(footprint);
        if (error instanceof StorageError) {
          throw new IngestRefusal(error.kind === 'full' ? 'storageFull' : 'storageUnavailable');
        }
        throw error;
      }
      deps.logger.info({ ...logFields, outcome: 'accepted', ms: now() - started }, 'message accepted');
      span?.setAttribute(ATTR.status, 'queued');
      span?.end();
      return { id };
    } catch (error) {
      const reason = error instanceof IngestRefusal ? error.reason : 'storageUnavailable';
      deps.logger.warn({ ...logFields, outcome: 'refused', reason, err: error }, 'message refused');
      span?.setAttribute(ATTR.errorType, reason);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: reason });
      span?.end();
      throw error instanceof IngestRefusal ? error : new IngestRefusal('storageUnavailable');
    }
  };
}
