/**
 * Minimal RFC 5322 header-block handling on raw bytes: enough to read the fields later stages need
 * and to add trace fields, without decoding or re-serialising the message (it must go out as it came).
 */

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

export interface HeaderField {
  /** As written, e.g. "Message-ID". */
  name: string;
  /** Unfolded (RFC 5322 §2.2.3), outer whitespace trimmed. */
  value: string;
}

/** Length of the header block including its final CRLF, not the empty separator line. */
export function headerBlockLength(raw: Buffer): number {
  if (raw.subarray(0, 2).equals(CRLF)) return 0;
  const end = raw.indexOf(HEADER_END);
  return end === -1 ? raw.length : end + 2;
}

export function parseHeaderFields(raw: Buffer): HeaderField[] {
  const block = raw.subarray(0, headerBlockLength(raw)).toString('latin1');
  const fields: HeaderField[] = [];
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    const last = fields.at(-1);
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      last.value = `${last.value} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

export function findHeader(fields: readonly HeaderField[], name: string): string | undefined {
  const wanted = name.toLowerCase();
  return fields.find((field) => field.name.toLowerCase() === wanted)?.value;
}

export function countHeaders(fields: readonly HeaderField[], name: string): number {
  const wanted = name.toLowerCase();
  return fields.filter((field) => field.name.toLowerCase() === wanted).length;
}

/**
 * Returns a new message with `prepend` fields before the existing header block (trace fields go on
 * top, RFC 5321 §4.4) and `append` fields at its end (missing Message-ID/Date).
 * Each field is a complete "Name: value" string without the final CRLF; folding is the caller's.
 */
export function addHeaderFields(raw: Buffer, prepend: readonly string[], append: readonly string[]): Buffer {
  const blockLength = headerBlockLength(raw);
  const toBytes = (fields: readonly string[]) =>
    Buffer.from(fields.map((field) => `${field}\r\n`).join(''), 'latin1');
  const head = raw.subarray(0, blockLength);
  // A message with no header block and no separator line at all needs one before the body.
  const rest = raw.subarray(blockLength);
  const needsSeparator = blockLength === raw.length && !raw.subarray(-2).equals(CRLF) && raw.length > 0;
  return Buffer.concat([
    toBytes(prepend),
    head,
    needsSeparator ? CRLF : Buffer.alloc(0),
    toBytes(append),
    rest,
  ]);
}
