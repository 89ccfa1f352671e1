import { isAscii } from 'node:buffer';
import type { ComposedDsn } from '@outpost/core';
import { formatRfc5322Date } from '@outpost/core';
import MimeNode from 'nodemailer/lib/mime-node';

export interface DsnHeaders {
  hostname: string;
  /** The envelope recipient of the DSN: the original sender, or the postmaster. */
  to: string;
  date: number;
  /** With angle brackets. */
  messageId: string;
  /** The original Message-ID, for In-Reply-To and References. */
  inReplyTo?: string;
}

/** A msg-id as RFC 5322 §3.6.4 writes it; anything else is left out rather than passed on. */
const MSG_ID = /^<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>$/;

/**
 * The DSN as a MIME message (RFC 6522 multipart/report, RFC 3464 report-type=delivery-status),
 * built with nodemailer's mime-node (MailComposer only makes multipart/mixed).
 */
export async function assembleDsn(
  composed: ComposedDsn,
  headers: DsnHeaders,
  returned: Buffer,
  options: { baseBoundary?: string } = {},
): Promise<Buffer> {
  const root = new MimeNode('multipart/report; report-type=delivery-status', {
    hostname: headers.hostname,
    ...(options.baseBoundary !== undefined && { baseBoundary: options.baseBoundary }),
  });
  // Plain ASCII strings (mime-node encodes only what needs it); CR/LF never reach a header.
  const header = (name: string, value: string) => root.setHeader(name, value.replace(/[\r\n]+/g, ' '));
  header('From', `Mail Delivery System <MAILER-DAEMON@${headers.hostname}>`);
  header('To', headers.to);
  header('Subject', composed.subject);
  header('Date', formatRfc5322Date(headers.date));
  header('Message-ID', headers.messageId);
  if (headers.inReplyTo !== undefined && MSG_ID.test(headers.inReplyTo)) {
    header('In-Reply-To', headers.inReplyTo);
    header('References', headers.inReplyTo);
  }
  // RFC 3834 §5: generated in response to a message; mail programs must not auto-reply to it.
  header('Auto-Submitted', 'auto-replied');

  root.createChild('text/plain; charset=utf-8').setContent(composed.humanText);
  passThroughPart(root, composed.statusContentType, Buffer.from(composed.deliveryStatus, 'utf8'));
  passThroughPart(root, composed.returnedContentType, returned);
  return root.build();
}

/**
 * The report and the returned headers or message go in as they are, declared 7bit, or 8bit when
 * they hold 8-bit octets: message/* parts must not be encoded (RFC 2046 §5.2.1, RFC 6533 §6), and
 * the original's header block reads best unencoded (mime-node would pick quoted-printable for a
 * folded Received: line).
 */
function passThroughPart(root: MimeNode, contentType: string, content: Buffer): void {
  const eightBit = !isAscii(content);
  const head = `Content-Type: ${contentType}\r\nContent-Transfer-Encoding: ${eightBit ? '8bit' : '7bit'}\r\n\r\n`;
  root.createChild(contentType).setRaw(Buffer.concat([Buffer.from(head), content]));
}
