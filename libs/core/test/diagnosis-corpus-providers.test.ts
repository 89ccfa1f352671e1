import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainReply } from '../src/index.ts';

/**
 * More reply lines as receivers send them, by provider: texts from their published postmaster and
 * error-code pages and from common bounce logs (addresses, IPs and ids replaced by documentation
 * values). Each row: [source, stage, reply line, verdict a careful MTA gives, category].
 * The first table (diagnosis-corpus.test.ts) holds the FAQ's own cases. A 5xx greeting rejects
 * the connection, not the mail (RFC 5321 §3.1): the next MX is tried and the message deferred, so
 * those rows are `temporary` whatever the code.
 */
type Row = [string, 'rcpt' | 'mail' | 'end-of-data' | 'greeting', string, 'temporary' | 'permanent', string];

const GMAIL: Row[] = [
  [
    'Gmail, try again later (EHLO)',
    'greeting',
    '421-4.7.0 Try again later, closing connection. (EHLO)',
    'temporary',
    'busy_try_later',
  ],
  [
    'Gmail, per-user receiving rate',
    'rcpt',
    '450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.',
    'temporary',
    'rate_limited',
  ],
  [
    'Gmail, account disabled',
    'rcpt',
    '550-5.2.1 The email account that you tried to reach is disabled.',
    'permanent',
    'no_such_user',
  ],
  [
    'Gmail, over quota (permanent form)',
    'rcpt',
    '552-5.2.2 The email account that you tried to reach is over quota and inactive.',
    'permanent',
    'mailbox_full',
  ],
  [
    'Gmail, size limit',
    'end-of-data',
    "552-5.3.4 Your message exceeded Google's message size limits.",
    'permanent',
    'message_too_large',
  ],
  [
    'Gmail, likely unsolicited',
    'end-of-data',
    '550-5.7.1 [192.0.2.1] Our system has detected that this message is likely unsolicited mail.',
    'permanent',
    'content_rejected',
  ],
  [
    'Gmail, suspicious content',
    'end-of-data',
    '552-5.7.0 This message was blocked because its content presents a potential security issue.',
    'permanent',
    'content_rejected',
  ],
  [
    'Gmail, unauthenticated (bulk sender rules)',
    'end-of-data',
    '550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, and has been blocked.',
    'permanent',
    'sender_authentication',
  ],
  [
    'Gmail, DMARC policy',
    'end-of-data',
    "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy.",
    'permanent',
    'sender_authentication',
  ],
  [
    'Gmail, SPF/DKIM required (temporary form)',
    'end-of-data',
    '421-4.7.27 This mail has been rate limited because it is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.',
    'temporary',
    'sender_authentication',
  ],
  [
    'Gmail, temporary server error',
    'end-of-data',
    '451-4.3.0 Mail server temporarily rejected message.',
    'temporary',
    'busy_try_later',
  ],
  [
    'Gmail, unusual rate (IP)',
    'mail',
    '421-4.7.0 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating from your IP address.',
    'temporary',
    'rate_limited',
  ],
];

const MICROSOFT: Row[] = [
  [
    'Microsoft 365, recipient not found',
    'rcpt',
    '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
    'permanent',
    'no_such_user',
  ],
  [
    'Outlook.com, banned sending IP',
    'mail',
    '550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/',
    'permanent',
    'blocklisted',
  ],
  [
    'Microsoft 365, IP on a block list',
    'mail',
    '550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1',
    'permanent',
    'blocklisted',
  ],
  [
    'Outlook.com, server busy',
    'mail',
    '451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714)',
    'temporary',
    'busy_try_later',
  ],
  [
    'Microsoft 365, too many connections',
    'greeting',
    '421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel',
    'temporary',
    'rate_limited',
  ],
  ['Microsoft 365, mailbox full', 'rcpt', '552 5.2.2 mailbox full', 'permanent', 'mailbox_full'],
  [
    'Microsoft 365, message too large',
    'end-of-data',
    '552 5.3.4 Message size exceeds fixed maximum message size',
    'permanent',
    'message_too_large',
  ],
  [
    'Microsoft 365, send-as denied',
    'mail',
    '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
    'permanent',
    'auth_or_relay_denied',
  ],
  [
    'Microsoft 365, restricted recipient',
    'rcpt',
    '550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required; Delivery restriction check failed because the sender was not authenticated when sending to this group',
    'permanent',
    'auth_or_relay_denied',
  ],
  [
    'Outlook.com, DMARC reject',
    'end-of-data',
    '550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.',
    'permanent',
    'sender_authentication',
  ],
  [
    'Outlook.com, high-volume unauthenticated (bulk sender rules)',
    'end-of-data',
    "550 5.7.515 Access denied, sending domain example.com doesn't meet the required authentication level.",
    'permanent',
    'sender_authentication',
  ],
  [
    'Microsoft 365, reverse DNS required',
    'mail',
    '550 5.7.25 Access denied, the sending IPv6 address [2001:db8::1] must have a reverse DNS record',
    'permanent',
    'policy_ip_or_ptr',
  ],
];

const YAHOO_AOL: Row[] = [
  [
    'Yahoo, IP on Spamhaus',
    'greeting',
    "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
    'temporary',
    'blocklisted',
  ],
  [
    'Yahoo, no such account',
    'rcpt',
    "554 delivery error: dd This user doesn't have a yahoo.com account (bob@yahoo.example) [0] - mta1001.mail.bf1.yahoo.example",
    'permanent',
    'no_such_user',
  ],
  [
    'Yahoo, mailbox disabled',
    'rcpt',
    '554 delivery error: dd Sorry your message to bob@yahoo.example cannot be delivered. This mailbox is disabled (554.30).',
    'permanent',
    'no_such_user',
  ],
  [
    'Yahoo, deferred (TS01)',
    'mail',
    '421 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred due to user complaints - 4.16.55.1',
    'temporary',
    'rate_limited',
  ],
  [
    'Yahoo, temporarily deferred',
    'end-of-data',
    '451 Message temporarily deferred - [160]',
    'temporary',
    'busy_try_later',
  ],
  [
    'Yahoo, DMARC',
    'end-of-data',
    '554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes',
    'permanent',
    'content_rejected',
  ],
  [
    'AOL, mailbox full',
    'rcpt',
    '552 1 Requested mail action aborted, mailbox full',
    'permanent',
    'mailbox_full',
  ],
];

const APPLE: Row[] = [
  [
    'iCloud, local policy',
    'end-of-data',
    '554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137',
    'permanent',
    'content_rejected',
  ],
  [
    'iCloud, reputation',
    'mail',
    '550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1',
    'permanent',
    'blocklisted',
  ],
  [
    'iCloud, mailbox full',
    'rcpt',
    '452 4.2.2 <bob@icloud.example>: user over quota',
    'temporary',
    'mailbox_full',
  ],
];

const BLOCKLISTS: Row[] = [
  [
    'Barracuda via Postfix',
    'rcpt',
    '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using b.barracudacentral.org; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1',
    'permanent',
    'blocklisted',
  ],
  [
    'SpamCop via Postfix',
    'rcpt',
    '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.1',
    'permanent',
    'blocklisted',
  ],
  [
    'UCEPROTECT',
    'mail',
    '550 5.7.1 Rejected because 192.0.2.1 is listed at dnsbl-1.uceprotect.net',
    'permanent',
    'blocklisted',
  ],
  [
    'Proofpoint',
    'greeting',
    '554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1',
    'temporary',
    'blocklisted',
  ],
  [
    'Mimecast, anti-spoofing',
    'rcpt',
    '550 Rejected by header based Anti-Spoofing policy: bob@example.org - https://community.mimecast.com/docs/DOC-1369#550',
    'permanent',
    'sender_authentication',
  ],
];

const GREYLISTING: Row[] = [
  [
    'Exim greylisting',
    'rcpt',
    '451 4.7.1 Greylisting in action, please come back later',
    'temporary',
    'greylisted',
  ],
  ['rspamd greylisting', 'end-of-data', '451 4.7.1 Try again later', 'temporary', 'busy_try_later'],
  [
    'Postfix policyd-weight',
    'rcpt',
    '450 4.7.1 <bob@example.org>: Recipient address rejected: Greylisted for 5 minutes',
    'temporary',
    'greylisted',
  ],
  [
    'Mimecast, greylisting',
    'rcpt',
    '451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451',
    'temporary',
    'busy_try_later',
  ],
  [
    'Generic, come back in n seconds',
    'rcpt',
    '450 4.2.0 Try again in 300 seconds',
    'temporary',
    'greylisted',
  ],
];

const JAPANESE_CARRIERS: Row[] = [
  [
    'au (KDDI), unknown user',
    'rcpt',
    '550 5.1.1 <taro@au.example>: User unknown',
    'permanent',
    'no_such_user',
  ],
  [
    'SoftBank, unknown user',
    'rcpt',
    '550 5.1.1 <taro@softbank.example>... User Unknown',
    'permanent',
    'no_such_user',
  ],
  [
    'docomo, unknown user (no enhanced code)',
    'rcpt',
    '550 Unknown user taro@docomo.example',
    'permanent',
    'no_such_user',
  ],
  [
    'Japanese carrier, receiving filter',
    'rcpt',
    '550 5.7.1 <taro@docomo.example>... Message rejected by recipient filter',
    'permanent',
    'content_rejected',
  ],
];

const RECEIVERS_AT_LARGE: Row[] = [
  ['Postfix, mailbox full', 'end-of-data', '452 4.2.2 Mailbox full', 'temporary', 'mailbox_full'],
  [
    'Postfix, insufficient storage',
    'mail',
    '452 4.3.1 Insufficient system storage',
    'temporary',
    'busy_try_later',
  ],
  [
    'Postfix, helo rejected',
    'rcpt',
    '504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname',
    'permanent',
    'policy_ip_or_ptr',
  ],
  [
    'Postfix, SPF fail',
    'rcpt',
    '550 5.7.23 <bob@example.org>: Recipient address rejected: Message rejected due to: SPF fail - not authorized.',
    'permanent',
    'sender_authentication',
  ],
  ['Exim, unrouteable address', 'rcpt', '550 Unrouteable address', 'permanent', 'no_such_user'],
  [
    'Exim, temporary local problem',
    'end-of-data',
    '451 Temporary local problem - please try later',
    'temporary',
    'busy_try_later',
  ],
  [
    'Sendmail, no such user',
    'rcpt',
    '550 5.1.1 <bob@example.org>... User unknown',
    'permanent',
    'no_such_user',
  ],
  [
    'Sendmail, relaying denied',
    'rcpt',
    '550 5.7.1 <bob@example.org>... Relaying denied. Proper authentication required.',
    'permanent',
    'auth_or_relay_denied',
  ],
  [
    'qmail, no mailbox',
    'rcpt',
    '511 sorry, no mailbox here by that name (#5.1.1 - chkuser)',
    'permanent',
    'no_such_user',
  ],
  [
    'Exchange on-premises, connection limit',
    'greeting',
    '421 4.3.2 Service not available, closing transmission channel',
    'temporary',
    'busy_try_later',
  ],
  ['Any server, too many recipients', 'rcpt', '452 4.5.3 Too many recipients', 'temporary', 'busy_try_later'],
  [
    'Any server, 554 at greeting',
    'greeting',
    '554 5.7.1 mx.example.org ESMTP not accepting messages',
    'temporary',
    'auth_or_relay_denied',
  ],
];

const TABLES = {
  GMAIL,
  MICROSOFT,
  YAHOO_AOL,
  APPLE,
  BLOCKLISTS,
  GREYLISTING,
  JAPANESE_CARRIERS,
  RECEIVERS_AT_LARGE,
};

for (const [table, rows] of Object.entries(TABLES)) {
  for (const [source, stage, line, verdict, category] of rows) {
    test(`${table}: ${source}: ${verdict}, ${category}`, () => {
      const diagnosis = explainReply(line, stage);
      assert.ok(diagnosis, line);
      assert.equal(diagnosis.verdict, verdict, `${line} -> rule ${diagnosis.rule}`);
      assert.equal(diagnosis.category, category, `${line} -> rule ${diagnosis.rule}`);
      assert.ok(diagnosis.explanation.length > 20);
    });
  }
}
