import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { detectMimeType } from 'nodemailer/lib/mime-funcs';
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
  let clientDate: Date | undefined;
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
      // Written by MailComposer in RFC 5322 §3.3 form, whatever form Date.parse accepted.
      clientDate = new Date(value);
    }
  }
  // As {key, value} pairs: given the object itself, MailComposer would read one whose own names are
  // "key" and "value" as a single header named by its "key" (any name, reserved ones included).
  const extraHeaders = Object.entries(headers)
    .filter(([name]) => !['message-id', 'date'].includes(name.toLowerCase()))
    .map(([key, value]) => ({ key, value }));
  const composer = new MailComposer({
    from: input.from,
    ...(input.to.length > 0 && { to: input.to }),
    ...(input.cc.length > 0 && { cc: input.cc }),
    ...(input.replyTo && { replyTo: input.replyTo }),
    ...(request.subject !== undefined && { subject: request.subject }),
    ...(request.text !== undefined && { text: lineBreaks(request.text) }),
    ...(request.html !== undefined && { html: lineBreaks(request.html) }),
    headers: extraHeaders,
    attachments: (request.attachments ?? []).map((attachment, index) => ({
      filename: attachment.filename,
      content: attachmentContent(attachment, index),
      ...(attachment.contentType !== undefined && { contentType: attachment.contentType }),
    })),
    // MailComposer always writes a Message-ID; ours names our host, like the SMTP path's.
    messageId: clientMessageId ?? `<${randomUUID()}@${input.hostname}>`,
    date: clientDate ?? new Date(input.now),
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

/**
 * An attachment's bytes. A message/* part is written as it is (7bit or 8bit, RFC 2046 §5.2.1: no
 * base64), so it must be mail-safe itself: a NUL or a bare CR is refused, as in a raw message, and
 * LF line endings become CRLF (an .eml file saved on Unix).
 */
function attachmentContent(
  attachment: { filename: string; contentType?: string | undefined; content: string },
  index: number,
) {
  const content = Buffer.from(attachment.content, 'base64');
  // The type MailComposer will use: the given one, or the one it detects from the file name (.eml).
  const type = attachment.contentType ?? detectMimeType(attachment.filename);
  if (!/^message\//i.test(type)) return content;
  const field = `attachments[${index}].content`;
  const text = content.toString('latin1');
  if (text.includes('\0'))
    throw new ApiError(400, 'nul_character', `${field} (a message/* part) contains a NUL character`, {
      field,
    });
  if (/\r(?!\n)/.test(text))
    throw new ApiError(400, 'bare_cr', `${field} (a message/* part) contains a CR not followed by LF`, {
      field,
    });
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** CRLF, CR or LF in body text is one line break; MailComposer's `newline: 'win'` makes each a CRLF. */
function lineBreaks(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}
