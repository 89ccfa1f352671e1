import {
  commandLineLimit,
  INGEST_REPLIES,
  type IngestRefusal,
  isValidEnvid,
  type PathProblem,
  parsePathCommand,
  type SmtpReply,
} from '@outpost/core';
import type { SMTPServerSession } from 'smtp-server';
import type { CommandScreen } from './strict-smtp-server.ts';

export interface CommandScreenLimits {
  maxRecipients: number;
  maxMessageSize: number;
}

const PATH_REFUSALS: Record<PathProblem, IngestRefusal> = {
  syntax: 'badAddress',
  routing: 'routingAddress',
  localPartTooLong: 'localPartTooLong',
  domainTooLong: 'domainTooLong',
  pathTooLong: 'pathTooLong',
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Our reading of each command line, before smtp-server's: line length (RFC 5321 §4.5.3.1.4), valid
 * UTF-8, and for MAIL and RCPT the one strict path parser of @outpost/core with its length limits,
 * routing refusals and the SMTPUTF8 rule (RFC 6531 §3.4: a non-ASCII address only in a transaction
 * whose MAIL carried SMTPUTF8). Out-of-sequence MAIL/RCPT are left to smtp-server's 503.
 */
export function createCommandScreen(limits: CommandScreenLimits): CommandScreen {
  return (line, session, authContinuation) => {
    const verb = authContinuation ? '' : commandVerb(line);
    if (line.length + 2 > commandLineLimit(verb, authContinuation)) return INGEST_REPLIES.commandTooLong;
    let text: string;
    try {
      text = strictUtf8.decode(line);
    } catch {
      return INGEST_REPLIES.invalidUtf8;
    }
    if (verb === 'MAIL' && session.hostNameAppearsAs) return screenMail(text, limits);
    if (verb === 'RCPT' && session.envelope.mailFrom) return screenRcpt(text, session, limits);
    return undefined;
  };
}

function screenMail(text: string, limits: CommandScreenLimits): SmtpReply | undefined {
  const parsed = parsePathCommand(text, 'MAIL FROM');
  if (!parsed.ok) return INGEST_REPLIES[PATH_REFUSALS[parsed.problem]];
  if (parsed.utf8 && parsed.params.SMTPUTF8 === undefined) return INGEST_REPLIES.utf8NeedsSmtputf8;
  const envid = parsed.params.ENVID;
  if (envid !== undefined && (envid === true || !isValidEnvid(envid))) return INGEST_REPLIES.badEnvid;
  // RFC 1870 §6: a declared size over our fixed maximum is refused at MAIL, before any data moves.
  const size = parsed.params.SIZE;
  if (typeof size === 'string' && /^\d{1,20}$/.test(size) && Number(size) > limits.maxMessageSize) {
    return INGEST_REPLIES.messageTooBig;
  }
  return undefined;
}

function screenRcpt(text: string, session: SMTPServerSession, limits: CommandScreenLimits) {
  // Counted before parsing, so a flood of recipients beyond the limit costs next to nothing.
  if (session.envelope.rcptTo.length >= limits.maxRecipients) return INGEST_REPLIES.tooManyRecipients;
  const parsed = parsePathCommand(text, 'RCPT TO');
  if (!parsed.ok) return INGEST_REPLIES[PATH_REFUSALS[parsed.problem]];
  if (parsed.utf8 && !session.envelope.smtpUtf8) return INGEST_REPLIES.utf8NeedsSmtputf8;
  return undefined;
}

/** The command name, upper-cased: the bytes before the first space (at most a few). */
function commandVerb(line: Buffer): string {
  const space = line.indexOf(0x20);
  return line
    .subarray(0, space === -1 ? Math.min(line.length, 16) : Math.min(space, 16))
    .toString('latin1')
    .toUpperCase();
}
