import type { DeliveryEvent, NetworkFailure, SmtpStage } from '@outpost/core';
import { parseSmtpReply } from '@outpost/core';

/** What nodemailer's SMTPConnection attaches to its errors (lib/smtp-connection `_formatError`). */
export interface NodemailerSmtpError extends Error {
  code?: string;
  originalCode?: string;
  command?: string;
  response?: string;
  responseCode?: number;
  timeoutType?: string;
  recipient?: string;
  rejectedErrors?: NodemailerSmtpError[];
}

/** nodemailer's command names -> our stages. */
export function stageOfCommand(command: string | undefined): SmtpStage {
  const name = (command ?? '').toUpperCase();
  if (name.startsWith('MAIL')) return 'mail';
  if (name.startsWith('RCPT')) return 'rcpt';
  if (name.startsWith('DATA')) return 'data';
  if (name.startsWith('EHLO') || name.startsWith('HELO') || name.startsWith('LHLO')) return 'ehlo';
  if (name.startsWith('STARTTLS')) return 'starttls';
  return 'connect';
}

/**
 * Turns a nodemailer error into the event classification understands. `greeted` and `bodySent`
 * come from the transcript: they tell "never greeted" from "lost mid-session", and "lost after the
 * final dot" (RFC 1047: the server may have the message) from an earlier loss.
 */
export function eventOfError(
  error: NodemailerSmtpError,
  state: { greeted: boolean; bodySent: boolean; stage: SmtpStage; tlsRequired?: boolean },
): DeliveryEvent {
  // nodemailer refuses locally, before MAIL, a message larger than the server's SIZE (RFC 1870).
  if (error.code === 'EMESSAGE' && /larger than allowed/i.test(error.message)) {
    return {
      kind: 'reply',
      stage: 'mail',
      reply: { code: 552, enhanced: '5.3.4', text: `(local) ${error.message}` },
    };
  }
  const reply = error.response ? parseSmtpReply(error.response) : undefined;
  // TLS required (MTA-STS enforce): a refused or missing STARTTLS is a TLS failure of this host, not
  // a refusal of the mail (nodemailer sends STARTTLS even when it was not offered). A 421 is still
  // the server closing the channel.
  if (
    state.tlsRequired &&
    !state.bodySent &&
    reply?.code !== 421 &&
    (error.command === 'STARTTLS' || error.code === 'ETLS' || state.stage === 'starttls')
  ) {
    return { kind: 'network', stage: 'starttls', failure: 'tls-failed', detail: error.message };
  }
  const stage =
    error.code === 'EMESSAGE' && error.command === 'DATA'
      ? 'end-of-data' // nodemailer names both the DATA command and the final reply 'DATA'
      : error.command && error.command !== 'CONN' && error.command !== 'API'
        ? stageOfCommand(error.command)
        : state.stage;
  if (reply && reply.code >= 400) return { kind: 'reply', stage: state.greeted ? stage : 'greeting', reply };
  const network = (failure: NetworkFailure): DeliveryEvent => ({
    kind: 'network',
    stage: state.stage,
    failure,
    detail: error.message,
  });
  if (state.bodySent) return network('no-reply-after-dot');
  // A handshake that fails or stalls after "220 Ready to start TLS" (nodemailer reports OpenSSL's
  // errors as socket errors, stalls as timeouts).
  if (error.code === 'ETLS' || state.stage === 'starttls' || /\bSSL\b|\bTLS\b/.test(error.message)) {
    return network('tls-failed');
  }
  if (!state.greeted) {
    if (error.timeoutType === 'GREETING_TIMEOUT') return network('no-greeting');
    if (/closed unexpectedly/i.test(error.message)) return network('closed-before-banner');
    if (error.originalCode === 'ECONNREFUSED' || /ECONNREFUSED/.test(error.message))
      return network('refused');
    if (error.code === 'ETIMEDOUT') return network('timeout');
    return network('refused');
  }
  if (error.code === 'ETIMEDOUT') return network('timeout');
  return network('reset');
}
