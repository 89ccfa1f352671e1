import type { AttemptVerdict } from './status.ts';

/** RFC 3461 §4.1 NOTIFY values; NEVER excludes the others. */
export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

/** RFC 3461 parameters of the whole transaction (MAIL FROM ... RET= ENVID=). */
export interface DsnEnvelopeParams {
  ret?: 'FULL' | 'HDRS';
  envid?: string;
}

export interface Recipient {
  /** The forward path as given, local part case preserved; the domain is lower-cased. */
  address: string;
  notify?: DsnNotify[];
  /** RFC 3461 §4.2 ORCPT, kept as "addr-type;xtext-decoded address". */
  orcpt?: string;
}

/** Who handed us the message, for the Received: header, logs and policy. */
export interface ClientIdentity {
  /** `local`: made by Outpost itself (a DSN), not handed over by a client. */
  protocol: 'smtp' | 'http' | 'local';
  address: string;
  heloName?: string;
  user?: string;
  tls: boolean;
}

/** The headers later stages need without re-parsing the body (DSNs, logs, queries). */
export interface MessageSummaryHeaders {
  messageId: string;
  subject?: string;
  from?: string;
}

/**
 * A message as Outpost owns it once accepted. `sender` is '' for the null reverse path `<>`.
 * Times are milliseconds since the epoch.
 */
export interface Message {
  id: string;
  sender: string;
  recipients: Recipient[];
  dsn: DsnEnvelopeParams;
  arrivalTime: number;
  expiresAt: number;
  size: number;
  headers: MessageSummaryHeaders;
  client: ClientIdentity;
  /** W3C traceparent of the trace that ingest started, when tracing is on. */
  traceparent?: string;
  /** The DKIM signatures ingest added, or why it added none (RFC 6376). */
  dkim?: { signatures: Array<{ domain: string; selector: string; algorithm: string }>; note?: string };
  body: Buffer;
}

/** What one attempt concluded for one recipient. */
export interface AttemptOutcome {
  recipient: string;
  verdict: AttemptVerdict;
  replyCode?: number;
  enhancedStatus?: string;
  replyText?: string;
  remoteHost?: string;
  remoteAddress?: string;
}
