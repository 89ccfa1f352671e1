import { isIP } from 'node:net';
import { formatRfc5322Date } from '../rfc5322-date.ts';
import type { DsnRecipient, DsnReport } from './dsn-report.ts';
import { foldField } from './fold-field.ts';
import { encodeXtext, isPrintableAscii } from './xtext.ts';

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * RFC 6533 §3: a report about a message that needed SMTPUTF8, or naming a UTF-8 address, is
 * message/global-delivery-status, whose fields may carry UTF-8; otherwise message/delivery-status.
 */
export function isGlobalReport(report: DsnReport): boolean {
  return report.smtpUtf8 || report.recipients.some((recipient) => NON_ASCII.test(recipient.address));
}

/**
 * The body of the message/delivery-status part (RFC 3464 §2.1): the per-message fields, then one
 * block of per-recipient fields per recipient, blocks separated by an empty line, CRLF line ends.
 */
export function buildDeliveryStatus(report: DsnReport): string {
  const global = isGlobalReport(report);
  const perMessage: string[] = [];
  // §2.2.1: only when the sender gave an ENVID; "the DSN MUST preserve the original case".
  // Not folded: folding would change a value that holds runs of spaces (ENVID is at most 100 chars).
  if (report.envid !== undefined)
    perMessage.push(`Original-Envelope-Id: ${parameterText(report.envid, global)}`);
  perMessage.push(foldField('Reporting-MTA', `dns; ${report.reportingMta}`));
  perMessage.push(foldField('Arrival-Date', formatRfc5322Date(report.arrivalTime)));
  // §2.2.4 extension field: our id, so an operator can find the message from the report.
  perMessage.push(foldField('X-Outpost-Message-Id', report.messageId));
  const blocks = [perMessage, ...report.recipients.map((recipient) => recipientFields(recipient, global))];
  return `${blocks.map((block) => block.join('\r\n')).join('\r\n\r\n')}\r\n`;
}

function recipientFields(recipient: DsnRecipient, global: boolean): string[] {
  const fields: string[] = [];
  // §2.3.1: Original-Recipient only when the sender gave ORCPT, as "address-type; address".
  if (recipient.orcpt !== undefined) {
    const separator = recipient.orcpt.indexOf(';');
    const type = separator > 0 ? recipient.orcpt.slice(0, separator).trim().toLowerCase() : 'unknown';
    const address = recipient.orcpt.slice(separator + 1).trim();
    fields.push(foldField('Original-Recipient', `${type}; ${parameterText(address, global)}`));
  }
  // §2.3.2; RFC 6533 §3: a UTF-8 address is of type utf-8.
  const addressType = NON_ASCII.test(recipient.address) ? 'utf-8' : 'rfc822';
  fields.push(foldField('Final-Recipient', `${addressType}; ${text(recipient.address, global)}`));
  fields.push(`Action: ${recipient.action}`);
  fields.push(`Status: ${statusCode(recipient)}`);
  if (recipient.remoteHost) {
    const host = isIP(recipient.remoteHost) ? `[${recipient.remoteHost}]` : recipient.remoteHost;
    fields.push(foldField('Remote-MTA', `dns; ${text(host, global)}`));
  }
  if (recipient.diagnostic)
    fields.push(foldField('Diagnostic-Code', diagnosticCode(recipient.diagnostic, global)));
  // §2.3.7: the last attempt; a suppressed recipient was not attempted at all.
  if (recipient.reason !== 'suppressed') {
    fields.push(foldField('Last-Attempt-Date', formatRfc5322Date(recipient.at)));
  }
  // §2.3.8: for delays, when we give up.
  if (recipient.action === 'delayed' && recipient.willRetryUntil !== undefined) {
    fields.push(foldField('Will-Retry-Until', formatRfc5322Date(recipient.willRetryUntil)));
  }
  return fields;
}

const DEFAULT_STATUS = { failed: '5.0.0', delayed: '4.0.0', delivered: '2.0.0' } as const;

/** §2.3.4: class.subject.detail; the real code when it is one, else the class-level code. */
function statusCode(recipient: DsnRecipient): string {
  return /^[245]\.\d{1,3}\.\d{1,3}$/.test(recipient.enhancedStatus)
    ? recipient.enhancedStatus
    : DEFAULT_STATUS[recipient.action];
}

/**
 * §2.3.6: "smtp" when the text is a reply an SMTP server sent (code first); our own reasons (DNS,
 * network, suppression, expiry without a reply) are of a private type, as Postfix uses "X-Postfix".
 */
function diagnosticCode(diagnostic: string, global: boolean): string {
  const type = /^[2-5]\d\d(?:[ -]|$)/.test(diagnostic) ? 'smtp' : 'X-Outpost';
  return `${type}; ${text(diagnostic, global)}`;
}

/** *text: no control characters; US-ASCII unless the report is global. */
function text(value: string, global: boolean): string {
  const oneLine = value.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return global ? oneLine : oneLine.replace(/[^\x00-\x7f]/g, '?');
}

/**
 * ENVID and ORCPT are printable US-ASCII once decoded (RFC 3461 §4.2, §4.4) and appear as such.
 * A value that is not (a client that broke the rule) is given xtext-encoded (RFC 3461 §4), which
 * keeps the field valid and the value recoverable; a global report keeps UTF-8 as it is.
 */
function parameterText(value: string, global: boolean): string {
  if (isPrintableAscii(value)) return value;
  if (global && !/[\x00-\x1f\x7f]/.test(value)) return value;
  return encodeXtext(value);
}
