import { findHeader, parseHeaderFields } from '@outpost/core';
import { ApiError } from './api-error.ts';

/** RFC 5322 §2.1.1: a line is at most 998 characters, CRLF excluded. */
export const MAX_LINE_OCTETS = 998;

/**
 * A client's complete message, made exactly what will go out over SMTP: LF line endings become
 * CRLF and a final CRLF is added when missing (an SMTP client would add it on the wire anyway).
 * A bare CR or a NUL is refused rather than guessed at: both are how SMTP smuggling starts.
 */
export function normalizeRawMessage(text: string): Buffer {
  if (text.includes('\0')) throw rawError('nul_character', 'raw contains a NUL character');
  if (/\r(?!\n)/.test(text)) throw rawError('bare_cr', 'raw contains a CR not followed by LF');
  let normalized = text.replace(/\r?\n/g, '\r\n');
  if (!normalized.endsWith('\r\n')) normalized += '\r\n';
  const raw = Buffer.from(normalized, 'utf8');
  assertLineLengths(raw, 'raw');
  const fields = parseHeaderFields(raw);
  if (findHeader(fields, 'from') === undefined) {
    throw rawError('missing_from', 'raw has no From: header field (RFC 5322 §3.6 requires one)');
  }
  // Bcc recipients listed in the header would be shown to everyone; they belong in `to` only.
  if (findHeader(fields, 'bcc') !== undefined) {
    throw rawError('bcc_header', 'raw has a Bcc: header field; remove it and list those recipients in `to`');
  }
  return raw;
}

/** Refuses a message with a line over 998 octets: relays may break it, and we send what we stored. */
export function assertLineLengths(message: Buffer, field: string): void {
  let start = 0;
  while (start < message.length) {
    let end = message.indexOf('\r\n', start);
    if (end === -1) end = message.length;
    if (end - start > MAX_LINE_OCTETS) {
      throw new ApiError(400, 'line_too_long', `${field} has a line longer than ${MAX_LINE_OCTETS} octets`, {
        field,
      });
    }
    start = end + 2;
  }
}

function rawError(code: string, message: string): ApiError {
  return new ApiError(400, code, message, { field: 'raw' });
}
