import type { FailureCategory } from '../delivery/categories.ts';

/** What a failure means and what the sender can do about it, in words for people, not operators. */
export interface CategoryExplanation {
  cause: string;
  advice: string;
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
  },
  mailbox_full: {
    cause: "The recipient's mailbox is full and cannot take more mail.",
    advice: 'Try again later, or reach the person another way so they can make room.',
  },
  domain_not_found: {
    cause:
      'The part of the address after the @ is not a domain that can receive mail: it does not exist in DNS.',
    advice: 'Check the domain name (after the @) for typing mistakes.',
  },
  null_mx: {
    cause: 'The domain of this address publishes that it accepts no mail at all (a "null MX" record).',
    advice: 'Ask the person for another address.',
  },
  dns_temporary: {
    cause:
      'We could not find out where to deliver mail for this domain: its DNS servers did not answer or answered with an error.',
    advice:
      "This is usually fixed on the recipient's side within hours. If it persists, tell the recipient that their domain's DNS is broken.",
  },
  connection_refused_or_timeout: {
    cause:
      "We could not connect to the recipient's mail server: it refused the connection or did not answer. It may be down, overloaded, or behind a firewall.",
    advice: 'This is on the receiving side. Try again later, or tell the recipient another way.',
  },
  no_greeting: {
    cause: "We connected to the recipient's mail server, but it never greeted us: it is not responding.",
    advice: 'This is on the receiving side. Try again later, or tell the recipient another way.',
  },
  busy_try_later: {
    cause: "The recipient's mail server said it is busy or temporarily unable to take mail.",
    advice: 'This is on the receiving side and usually passes. Try again later.',
  },
  greylisted: {
    cause:
      "The recipient's mail server asked us to come back later (greylisting, a common anti-spam measure).",
    advice: 'Nothing: this normally resolves itself on the next try.',
  },
  rate_limited: {
    cause: "The recipient's mail server limits how much mail it takes from us, and we were over that limit.",
    advice: 'Try again later. If it keeps happening, forward this report to your mail administrator.',
  },
  message_too_large: {
    cause: "The message is larger than the recipient's mail server accepts.",
    advice: 'Send a smaller message: share large files as a link instead of an attachment.',
  },
  policy_ip_or_ptr: {
    cause:
      "The recipient's mail server refused our sending server because of its network address or that address's reverse DNS (PTR) name. This is about our server, not about you or your message.",
    advice: `Sending again will not help. ${ASK_ADMIN} The fix is on our side (the reverse DNS of our sending address) or the receiver must allow our server.`,
  },
  blocklisted: {
    cause: "The recipient's mail server refused our sending server because its address is on a block list.",
    advice: `Sending again will not help until our server is removed from the list. ${ASK_ADMIN}`,
  },
  tls_required: {
    cause: "The recipient's mail server requires an encrypted connection that could not be established.",
    advice: ASK_ADMIN,
  },
  content_rejected: {
    cause:
      "The recipient's mail server refused the content of the message: it looked like spam or carried something the server does not accept.",
    advice: 'Check the message and its attachments, or ask the recipient to allow mail from you.',
  },
  auth_or_relay_denied: {
    cause: "The recipient's mail server does not accept mail for this address from our server.",
    advice: 'Check the address. If it is right, ask the recipient why their server refuses it.',
  },
  mail_loop: {
    cause: 'The message went around between mail servers too many times (a mail loop), so it was stopped.',
    advice: `A forwarding rule is probably sending mail in a circle. ${ASK_ADMIN}`,
  },
  unknown: {
    cause: "The recipient's mail server refused the message; its reply (below) gives the reason.",
    advice: `If the reply does not make the problem clear, ${ASK_ADMIN.toLowerCase()}`,
  },
};

/** The explanation of a category id; unknown ids get the generic one. */
export function explainCategory(category: string): CategoryExplanation {
  return (
    (CATEGORY_EXPLANATIONS as Record<string, CategoryExplanation>)[category] ?? CATEGORY_EXPLANATIONS.unknown
  );
}
