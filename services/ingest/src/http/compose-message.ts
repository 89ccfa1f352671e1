import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Mailbox } from './addresses.ts';
import { ApiError } from './api-error.ts';
import { assertLineLengths } from './raw-message.ts';
import type { ComposedMessageRequest } from './schemas.ts';

/**
 * Header fields a client may not set through `headers`: those the API sets from its own fields,
 * those that define the MIME structure, and trace fields that only servers add.
 */
const RESERVED_HEADERS = new Set([
  'from',
  'sender',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'received',
  'return-path',
  'dkim-signature',
]);

const MESSAGE_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;

export interface ComposeInput {
  request: ComposedMessageRequest;
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  replyTo: Mailbox | undefined;
  /** Our host name, for a generated Message-ID. */
  hostname: string;
  now: number;
}

/**
 * Builds the MIME message with nodemailer's MailComposer. File and URL access are disabled (the
 * schema already refuses `path`/`href`; this is the second lock). Bcc is never written.
 * Line endings are CRLF throughout, so the bytes stored are the bytes sent.
 */
export async function composeMessage(input: ComposeInput): Promise<Buffer> {
  const { request } = input;
  const headers = request.headers ?? {};
  let clientMessageId: string | undefined;
  let clientDate = false;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    const field = `headers.${name}`;
    if (RESERVED_HEADERS.has(lower)) {
      throw new ApiError(400, 'reserved_header', `${field} is set by Outpost (use the API field instead)`, {
        field,
      });
    }
    if (lower === 'message-id') {
      if (!MESSAGE_ID.test(value))
        throw new ApiError(400, 'invalid_request', `${field} must look like <id@domain>`, { field });
      clientMessageId = value;
    }
    if (lower === 'date') {
      if (Number.isNaN(Date.parse(value)))
        throw new ApiError(400, 'invalid_request', `${field} is not a date`, { field });
      clientDate = true;
    }
  }
  const composer = new MailComposer({
    from: input.from,
    ...(input.to.length > 0 && { to: input.to }),
    ...(input.cc.length > 0 && { cc: input.cc }),
    ...(input.replyTo && { replyTo: input.replyTo }),
    ...(request.subject !== undefined && { subject: request.subject }),
    ...(request.text !== undefined && { text: lineBreaks(request.text) }),
    ...(request.html !== undefined && { html: lineBreaks(request.html) }),
    headers,
    attachments: (request.attachments ?? []).map((attachment) => ({
      filename: attachment.filename,
      content: Buffer.from(attachment.content, 'base64'),
      ...(attachment.contentType !== undefined && { contentType: attachment.contentType }),
    })),
    // MailComposer always writes a Message-ID; ours names our host, like the SMTP path's.
    messageId: clientMessageId ?? `<${randomUUID()}@${input.hostname}>`,
    ...(!clientDate && { date: new Date(input.now) }),
    newline: 'win',
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const message = await composer.compile().build();
  if (/\r(?!\n)|(?<!\r)\n/.test(message.toString('latin1'))) {
    throw new Error('MailComposer produced a bare CR or LF');
  }
  // A header value without spaces cannot be folded; such a line would be refused by relays.
  assertLineLengths(message, 'headers');
  return message;
}

/** CRLF, CR or LF in body text is one line break; MailComposer's `newline: 'win'` makes each a CRLF. */
function lineBreaks(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}
