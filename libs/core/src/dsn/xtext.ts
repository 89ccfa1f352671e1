/**
 * RFC 3461 §4 xtext: printable US-ASCII except "+" and "=" stands for itself; every other octet is
 * "+" and two upper-case hex digits. ENVID and ORCPT travel in SMTP as xtext.
 */
export function encodeXtext(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const isXchar = byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d;
    out += isXchar ? String.fromCharCode(byte) : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of encodeXtext; a "+" not followed by two hex digits is kept as it is. */
export function decodeXtext(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value[i] === '+' ? value.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(value[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Printable US-ASCII and space: what RFC 3461 §4.2 and §4.4 allow ORCPT and ENVID to hold. */
export function isPrintableAscii(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value);
}

/** RFC 3461 §4.4: an ENVID holds at most 100 characters. */
export const MAX_ENVID_CHARACTERS = 100;

/**
 * An ENVID as MAIL carries it (xtext): well-formed xtext (hex digits of either case are taken), and
 * its value printable US-ASCII of 1 to 100 characters (RFC 3461 §4.4). Anything else would end up
 * in the DSNs we send and in the MAIL commands of the next hops.
 */
export function isValidEnvid(xtext: string): boolean {
  if (!/^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-Fa-f]{2})+$/.test(xtext)) return false;
  const value = decodeXtext(xtext);
  return value.length <= MAX_ENVID_CHARACTERS && isPrintableAscii(value);
}
