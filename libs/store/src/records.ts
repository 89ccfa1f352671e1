import type { AttemptVerdict, RecipientStatus } from '@outpost/core';

/** One line of an SMTP conversation: C = we sent, S = the server replied, * = what happened. */
export interface TranscriptEntry {
  at: number;
  direction: 'C' | 'S' | '*';
  text: string;
}

/**
 * The TLS outcome of a session: `none` (plaintext, or TLS required and not had), `opportunistic`
 * (encrypted, the certificate not required to verify), `mta-sts` (verified TLS that the receiver's
 * enforced MTA-STS policy required, RFC 8461).
 */
export type SessionTlsMode = 'none' | 'opportunistic' | 'mta-sts';

export interface SessionTlsEntry {
  mode: SessionTlsMode;
  /** e.g. 'TLSv1.3', when encrypted. */
  protocol?: string;
  /** The certificate chained to a trusted CA and named the MX host (judged in every mode). */
  certificateVerified?: boolean;
  /** Why the certificate did not verify, why the handshake failed, or that STARTTLS was missing. */
  error?: string;
  /** The receiver's MTA-STS policy, when one applied to this session. */
  mtaSts?: { mode: 'enforce' | 'testing'; policyId: string };
}

/** The receiver's MTA-STS policy as it applied to an attempt (RFC 8461). */
export interface MtaStsEntry {
  mode: 'enforce' | 'testing';
  policyId: string;
  /** fetched over HTTPS for this attempt, or a cached copy. */
  source: 'fetched' | 'cache';
  /** MX hosts the policy does not list: skipped under enforce, used and reported under testing. */
  unlistedMx?: string[];
  /** What failed the policy: under testing delivered anyway, under enforce the reason for the deferral. */
  failures?: string[];
  /** Why the policy could not be refreshed, when a cached copy was used instead. */
  note?: string;
}

export interface SessionEntry {
  host: string;
  address: string;
  port: number;
  /** The session was encrypted (kept for records written before `tlsOutcome`). */
  tls: boolean;
  /** Absent in records written before it existed. */
  tlsOutcome?: SessionTlsEntry;
  greeted: boolean;
  durationMs: number;
  /** Only for sessions that did not deliver: the operator's "level 3 log" (FAQ). */
  transcript?: TranscriptEntry[];
}

export interface RecipientVerdict {
  address: string;
  verdict: AttemptVerdict;
  /** The recipient's status after this attempt (data model vocabulary). */
  status: RecipientStatus;
  enhancedStatus: string;
  category: string;
  replyCode?: number;
  replyText?: string;
  remoteHost?: string;
  remoteAddress?: string;
  possibleDuplicate?: boolean;
}

/** The delivery log's unit: one attempt for one domain's recipients. */
export interface AttemptRecord {
  /** UUIDv7: sorts by time. */
  id: string;
  messageId: string;
  domain: string;
  /** 1-based attempt number for this domain. */
  attempt: number;
  time: number;
  durationMs: number;
  traceId?: string;
  /** The last host/address talked to, for the one-line view. */
  mxHost?: string;
  mxAddress?: string;
  recipients: RecipientVerdict[];
  sessions: SessionEntry[];
  /** Set when the receiving domain's MTA-STS policy (enforce or testing) applied. */
  mtaSts?: MtaStsEntry;
}

/** What queries return per recipient outcome (one attempt x one recipient). */
export interface DeliveryEntry extends RecipientVerdict {
  attemptId: string;
  messageId: string;
  domain: string;
  attempt: number;
  time: number;
  traceId?: string;
}

/** A recipient's current state, kept per message. */
export interface RecipientState {
  address: string;
  status: RecipientStatus;
  updatedAt: number;
  enhancedStatus?: string;
  category?: string;
  replyText?: string;
  attempts: number;
  /** Who set it when an operator did (hold, release, bounce ...). */
  by?: string;
}

/** An operator action, recorded with who did it. */
export interface OperatorAction {
  time: number;
  action: string;
  by: string;
  detail?: string;
}
