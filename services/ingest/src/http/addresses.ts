import { asciiDomain } from '@outpost/core';
import addressparser from 'nodemailer/lib/addressparser';
import { ApiError } from './api-error.ts';

export interface Mailbox {
  /** Display name, '' when none. */
  name: string;
  /** The address as it goes into the envelope: ASCII, domain as lower-case A-labels. */
  address: string;
}

/**
 * RFC 5322 atext without '%' and '!': those only serve old relay routing tricks (user%host@relay,
 * host!user), which Outpost refuses on every path rather than rewrite.
 */
const LOCAL_PART = /^[A-Za-z0-9#$&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9#$&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function invalid(field: string, detail: string): ApiError {
  return new ApiError(400, 'invalid_address', `${field}: ${detail}`, { field, reason: 'badAddress' });
}

/** Validates one envelope address (no display name); the domain comes back as A-labels. */
export function parseEnvelopeAddress(text: string, field: string): string {
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1)
    throw invalid(field, `"${text}" is not an address like name@example.org`);
  const local = text.slice(0, at);
  if (local.length > 64) throw invalid(field, 'the local part is longer than 64 octets');
  if (!LOCAL_PART.test(local)) {
    throw invalid(field, `the local part "${local}" is not supported (plain ASCII, no quoting, no % or !)`);
  }
  // Never domainToASCII alone: it reads a name ending in a number as an IPv4 address.
  const domain = asciiDomain(text.slice(at + 1)) ?? '';
  const labels = domain.split('.');
  // As SMTP submission reads it (the RFC 5321 grammar of @outpost/core): two labels or more, the
  // last of two characters or more and not all digits (RFC 3696 §2).
  if (
    domain === '' ||
    domain.length > 253 ||
    labels.length < 2 ||
    labels.at(-1)!.length < 2 ||
    !labels.every((label) => LABEL.test(label))
  ) {
    throw invalid(field, `"${text.slice(at + 1)}" is not a valid domain name`);
  }
  return `${local}@${domain}`;
}

/** `bob@example.org` or `Bob <bob@example.org>`: exactly one mailbox. */
export function parseMailbox(text: string, field: string): Mailbox {
  const parsed = addressparser(text);
  const only = parsed.length === 1 ? parsed[0] : undefined;
  if (!only || only.group !== undefined) throw invalid(field, 'expected exactly one address');
  return { name: only.name, address: parseEnvelopeAddress(only.address, field) };
}
