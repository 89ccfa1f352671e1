import { INGEST_REPLIES, type IngestRefusal as RefusalReason, type SmtpReply } from '@outpost/core';

/** A refusal with the reply that explains it; the listeners turn it into SMTP or HTTP answers. */
export class IngestRefusal extends Error {
  readonly reason: RefusalReason;
  readonly reply: SmtpReply;
  constructor(reason: RefusalReason, detail?: string) {
    const reply = INGEST_REPLIES[reason];
    super(`${reply.enhanced} ${detail ?? reply.text}`);
    this.name = 'IngestRefusal';
    this.reason = reason;
    this.reply = reply;
  }

  /** The shape smtp-server expects from a callback error: the text after the code. */
  get responseCode(): number {
    return this.reply.code;
  }
}
