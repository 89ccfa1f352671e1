import type { SmtpReply } from '../smtp-reply.ts';
import type { FailureCategory } from './categories.ts';
import type { DeliveryEvent } from './delivery-event.ts';

/**
 * What to do after an event:
 * - `deliver`: the recipient is done (2xx at the end of data);
 * - `next-address`: this server could not take part; try the next address/MX in this attempt;
 * - `defer`: retry later (a definite temporary answer);
 * - `bounce`: permanent for the recipients the event covers.
 */
export type NextStep = 'deliver' | 'next-address' | 'defer' | 'bounce';

export interface Classification {
  verdict: 'delivered' | 'deferred' | 'bounced';
  /** RFC 3463 enhanced status: from the reply, else derived from the code or the event. */
  status: string;
  category: FailureCategory | 'delivered';
  next: NextStep;
  /** Set when the receiver may have the message already (RFC 1047: no reply after the dot). */
  possibleDuplicate?: boolean;
}

/** Text patterns by category, checked in order; the first match names the cause. */
const TEXT_CATEGORIES: ReadonlyArray<readonly [FailureCategory, RegExp]> = [
  ['greylisted', /gr[ea]y ?-?list|greylisted|try again in \d+ (?:sec|min)/i],
  // Before rate limits: Gmail rate-limits unauthenticated mail, and the fix is authentication.
  [
    'sender_authentication',
    /\bunauthenticated (?:e-?mail|mail|message)|this mail is unauthenticated|\bdmarc\b|\bspf\b|\bdkim\b|required authentication level|anti-?spoofing/i,
  ],
  [
    'rate_limited',
    /rate ?limit|too many (?:messages|mails|connections|recipients from)|throttl|exceeded .{0,80}(?:rate|quota of messages)|4\.7\.28|sending (?:rate|limit)|unexpected volume|unusual rate|at a rate that prevents|user complaints|concurrent (?:server )?connections/i,
  ],
  [
    'blocklisted',
    /block ?list|black ?list|spamhaus|spamcop|barracuda|\bdnsbl\b|\brbl\b|listed (?:on|at|in|by)|sorbs|reputation|uceprotect|proofpoint|banned sending ip/i,
  ],
  [
    'policy_ip_or_ptr',
    /reverse (?:dns|lookup|hostname)|the ip you're using|not authorized to send email directly|\bptr\b|\brdns\b|dynamic|dial-?up|residential|\bppp\b|\badsl\b|client host .{0,120}rejected|cannot find your hostname|hostname .{0,120}(?:not|does not) match|helo command rejected|fully[- ]qualified hostname/i,
  ],
  ['tls_required', /starttls|tls (?:is )?required|encryption required|must use tls|5\.7\.10/i],
  [
    'mailbox_full',
    /mailbox (?:is )?full|over ?quota|quota exceeded|insufficient (?:storage|disk)|4\.2\.2|5\.2\.2/i,
  ],
  [
    'message_too_large',
    /too (?:big|large)|size (?:exceeds|limit)|exceeds .{0,80}(?:size|maximum)|5\.3\.4|5\.2\.3/i,
  ],
  [
    'no_such_user',
    /user unknown|unknown user|no such (?:user|mailbox|recipient)|does not exist|doesn't exist|mailbox (?:unavailable|not found)|recipient (?:rejected|unknown|not found)|invalid (?:recipient|mailbox)|address rejected|5\.1\.1\b|(?:account|mailbox)(?: that you tried to reach)? is disabled|doesn't have an? [\w.-]+ account|unrouteable address|no mailbox here/i,
  ],
  [
    'auth_or_relay_denied',
    /relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited)|not permitted to relay|authentication required|relay not allowed|permissions? to send as|send ?as ?denied/i,
  ],
  [
    'content_rejected',
    /spam|virus|malware|content|message (?:rejected|refused)|policy violation|phish|not accepted for policy reasons|unsolicited/i,
  ],
  [
    'busy_try_later',
    /busy|try (?:again )?later|temporar|service (?:not )?available|too many connections|overload|insufficient system storage|too many recipients/i,
  ],
];

/** Categories implied by an enhanced status when the text says nothing useful. */
const STATUS_CATEGORIES: ReadonlyArray<readonly [RegExp, FailureCategory]> = [
  [/^[45]\.1\.[16]$/, 'no_such_user'],
  [/^[45]\.1\.2$/, 'domain_not_found'],
  [/^[45]\.2\.2$/, 'mailbox_full'],
  [/^[45]\.3\.4$|^[45]\.2\.3$/, 'message_too_large'],
  [/^[45]\.7\.1$/, 'auth_or_relay_denied'],
  [/^[45]\.7\.(?:10|11)$/, 'tls_required'],
  [/^[45]\.7\.(?:2[0-46])$/, 'sender_authentication'],
  [/^[45]\.7\.(?:25|27)$/, 'policy_ip_or_ptr'],
  [/^[45]\.7\.28$/, 'rate_limited'],
  [/^[45]\.7\.0$/, 'auth_or_relay_denied'],
  [/^[45]\.4\.6$/, 'mail_loop'],
];

/**
 * 5xx replies that careful MTAs still treat as temporary: the text asks to come back later, so a
 * bounce would tell the sender a lie (Postfix, Exim and KumoMTA make the same exception).
 */
const PERMANENT_BUT_RETRY =
  /try (?:again )?later|temporar|rate ?limit|too many (?:messages|connections)|throttl|greylist/i;

/**
 * What the patterns read of a reply: its first 2 KB. The cause is stated up front; a longer text is
 * noise, or a hostile receiver making the patterns backtrack (the worker would stall on it).
 */
const CLASSIFIED_TEXT = 2_048;

export function categorizeReply(reply: SmtpReply): FailureCategory {
  const text = reply.text.slice(0, CLASSIFIED_TEXT);
  for (const [category, pattern] of TEXT_CATEGORIES) if (pattern.test(text)) return category;
  const status = enhancedStatusOf(reply);
  for (const [pattern, category] of STATUS_CATEGORIES) if (pattern.test(status)) return category;
  if (reply.code === 421) return 'busy_try_later';
  return 'unknown';
}

/**
 * The reply's own RFC 3463 code, or the class-level one its basic code implies (RFC 3463 §3.1).
 * The class is the basic code's: a "450 5.1.1" is a transient failure whatever its enhanced code
 * says (RFC 3463 §2: the class "must" agree with the reply), so records and DSNs never call a
 * deferred recipient permanently failed.
 */
export function enhancedStatusOf(reply: SmtpReply): string {
  const replyClass = String(reply.code)[0];
  if (reply.enhanced) return `${replyClass}${reply.enhanced.slice(1)}`;
  return `${replyClass}.0.0`;
}

/**
 * The ordered rule table. Each rule is a named predicate and a result; the first match wins and the
 * last rule is the catch-all. Tests hold one case per rule.
 */
interface Rule {
  id: string;
  matches(event: DeliveryEvent): boolean;
  classify(event: DeliveryEvent): Classification;
}

const deferred = (status: string, category: FailureCategory, next: NextStep = 'defer'): Classification => ({
  verdict: 'deferred',
  status,
  category,
  next,
});
const bounced = (status: string, category: FailureCategory): Classification => ({
  verdict: 'bounced',
  status,
  category,
  next: 'bounce',
});
const replyOf = (event: DeliveryEvent): SmtpReply => (event as { reply: SmtpReply }).reply;
const isReply = (event: DeliveryEvent, test: (reply: SmtpReply, stage: string) => boolean) =>
  event.kind === 'reply' && test(event.reply, event.stage);

export const CLASSIFICATION_RULES: readonly Rule[] = [
  {
    id: 'accepted-at-end-of-data',
    matches: (event) => isReply(event, (reply, stage) => stage === 'end-of-data' && reply.code < 300),
    classify: (event) => ({
      verdict: 'delivered',
      status: enhancedStatusOf(replyOf(event)),
      category: 'delivered',
      next: 'deliver',
    }),
  },
  {
    id: 'dns-null-mx',
    matches: (event) => event.kind === 'dns' && event.failure === 'null-mx',
    // RFC 7505 §3: the domain accepts no mail; 5.1.10 per RFC 7505 §4.
    classify: () => bounced('5.1.10', 'null_mx'),
  },
  {
    id: 'dns-domain-not-found',
    matches: (event) =>
      event.kind === 'dns' && (event.failure === 'nxdomain' || event.failure === 'no-address'),
    classify: () => bounced('5.1.2', 'domain_not_found'),
  },
  {
    id: 'dns-private-address',
    matches: (event) => event.kind === 'dns' && event.failure === 'private-address',
    classify: () => bounced('5.4.4', 'domain_not_found'),
  },
  {
    id: 'dns-temporary',
    matches: (event) => event.kind === 'dns' && event.failure === 'temporary',
    classify: () => deferred('4.4.3', 'dns_temporary'),
  },
  {
    id: 'mail-loop',
    matches: (event) => event.kind === 'loop',
    classify: () => bounced('5.4.6', 'mail_loop'),
  },
  {
    id: 'suppressed',
    // The earlier permanent failure stands: same status and category, no new attempt.
    matches: (event) => event.kind === 'suppressed',
    classify: (event) => {
      const { status, category } = event as Extract<DeliveryEvent, { kind: 'suppressed' }>;
      return bounced(status, category);
    },
  },
  {
    id: 'queue-lifetime-expired',
    matches: (event) => event.kind === 'expired',
    classify: () => bounced('4.4.7', 'unknown'),
  },
  {
    id: 'mta-sts-enforced',
    // RFC 8461 §5: another listed host may do; otherwise "treat such failures as transient errors
    // and retry delivery later" (each retry looks the policy up again, so a fixed policy applies).
    matches: (event) => event.kind === 'mta-sts',
    classify: (event) => {
      const { failure } = event as Extract<DeliveryEvent, { kind: 'mta-sts' }>;
      // X.7.4 security features not supported; X.7.5 cryptographic failure; X.4.4 no usable route.
      const status = failure === 'no-starttls' ? '4.7.4' : failure === 'mx-not-listed' ? '4.4.4' : '4.7.5';
      return deferred(status, 'mta_sts_tls_required', 'next-address');
    },
  },
  {
    id: 'no-reply-after-dot',
    // The receiver may already have the message: retry (delay over loss), count the possible duplicate.
    matches: (event) => event.kind === 'network' && event.failure === 'no-reply-after-dot',
    classify: () => ({ ...deferred('4.4.2', 'connection_refused_or_timeout'), possibleDuplicate: true }),
  },
  {
    id: 'no-greeting',
    matches: (event) =>
      event.kind === 'network' &&
      (event.failure === 'no-greeting' || event.failure === 'closed-before-banner'),
    classify: () => deferred('4.4.2', 'no_greeting', 'next-address'),
  },
  {
    id: 'tls-handshake-failed',
    matches: (event) => event.kind === 'network' && event.failure === 'tls-failed',
    classify: () => deferred('4.7.5', 'tls_required', 'next-address'),
  },
  {
    id: 'network-failure',
    // RFC 5321 §5.1: on a connection failure the client tries the next address/MX.
    matches: (event) => event.kind === 'network',
    classify: () => deferred('4.4.1', 'connection_refused_or_timeout', 'next-address'),
  },
  {
    id: 'service-closing-421',
    // RFC 5321 §3.8: 421 at any point means the server is shutting the channel; another may serve.
    matches: (event) => isReply(event, (reply) => reply.code === 421),
    classify: (event) =>
      deferred(enhancedStatusOf(replyOf(event)), categorizeReply(replyOf(event)), 'next-address'),
  },
  {
    id: 'permanent-greeting-or-ehlo',
    // A 5xx banner (RFC 5321 §3.1 "554 no SMTP service here") rejects the connection, not the mail:
    // the recipient is deferred, so its status is of the transient class (RFC 3463 §3.1), as in the
    // other rules that retry a 5xx.
    matches: (event) =>
      isReply(event, (reply, stage) => reply.code >= 500 && (stage === 'greeting' || stage === 'ehlo')),
    classify: (event) =>
      deferred(
        `4.${enhancedStatusOf(replyOf(event)).slice(2)}`,
        categorizeReply(replyOf(event)),
        'next-address',
      ),
  },
  {
    id: 'too-many-recipients-552-at-rcpt',
    // RFC 5321 §4.5.3.1.10: "too many recipients" is 452, but old servers say 552; both mean later.
    matches: (event) =>
      isReply(
        event,
        (reply, stage) =>
          reply.code === 552 &&
          stage === 'rcpt' &&
          (reply.enhanced === '5.5.3' || /too many recipients/i.test(reply.text)),
      ),
    classify: (event) => deferred(`4.${enhancedStatusOf(replyOf(event)).slice(2)}`, 'busy_try_later'),
  },
  {
    id: 'permanent-saying-try-later',
    matches: (event) =>
      isReply(
        event,
        (reply) => reply.code >= 500 && PERMANENT_BUT_RETRY.test(reply.text.slice(0, CLASSIFIED_TEXT)),
      ),
    classify: (event) =>
      deferred(`4.${enhancedStatusOf(replyOf(event)).slice(2)}`, categorizeReply(replyOf(event))),
  },
  {
    id: 'transient-reply',
    matches: (event) => isReply(event, (reply) => reply.code >= 400 && reply.code < 500),
    classify: (event) => deferred(enhancedStatusOf(replyOf(event)), categorizeReply(replyOf(event))),
  },
  {
    id: 'permanent-reply',
    matches: (event) => isReply(event, (reply) => reply.code >= 500),
    classify: (event) => bounced(enhancedStatusOf(replyOf(event)), categorizeReply(replyOf(event))),
  },
  {
    id: 'catch-all',
    // Anything else (a 2xx/3xx where a refusal was expected, an unknown event) is retried, never lost.
    matches: () => true,
    classify: () => deferred('4.0.0', 'unknown'),
  },
];

export function classify(event: DeliveryEvent): Classification & { rule: string } {
  for (const rule of CLASSIFICATION_RULES) {
    if (rule.matches(event)) return { ...rule.classify(event), rule: rule.id };
  }
  throw new Error('unreachable: the catch-all rule matches everything');
}
