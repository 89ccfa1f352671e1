/** An SMTP reply as a value: code, RFC 3463 enhanced status when present, and the text after them. */
export interface SmtpReply {
  code: number;
  enhanced?: string;
  text: string;
}

const REPLY_LINE = /^([2-5]\d\d)(?:[ -](?:([245]\.\d{1,3}\.\d{1,3})\s+)?(.*))?$/s;

/** Parses "550 5.1.1 No such user" (or a multi-line reply joined by CRLF) into a value. */
export function parseSmtpReply(line: string): SmtpReply | undefined {
  const lines = line.split(/\r?\n/).filter((part) => part !== '');
  const first = lines[0]?.match(REPLY_LINE);
  if (!first) return undefined;
  const code = Number(first[1]);
  const enhanced = first[2];
  const texts = lines.map((part) => part.slice(4).replace(/^[245]\.\d{1,3}\.\d{1,3}\s+/, ''));
  return { code, ...(enhanced !== undefined && { enhanced }), text: texts.join(' ').trim() };
}

/** RFC 5321 §4.2.1: 4yz is a transient negative completion; the same command may succeed later. */
export function isTransient(reply: SmtpReply): boolean {
  return reply.code >= 400 && reply.code < 500;
}

/** RFC 5321 §4.2.1: 5yz is permanent; the client should not repeat the same request. */
export function isPermanent(reply: SmtpReply): boolean {
  return reply.code >= 500;
}

export function formatSmtpReply(reply: SmtpReply): string {
  return [reply.code, reply.enhanced, reply.text].filter((part) => part !== undefined).join(' ');
}

/**
 * Every reply ingest gives for its own reasons, in one place (RFC 3463 codes). The SMTP listener
 * and the HTTP API map their refusals from these.
 */
export const INGEST_REPLIES = {
  authRequired: { code: 530, enhanced: '5.7.0', text: 'Authentication required' },
  authFailed: { code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' },
  senderNotOwned: {
    code: 553,
    enhanced: '5.7.1',
    text: 'Sender address not owned by the authenticated user',
  },
  relayDenied: { code: 554, enhanced: '5.7.1', text: 'Relay access denied' },
  badAddress: { code: 553, enhanced: '5.1.3', text: 'Invalid address syntax' },
  tooManyRecipients: { code: 452, enhanced: '4.5.3', text: 'Too many recipients' },
  messageTooBig: { code: 552, enhanced: '5.3.4', text: 'Message size exceeds the fixed maximum' },
  storageUnavailable: { code: 451, enhanced: '4.3.0', text: 'Temporary storage failure, try again later' },
  storageFull: { code: 452, enhanced: '4.3.1', text: 'Insufficient system storage, try again later' },
  tooManyHops: { code: 554, enhanced: '5.4.6', text: 'Too many Received headers: mail loop' },
  // Address syntax and limits (RFC 5321 §4.1.2, §4.5.3.1; RFC 6531 §3.5).
  routingAddress: {
    code: 553,
    enhanced: '5.1.3',
    text: 'Addresses with routing syntax (%, !, source routes, several @) are not accepted',
  },
  localPartTooLong: { code: 501, enhanced: '5.1.3', text: 'Path too long: local part over 64 octets' },
  domainTooLong: { code: 501, enhanced: '5.1.3', text: 'Path too long: domain over 255 octets' },
  pathTooLong: { code: 501, enhanced: '5.1.3', text: 'Path too long' },
  badEnvid: {
    code: 501,
    enhanced: '5.5.4',
    text: 'Invalid ENVID: at most 100 printable US-ASCII characters, as xtext (RFC 3461 section 4.4)',
  },
  utf8NeedsSmtputf8: {
    code: 553,
    enhanced: '5.6.7',
    text: 'Non-ASCII address requires the SMTPUTF8 parameter on MAIL',
  },
  invalidUtf8: { code: 501, enhanced: '5.5.2', text: 'Invalid UTF-8 in command' },
  commandTooLong: { code: 500, enhanced: '5.5.2', text: 'Line too long' },
  bareLineFeedCommand: {
    code: 521,
    enhanced: '5.5.2',
    text: 'Bare LF received: command lines must end with CRLF, closing connection',
  },
  // Message content (RFC 5321 §2.3.8, §4.5.3.1.6): refused whole, so nothing of it is queued.
  bareLineEnding: {
    code: 554,
    enhanced: '5.6.0',
    text: 'Message refused: bare CR or LF (lines must end with CRLF)',
  },
  nulInMessage: { code: 554, enhanced: '5.6.0', text: 'Message refused: NUL character' },
  lineTooLong: { code: 554, enhanced: '5.6.0', text: 'Message refused: line longer than 1000 octets' },
  // Abuse limits.
  authThrottled: {
    code: 421,
    enhanced: '4.7.0',
    text: 'Too many failed authentications, try again later; closing connection',
  },
  rateLimited: { code: 450, enhanced: '4.7.1', text: 'Message rate limit reached, try again later' },
  sessionExpired: { code: 421, enhanced: '4.4.2', text: 'Session time limit reached, closing connection' },
} as const satisfies Record<string, SmtpReply>;

export type IngestRefusal = keyof typeof INGEST_REPLIES;
