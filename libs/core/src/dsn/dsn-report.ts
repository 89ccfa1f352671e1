/** RFC 3464 §2.3.3 Action values Outpost reports (it does not relay or expand). */
export type DsnAction = 'failed' | 'delayed' | 'delivered';

/** One recipient as a DSN reports it: the shape delivery hands to the bounce service. */
export interface DsnRecipient {
  address: string;
  /** RFC 3461 ORCPT as "addr-type;address", already decoded from xtext. */
  orcpt?: string;
  action: DsnAction;
  /** The recipient's status in the data model: bounced, expired, deferred or delivered. */
  status: string;
  /** RFC 3463 enhanced status code: 5.1.1, 4.4.7 ... */
  enhancedStatus: string;
  category: string;
  /** The remote reply as received ("550 5.1.1 No such user"), or our own reason. */
  diagnostic?: string;
  remoteHost?: string;
  remoteAddress?: string;
  /** When this was decided (the last attempt, for attempted recipients). */
  at: number;
  willRetryUntil?: number;
  /** Not attempted: the address is on the suppression list. */
  reason?: 'suppressed';
}

/** Everything a DSN says, with dates and ids fixed by the caller (the builders are pure). */
export interface DsnReport {
  event: DsnAction;
  /** Our host name: Reporting-MTA and the MAILER-DAEMON address. */
  reportingMta: string;
  /** Outpost's id of the original message. */
  messageId: string;
  /** RFC 3461 ENVID, decoded from xtext. */
  envid?: string;
  arrivalTime: number;
  original: { messageId: string; subject?: string; from?: string };
  /** The envelope sender of the original message ('' = <>). */
  originalSender: string;
  /** The original used SMTPUTF8: the report is message/global-delivery-status (RFC 6533). */
  smtpUtf8: boolean;
  recipients: readonly DsnRecipient[];
  /** The sender, or the postmaster getting a copy of a double bounce. */
  audience: 'sender' | 'postmaster';
  /** What is attached: the headers, the whole message (RET=FULL), or the headers of one too large. */
  returned: 'headers' | 'message' | 'headers-of-large-message';
}
