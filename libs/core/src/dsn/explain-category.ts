import type { FailureCategory } from '../delivery/categories.ts';
import { MTA_STS_EXPLANATION } from '../diagnosis/mta-sts-explanation.ts';

/**
 * What a failure means, what the sender can do about it (in words for people, not operators), and
 * what the operator can do.
 */
export interface CategoryExplanation {
  cause: string;
  /** For the sender (the DSN's human part). */
  advice: string;
  /** For the operator of this Outpost (the web page, the API's diagnosis, `outpost explain`). */
  operatorAction: string;
}

const ASK_ADMIN = 'Forward this report to your mail administrator.';

/**
 * One explanation per failure category (libs/core/src/delivery/categories.ts), in the spirit of the
 * operator FAQ the project grew from: say plainly whose side the problem is on and whether
 * sending again can help.
 */
export const CATEGORY_EXPLANATIONS: Readonly<Record<FailureCategory, CategoryExplanation>> = {
  no_such_user: {
    cause: 'The receiving mail server says this mailbox does not exist.',
    advice:
      'Check the address for typing mistakes. If it is right, the person may have moved or left: ask them for their current address.',
    operatorAction:
      'Nothing on our side: the address is wrong or gone. The sender was told, and later mail to it is suppressed.',
  },
  mailbox_full: {
    cause: "The recipient's mailbox is full and cannot take more mail.",
    advice: 'Try again later, or reach the person another way so they can make room.',
    operatorAction:
      'Nothing on our side: a 4xx reply is retried until the queue lifetime ends, a 5xx one was bounced.',
  },
  domain_not_found: {
    cause:
      'The part of the address after the @ is not a domain that can receive mail: it does not exist in DNS.',
    advice: 'Check the domain name (after the @) for typing mistakes.',
    operatorAction:
      'Nothing, unless many domains fail this way: then check the resolver the workers use (OUTPOST_DNS_SERVERS).',
  },
  null_mx: {
    cause: 'The domain of this address publishes that it accepts no mail at all (a "null MX" record).',
    advice: 'Ask the person for another address.',
    operatorAction: 'Nothing: the domain accepts no mail.',
  },
  dns_temporary: {
    cause:
      'We could not find out where to deliver mail for this domain: its DNS servers did not answer or answered with an error.',
    advice:
      "This is usually fixed on the recipient's side within hours. If it persists, tell the recipient that their domain's DNS is broken.",
    operatorAction:
      'Retried automatically. If many domains show it, check the resolver the workers use (OUTPOST_DNS_SERVERS).',
  },
  connection_refused_or_timeout: {
    cause:
      "We could not connect to the recipient's mail server: it refused the connection or did not answer. It may be down, overloaded, or behind a firewall.",
    advice: 'This is on the receiving side. Try again later, or tell the recipient another way.',
    operatorAction:
      'One destination: it is down or filtering us, and is retried (see `outpost destinations`). Every destination: check that the workers can reach port 25 outbound (many clouds block it).',
  },
  no_greeting: {
    cause: "We connected to the recipient's mail server, but it never greeted us: it is not responding.",
    advice: 'This is on the receiving side. Try again later, or tell the recipient another way.',
    operatorAction:
      'One destination: it is overloaded or slowing us down, and is retried. Every destination: check outbound port 25 and whether our address is on a block list.',
  },
  busy_try_later: {
    cause: "The recipient's mail server said it is busy or temporarily unable to take mail.",
    advice: 'This is on the receiving side and usually passes. Try again later.',
    operatorAction:
      "Nothing: retried automatically, and the destination's connection window shrinks meanwhile.",
  },
  greylisted: {
    cause:
      "The recipient's mail server asked us to come back later (greylisting, a common anti-spam measure).",
    advice: 'Nothing: this normally resolves itself on the next try.',
    operatorAction: 'Nothing: the next try normally passes.',
  },
  rate_limited: {
    cause: "The recipient's mail server limits how much mail it takes from us, and we were over that limit.",
    advice: 'Try again later. If it keeps happening, forward this report to your mail administrator.',
    operatorAction:
      "Send more slowly to this destination (OUTPOST_DESTINATION_WINDOW_MAX), warm up a new sending address gradually, and check complaint rates in the receiver's postmaster tools.",
  },
  message_too_large: {
    cause: "The message is larger than the recipient's mail server accepts.",
    advice: 'Send a smaller message: share large files as a link instead of an attachment.',
    operatorAction: 'Nothing on our side: the sender has to send it smaller.',
  },
  policy_ip_or_ptr: {
    cause:
      "The recipient's mail server refused our sending server because of its network address or that address's reverse DNS (PTR) name. This is about our server, not about you or your message.",
    advice: `Sending again will not help. ${ASK_ADMIN} The fix is on our side (the reverse DNS of our sending address) or the receiver must allow our server.`,
    operatorAction:
      'Give every sending address a PTR record naming a host whose A/AAAA record points back to it, use that name as OUTPOST_HOSTNAME, and avoid dynamic-looking names (`outpost doctor` checks all three).',
  },
  blocklisted: {
    cause: "The recipient's mail server refused our sending server because its address is on a block list.",
    advice: `Sending again will not help until our server is removed from the list. ${ASK_ADMIN}`,
    operatorAction:
      'Look up our sending address on the list the reply names, fix why it was listed (an open relay, a compromised account, a spam run), then ask for delisting.',
  },
  mta_sts_tls_required: MTA_STS_EXPLANATION,
  tls_required: {
    cause: "The recipient's mail server requires an encrypted connection that could not be established.",
    advice: ASK_ADMIN,
    operatorAction:
      'Check that the workers can complete STARTTLS with this server: the transcript shows the handshake error.',
  },
  content_rejected: {
    cause:
      "The recipient's mail server refused the content of the message: it looked like spam or carried something the server does not accept.",
    advice: 'Check the message and its attachments, or ask the recipient to allow mail from you.',
    operatorAction:
      'Look at what was refused (wording, attachments, links on a block list); if many senders are hit, look for a compromised account sending spam.',
  },
  auth_or_relay_denied: {
    cause: "The recipient's mail server does not accept mail for this address from our server.",
    advice: 'Check the address. If it is right, ask the recipient why their server refuses it.',
    operatorAction:
      "The receiver does not take this mail from us: check that the domain's MX points where it should and whether the receiver expects us to authenticate.",
  },
  sender_authentication: {
    cause:
      "The recipient's mail server could not verify that the message comes from the sender's domain: SPF, DKIM or DMARC failed or is missing, and it refuses such mail.",
    advice: `Sending again will not help until the sending domain is set up for authentication. ${ASK_ADMIN}`,
    operatorAction:
      "Publish SPF for the sender's domain including our sending addresses, sign its mail with DKIM (`outpost dkim keygen`, OUTPOST_DKIM_KEYS_DIR), and publish DMARC aligned with the From: domain.",
  },
  mail_loop: {
    cause: 'The message went around between mail servers too many times (a mail loop), so it was stopped.',
    advice: `A forwarding rule is probably sending mail in a circle. ${ASK_ADMIN}`,
    operatorAction:
      'Find the forwarding loop: the Received: headers of the returned message show the hosts it went round.',
  },
  unknown: {
    cause: "The recipient's mail server refused the message; its reply (below) gives the reason.",
    advice: `If the reply does not make the problem clear, ${ASK_ADMIN.toLowerCase()}`,
    operatorAction: 'Read the reply in the transcript; `outpost explain "<reply>"` shows how it was judged.',
  },
};

/** The explanation of a category id; unknown ids get the generic one. */
export function explainCategory(category: string): CategoryExplanation {
  return (
    (CATEGORY_EXPLANATIONS as Record<string, CategoryExplanation>)[category] ?? CATEGORY_EXPLANATIONS.unknown
  );
}
