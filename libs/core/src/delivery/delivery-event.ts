import type { SmtpReply } from '../smtp-reply.ts';
import type { FailureCategory } from './categories.ts';

/** Where in the SMTP dialogue something happened (RFC 5321 §4.1 commands, plus the end of data). */
export type SmtpStage =
  | 'connect'
  | 'greeting'
  | 'ehlo'
  | 'starttls'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'end-of-data';

/** Trouble below the SMTP reply level. */
export type NetworkFailure =
  | 'refused' // TCP RST on connect
  | 'timeout' // connect or a reply did not come in time
  | 'reset' // connection lost mid-session
  | 'closed-before-banner' // accepted, then closed: the FAQ's "accepts and then cancels"
  | 'no-greeting' // connected, the banner never came ("MTA not responding")
  | 'tls-failed' // STARTTLS handshake failed or stalled
  | 'no-reply-after-dot'; // message sent, the final reply never came (RFC 1047)

/** Why an enforced MTA-STS policy kept the mail from a host. */
export type MtaStsFailure = 'mx-not-listed' | 'no-starttls' | 'certificate' | 'tls-failed';

/** What one step of a delivery attempt ended with; the input of classification. */
export type DeliveryEvent =
  | { kind: 'reply'; stage: SmtpStage; reply: SmtpReply }
  | { kind: 'network'; stage: SmtpStage; failure: NetworkFailure; detail?: string }
  | {
      kind: 'dns';
      failure: 'nxdomain' | 'null-mx' | 'no-address' | 'temporary' | 'private-address';
      detail?: string;
    }
  | { kind: 'loop'; detail: string }
  | { kind: 'expired'; detail?: string }
  /**
   * The receiver's MTA-STS policy is "enforce" (RFC 8461 §5) and this host may not have the mail: it is
   * not listed in the policy, offers no STARTTLS, or its certificate does not validate for its name.
   */
  | { kind: 'mta-sts'; failure: MtaStsFailure; detail: string }
  /** Not attempted: the address is on the suppression list after an earlier permanent failure. */
  | { kind: 'suppressed'; status: string; category: FailureCategory; detail: string };
