import { z } from 'zod';

/**
 * The request and answer shapes of the HTTP API: validation and the OpenAPI document both come
 * from here. Objects are strict, so a misspelt field is a 400 rather than silently ignored, and an
 * attachment `path` or `href` (file or URL access by the MIME builder) cannot even be expressed.
 * The named schemas carry `meta({id})` (zod's global registry, where `describe()` also writes),
 * so they become `components.schemas` of the OpenAPI document.
 */
/** Anything that ends up in a header field (or the SMTP envelope) must not be able to start a new one. */
export const HEADER_SAFE = /^[^\r\n\0]*$/;
export const HEADER_SAFE_MESSAGE = 'must not contain CR, LF or NUL';

const headerText = (max: number) => z.string().regex(HEADER_SAFE, { error: HEADER_SAFE_MESSAGE }).max(max);

/** RFC 5322 §3.6.8 field name: printable ASCII except ':'. */
const FIELD_NAME = /^[!-9;-~]{1,76}$/;

const address = headerText(998)
  .min(1)
  .describe('`bob@example.org` or `Bob <bob@example.org>`; international domains are accepted');

const addressList = z.array(address);

const dsn = z
  .strictObject({
    notify: z
      .array(z.enum(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']))
      .min(1)
      .optional()
      .describe('RFC 3461 NOTIFY for every recipient; NEVER stands alone'),
    ret: z
      .enum(['FULL', 'HDRS'])
      .optional()
      .describe('RFC 3461 RET: return the full message or headers only'),
    envid: headerText(100)
      .regex(/^[\x21-\x7e]+$/, { error: 'must be printable ASCII without spaces' })
      .optional()
      .describe('RFC 3461 ENVID, echoed in delivery status notifications'),
  })
  .describe('Delivery status notification parameters');

const expiresAt = z.iso
  .datetime({ offset: true })
  .optional()
  .describe('Give up delivering at this time (default: now + OUTPOST_QUEUE_LIFETIME, also the maximum)');

const attachment = z
  .strictObject({
    filename: headerText(255).min(1),
    contentType: headerText(255)
      .regex(/^[\w.+-]+\/[\w.+-]+$/, { error: 'must be a MIME type like application/pdf' })
      // A multipart type would label one part as a container of parts it does not have.
      .refine((type) => !/^multipart\//i.test(type), { error: 'a multipart/* type cannot be an attachment' })
      .optional()
      .describe('Detected from the file name when missing'),
    content: z.base64().describe('The attachment itself, base64 encoded'),
  })
  .describe('An attachment given inline; `path` and `href` are refused (no file or URL access)');

export const composedMessageSchema = z
  .strictObject({
    from: address.describe('Header From and envelope sender'),
    to: addressList.optional(),
    cc: addressList.optional(),
    bcc: addressList.optional().describe('Envelope recipients only: never written into the message'),
    replyTo: address.optional(),
    subject: headerText(998).optional(),
    text: z.string().optional(),
    html: z.string().optional(),
    headers: z
      .record(z.string().regex(FIELD_NAME, { error: 'is not a valid header field name' }), headerText(998))
      .optional()
      .describe('Further header fields, e.g. List-Unsubscribe or In-Reply-To'),
    attachments: z.array(attachment).optional(),
    dsn: dsn.optional(),
    expiresAt,
  })
  .meta({
    id: 'ComposedMessage',
    description: 'A message built by Outpost (MIME) from its parts. Recipients: to + cc + bcc.',
  });

export const rawMessageSchema = z
  .strictObject({
    from: headerText(998).describe('Envelope sender; "" is the null sender <>'),
    to: addressList.min(1).describe('Envelope recipients'),
    raw: z
      .string()
      .min(1)
      .describe('A complete RFC 5322 message (UTF-8). LF line endings become CRLF; a bare CR is refused.'),
    dsn: dsn.optional(),
    expiresAt,
  })
  .meta({
    id: 'RawMessage',
    description: 'A message the client built itself, sent as given (after line-ending normalisation)',
  });

export const sendMessageSchema = z.union([composedMessageSchema, rawMessageSchema]);

export const acceptedSchema = z
  .object({
    id: z.string().describe('The message id (UUIDv7), as in logs, the queue and delivery reports'),
    recipients: z.array(z.string()).describe('The envelope recipients, de-duplicated'),
  })
  .meta({ id: 'Accepted', description: 'The message is stored durably: it will be delivered or bounced' });

export const errorSchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe('Stable, for programs: e.g. header_injection, sender_not_allowed, rate_limited'),
      message: z.string(),
      field: z.string().optional().describe('The request field (JSON path) or header at fault'),
    }),
  })
  .meta({ id: 'Error', description: 'Any answer other than 2xx' });

export type ComposedMessageRequest = z.output<typeof composedMessageSchema>;
export type RawMessageRequest = z.output<typeof rawMessageSchema>;
export type SendMessageRequest = z.output<typeof sendMessageSchema>;
export type Accepted = z.output<typeof acceptedSchema>;
