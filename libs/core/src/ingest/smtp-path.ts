import { domainToASCII } from 'node:url';
import { parse as parseMailbox } from 'smtp-address-parser';

/** RFC 5321 §4.5.3.1.1-3, in octets: local part, domain, and the whole path with its angle brackets. */
export const MAX_LOCAL_PART_OCTETS = 64;
export const MAX_DOMAIN_OCTETS = 255;
export const MAX_PATH_OCTETS = 256;

/** A mailbox as Outpost keeps it: local part as sent, domain in lower-case A-labels (or an address literal). */
export interface Mailbox {
  localPart: string;
  domain: string;
  address: string;
}

export type PathProblem = 'syntax' | 'routing' | 'localPartTooLong' | 'domainTooLong' | 'pathTooLong';

export type PathCommand =
  | {
      ok: true;
      /** null for the null reverse path `<>` (MAIL only). */
      mailbox: Mailbox | null;
      /** Whether the path as sent had non-ASCII characters (RFC 6531: only with SMTPUTF8). */
      utf8: boolean;
      /** ESMTP parameters, keys upper-cased; a keyword without a value is `true`. */
      params: Record<string, string | true>;
    }
  | { ok: false; problem: PathProblem };

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * RFC 5321 §4.1.2 Dot-string (atext without `%` and `!`) `@` a Domain of two or more LDH labels,
 * the last of at least two characters (smtp-address-parser refuses single-label domains and
 * one-letter top-level labels; the fast path must not accept more than it).
 */
const PLAIN_MAILBOX =
  /^([A-Za-z0-9#$&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9#$&'*+/=?^_`{|}~-]+)*)@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9])$/;

/** smtp-address-parser's limit for a domain name (RFC 1035 §2.3.4 less the root's dot). */
const MAX_GRAMMAR_DOMAIN_OCTETS = 253;

/**
 * Parses `MAIL FROM:<path> params` or `RCPT TO:<path> params` strictly (RFC 5321 §4.1.2 via
 * smtp-address-parser). Addresses that route through us are refused, never rewritten: `%` hacks,
 * `!` paths, source routes (`<@relay:user@dest>`, which §4.1.2 says to ignore: ignoring it is how
 * relays got abused), several `@`, and `@`, `%` or `!` hidden in a quoted local part. Lengths are
 * checked before the grammar runs, so the parser never sees outsized input.
 */
export function parsePathCommand(line: string, verb: 'MAIL FROM' | 'RCPT TO'): PathCommand {
  const prefix = `${verb}:`;
  if (line.slice(0, prefix.length).toUpperCase() !== prefix) return fail('syntax');
  let rest = line.slice(prefix.length);
  // "MAIL FROM: <a@b>" is not RFC 5321 but widespread; a single space is tolerated.
  if (rest.startsWith(' ')) rest = rest.slice(1);
  if (!rest.startsWith('<')) return fail('syntax');
  const close = rest.indexOf('>');
  if (close === -1) return fail('syntax');
  const inner = rest.slice(1, close);
  const after = rest.slice(close + 1);
  if (after !== '' && !after.startsWith(' ')) return fail('syntax');
  const params = parseParameters(after);
  if (params === undefined) return fail('syntax');
  const utf8 = NON_ASCII.test(inner);
  if (inner === '') return verb === 'MAIL FROM' ? { ok: true, mailbox: null, utf8, params } : fail('syntax');
  if (inner.startsWith('@')) return fail('routing');

  const at = inner.lastIndexOf('@');
  if (at <= 0) return fail(looksRouted(inner) ? 'routing' : 'syntax');
  if (octets(inner.slice(0, at)) > MAX_LOCAL_PART_OCTETS) return fail('localPartTooLong');
  if (octets(inner.slice(at + 1)) > MAX_DOMAIN_OCTETS) return fail('domainTooLong');
  if (octets(inner) + 2 > MAX_PATH_OCTETS) return fail('pathTooLong');

  // Fast path for the everyday form, a dot-atom local part at an LDH domain: the grammar would
  // accept it and return these same parts, and the grammar parser costs a fifth of ingest's CPU.
  // `%` and `!` are left out here so that routing tricks always meet the full checks below.
  const plain = inner.match(PLAIN_MAILBOX);
  if (plain && plain[2]!.length <= MAX_GRAMMAR_DOMAIN_OCTETS) {
    const domain = asciiDomain(plain[2]!);
    if (domain !== undefined) {
      const localPart = plain[1]!;
      return { ok: true, mailbox: { localPart, domain, address: `${localPart}@${domain}` }, utf8, params };
    }
  }

  let parsed: ParsedMailbox;
  try {
    parsed = parseMailbox(inner) as ParsedMailbox;
  } catch {
    return fail(looksRouted(inner) ? 'routing' : 'syntax');
  }
  const { DotString: dotString, QuotedString: quoted } = parsed.localPart;
  const localPart = dotString ?? quoted ?? '';
  if (dotString !== undefined && /[%!]/.test(dotString)) return fail('routing');
  if (quoted !== undefined && /[@%!]/.test(quoted)) return fail('routing');
  const domain = parsed.domainPart.AddressLiteral ?? asciiDomain(parsed.domainPart.DomainName ?? '');
  if (domain === undefined) return fail('syntax');
  if (domain.length > MAX_DOMAIN_OCTETS) return fail('domainTooLong');
  return { ok: true, mailbox: { localPart, domain, address: `${localPart}@${domain}` }, utf8, params };
}

/**
 * A top-level label that is all digits (or hex, "0x7f"): RFC 3696 §2 rules such TLDs out, and
 * domainToASCII (the WHATWG URL host parser) would read the whole name as an IPv4 address, turning
 * `bob@0x7f.01` into `bob@127.0.0.1`.
 */
const NUMERIC_TOP_LABEL = /(?:^|\.)(?:\d+|0x[0-9a-f]*)\.?$/i;

/**
 * What the URL host parser would strip, percent-decode or stop at instead of refusing: controls,
 * spaces and URL delimiters have no place in a domain name anyway.
 */
const NOT_IN_A_DOMAIN = /[\x00-\x20\x7f/\\?#@:%[\]]/;

/** Letters, digits and hyphens in non-empty labels: the common case, already ASCII (RFC 1123 §2.1). */
const LDH_NAME = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?$/i;

/** An A-label (RFC 5890 §2.3.2.1): left to domainToASCII, whose Punycode handling is the reference. */
const ACE_LABEL = /(?:^|\.)xn--/i;

/**
 * A domain in the lower-case A-label form DNS needs (RFC 5890), whatever form it came in; undefined
 * when it cannot be one (a label over 63 octets, an invalid IDN, an all-numeric top-level label).
 */
export function asciiDomain(domain: string): string | undefined {
  if (domain.startsWith('[')) return domain;
  if (NOT_IN_A_DOMAIN.test(domain) || NUMERIC_TOP_LABEL.test(domain)) return undefined;
  // An LDH name without A-labels only needs lower-casing, which is all UTS #46 does to it; the
  // URL parser costs ~2 us a call, and ingest converts every address several times.
  const ascii =
    LDH_NAME.test(domain) && !ACE_LABEL.test(domain) ? domain.toLowerCase() : domainToASCII(domain);
  if (
    ascii === '' ||
    NUMERIC_TOP_LABEL.test(ascii) ||
    ascii.split('.').some((label) => label.length === 0 || label.length > 63)
  ) {
    return undefined;
  }
  return ascii;
}

/** `local@domain` with the domain as A-labels; the address unchanged when the domain cannot be converted. */
export function asciiAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at === -1) return address;
  const domain = asciiDomain(address.slice(at + 1));
  return domain === undefined ? address : `${address.slice(0, at)}@${domain}`;
}

interface ParsedMailbox {
  localPart: { DotString?: string; QuotedString?: string };
  domainPart: { DomainName?: string; AddressLiteral?: string };
}

/** RFC 5321 §4.1.2: Mail-parameters are `keyword[=value]` separated by single spaces. */
function parseParameters(text: string): Record<string, string | true> | undefined {
  const params: Record<string, string | true> = {};
  for (const part of text.split(' ')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const key = (equals === -1 ? part : part.slice(0, equals)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key)) return undefined;
    params[key] = equals === -1 ? true : part.slice(equals + 1);
  }
  return params;
}

/** Failed the grammar, but for a reason that only serves routing: tell the client so. */
function looksRouted(path: string): boolean {
  return /[%!]/.test(path) || path.indexOf('@') !== path.lastIndexOf('@');
}

function octets(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function fail(problem: PathProblem): PathCommand {
  return { ok: false, problem };
}
