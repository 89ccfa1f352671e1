/** RFC 5321 §4.5.3.1.4: a command line is at most 512 octets, the CRLF included. */
export const MAX_COMMAND_LINE_OCTETS = 512;

/**
 * RFC 4954 §4: AUTH lines (the command with its initial response, and each continuation line) may
 * be up to 12288 octets. It is also the most the line parser ever buffers.
 */
export const MAX_AUTH_LINE_OCTETS = 12_288;

/**
 * Room the ESMTP parameters we advertise add to MAIL and RCPT (RFC 5321 §4.5.3.1.4 lets extensions
 * lengthen these lines): MAIL may carry SIZE, BODY, SMTPUTF8, RET and an ENVID of up to 100
 * characters (RFC 3461 §4.4); RCPT may carry NOTIFY and an ORCPT of up to 500 (RFC 3461 §4.2).
 */
const MAIL_PARAMETER_ROOM = 256;
const RCPT_PARAMETER_ROOM = 640;

/**
 * The longest line, in octets with its CRLF, accepted for `verb` (upper-case first word), or for a
 * continuation line of an AUTH exchange.
 */
export function commandLineLimit(verb: string, authContinuation = false): number {
  if (authContinuation || verb === 'AUTH') return MAX_AUTH_LINE_OCTETS;
  if (verb === 'MAIL') return MAX_COMMAND_LINE_OCTETS + MAIL_PARAMETER_ROOM;
  if (verb === 'RCPT') return MAX_COMMAND_LINE_OCTETS + RCPT_PARAMETER_ROOM;
  return MAX_COMMAND_LINE_OCTETS;
}
