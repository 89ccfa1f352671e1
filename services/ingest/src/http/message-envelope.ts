import type { DsnEnvelopeParams, DsnNotify, Recipient } from '@outpost/core';
import { type Mailbox, parseEnvelopeAddress, parseMailbox } from './addresses.ts';
import { ApiError } from './api-error.ts';
import type { SendMessageRequest } from './schemas.ts';

/** Who the message is from and for, as the SMTP envelope will carry it. */
export interface MessageEnvelope {
  /** Envelope sender; '' is the null sender. */
  sender: string;
  recipients: Recipient[];
  dsn: DsnEnvelopeParams;
  /** The header-side mailboxes of a composed message (Bcc is envelope only). */
  mailboxes?: { from: Mailbox; to: Mailbox[]; cc: Mailbox[]; replyTo: Mailbox | undefined };
}

export interface EnvelopeLimits {
  maxRecipients: number;
}

/**
 * Reads and checks the envelope of either request form. Recipients are to + cc + bcc (composed)
 * or `to` (raw), de-duplicated; DSN NOTIFY applies to each.
 */
export function readEnvelope(request: SendMessageRequest, limits: EnvelopeLimits): MessageEnvelope {
  const notify = checkNotify(request.dsn?.notify);
  const dsn: DsnEnvelopeParams = {
    ...(request.dsn?.ret !== undefined && { ret: request.dsn.ret }),
    ...(request.dsn?.envid !== undefined && { envid: request.dsn.envid }),
  };
  const list = (texts: string[] | undefined, field: string) =>
    (texts ?? []).map((text, index) => parseMailbox(text, `${field}[${index}]`));
  let sender: string;
  let recipientAddresses: string[];
  let mailboxes: MessageEnvelope['mailboxes'];
  if ('raw' in request) {
    sender = request.from === '' ? '' : parseEnvelopeAddress(stripBrackets(request.from), 'from');
    recipientAddresses = request.to.map((text, index) =>
      parseEnvelopeAddress(stripBrackets(text), `to[${index}]`),
    );
  } else {
    const from = parseMailbox(request.from, 'from');
    const to = list(request.to, 'to');
    const cc = list(request.cc, 'cc');
    const bcc = list(request.bcc, 'bcc');
    const replyTo = request.replyTo === undefined ? undefined : parseMailbox(request.replyTo, 'replyTo');
    sender = from.address;
    recipientAddresses = [...to, ...cc, ...bcc].map((mailbox) => mailbox.address);
    mailboxes = { from, to, cc, replyTo };
  }
  const unique = [...new Set(recipientAddresses)];
  if (unique.length === 0)
    throw new ApiError(400, 'no_recipients', 'The message has no recipients', { field: 'to' });
  if (unique.length > limits.maxRecipients) {
    throw new ApiError(
      400,
      'too_many_recipients',
      `${unique.length} recipients; at most ${limits.maxRecipients} per message`,
      { field: 'to', reason: 'tooManyRecipients' },
    );
  }
  const recipients = unique.map((address) => ({ address, ...(notify && { notify }) }));
  return { sender, recipients, dsn, ...(mailboxes && { mailboxes }) };
}

/** An envelope address may be written "<a@b>", as in SMTP. */
function stripBrackets(text: string): string {
  return text.startsWith('<') && text.endsWith('>') ? text.slice(1, -1) : text;
}

function checkNotify(notify: DsnNotify[] | undefined): DsnNotify[] | undefined {
  if (!notify) return undefined;
  if (notify.includes('NEVER') && notify.length > 1) {
    throw new ApiError(400, 'invalid_request', 'dsn.notify: NEVER cannot be combined with other values', {
      field: 'dsn.notify',
    });
  }
  return [...new Set(notify)];
}

/** How long delivery may try: until `expiresAt`, which must lie within the configured queue lifetime. */
export function lifetimeFor(expiresAt: string | undefined, now: number, queueLifetimeMs: number): number {
  if (expiresAt === undefined) return queueLifetimeMs;
  const lifetime = Date.parse(expiresAt) - now;
  if (lifetime <= 0)
    throw new ApiError(400, 'invalid_request', 'expiresAt is in the past', { field: 'expiresAt' });
  if (lifetime > queueLifetimeMs) {
    throw new ApiError(
      400,
      'invalid_request',
      `expiresAt is further away than the queue lifetime (${Math.round(queueLifetimeMs / 3_600_000)} h)`,
      { field: 'expiresAt' },
    );
  }
  return lifetime;
}
