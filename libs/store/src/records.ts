import type { AttemptVerdict, RecipientStatus } from '@outpost/core';

/** One line of an SMTP conversation: C = we sent, S = the server replied, * = what happened. */
export interface TranscriptEntry {
  at: number;
  direction: 'C' | 'S' | '*';
  text: string;
}

export interface SessionEntry {
  host: string;
  address: string;
  port: number;
  tls: boolean;
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
