import type { ReceivedMessage } from '@outpost/testing';
import { type ParsedMail, simpleParser } from 'mailparser';

/** One body part of the multipart/report, decoded. */
export interface DsnPart {
  /** Lower-cased media type without parameters. */
  type: string;
  headers: Map<string, string>;
  body: Buffer;
}

/** A DSN as a receiver got it: envelope, parsed top-level message, parts and status fields. */
export interface ParsedDsn {
  envelopeFrom: string;
  envelopeTo: string[];
  mail: ParsedMail;
  contentType: { value: string; params: Record<string, string> };
  parts: DsnPart[];
  humanText: string;
  /** Per-message fields, then one map per recipient; names lower-cased (RFC 3464 §2.1.1). */
  perMessage: Map<string, string>;
  perRecipient: Array<Map<string, string>>;
}

/** mailparser for the message and its text; the report parts are split here, as they are. */
export async function parseDsn(message: ReceivedMessage): Promise<ParsedDsn> {
  const mail = await simpleParser(message.data);
  const contentType = mail.headers.get('content-type') as ParsedDsn['contentType'];
  const boundary = contentType.params.boundary;
  if (!boundary) throw new Error('not a multipart message');
  const parts = splitParts(message.data.toString('latin1'), boundary);
  const status = parts.find((part) => /^message\/(global-)?delivery-status$/.test(part.type));
  if (!status) throw new Error(`no delivery-status part: ${parts.map((part) => part.type).join(', ')}`);
  const [perMessage = new Map(), ...perRecipient] = fieldBlocks(status.body.toString('utf8'));
  return {
    envelopeFrom: message.from,
    envelopeTo: message.to,
    mail,
    contentType,
    parts,
    humanText: parts[0]?.body.toString('utf8') ?? '',
    perMessage,
    perRecipient,
  };
}

function splitParts(raw: string, boundary: string): DsnPart[] {
  const delimiter = `\r\n--${boundary}`;
  const chunks = raw.split(delimiter).slice(1);
  const parts: DsnPart[] = [];
  for (const chunk of chunks) {
    if (chunk.startsWith('--')) break; // the close delimiter
    const content = chunk.slice(chunk.indexOf('\r\n') + 2);
    const headerEnd = content.indexOf('\r\n\r\n');
    const headers = headerFields(content.slice(0, headerEnd));
    const encoded = Buffer.from(content.slice(headerEnd + 4), 'latin1');
    parts.push({
      type: (headers.get('content-type') ?? 'text/plain').split(';')[0]!.trim().toLowerCase(),
      headers,
      body: decode(encoded, headers.get('content-transfer-encoding') ?? '7bit'),
    });
  }
  return parts;
}

function headerFields(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of block.replace(/\r\n[ \t]/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return fields;
}

function decode(body: Buffer, encoding: string): Buffer {
  if (/^quoted-printable$/i.test(encoding)) {
    const text = body.toString('latin1').replace(/=\r\n/g, '');
    return Buffer.from(
      text.replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
      'latin1',
    );
  }
  if (/^base64$/i.test(encoding)) return Buffer.from(body.toString('latin1'), 'base64');
  return body;
}

/** RFC 3464 §2.1.1: blocks of header-style fields separated by empty lines; folding undone. */
function fieldBlocks(text: string): Array<Map<string, string>> {
  return text
    .replace(/\r\n[ \t]/g, ' ')
    .trim()
    .split(/\r\n\r\n/)
    .map(headerFields);
}
