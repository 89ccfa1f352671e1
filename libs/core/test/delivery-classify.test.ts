import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLASSIFICATION_RULES, classify, type DeliveryEvent, parseSmtpReply } from '../src/index.ts';

const reply = (stage: Extract<DeliveryEvent, { kind: 'reply' }>['stage'], line: string): DeliveryEvent => ({
  kind: 'reply',
  stage,
  reply: parseSmtpReply(line)!,
});

/** One case per rule, in table order: [rule id, event, verdict, status, category, next]. */
const CASES: Array<[string, DeliveryEvent, string, string, string, string]> = [
  [
    'accepted-at-end-of-data',
    reply('end-of-data', '250 2.0.0 Ok: queued as X'),
    'delivered',
    '2.0.0',
    'delivered',
    'deliver',
  ],
  ['dns-null-mx', { kind: 'dns', failure: 'null-mx' }, 'bounced', '5.1.10', 'null_mx', 'bounce'],
  [
    'dns-domain-not-found',
    { kind: 'dns', failure: 'nxdomain' },
    'bounced',
    '5.1.2',
    'domain_not_found',
    'bounce',
  ],
  [
    'dns-private-address',
    { kind: 'dns', failure: 'private-address' },
    'bounced',
    '5.4.4',
    'domain_not_found',
    'bounce',
  ],
  ['dns-temporary', { kind: 'dns', failure: 'temporary' }, 'deferred', '4.4.3', 'dns_temporary', 'defer'],
  ['mail-loop', { kind: 'loop', detail: 'MX is ourselves' }, 'bounced', '5.4.6', 'mail_loop', 'bounce'],
  [
    'suppressed',
    { kind: 'suppressed', status: '5.1.1', category: 'no_such_user', detail: 'suppressed' },
    'bounced',
    '5.1.1',
    'no_such_user',
    'bounce',
  ],
  ['queue-lifetime-expired', { kind: 'expired' }, 'bounced', '4.4.7', 'unknown', 'bounce'],
  [
    'mta-sts-enforced',
    { kind: 'mta-sts', failure: 'certificate', detail: 'certificate of mx.example.com does not verify' },
    'deferred',
    '4.7.5',
    'mta_sts_tls_required',
    'next-address',
  ],
  [
    'no-reply-after-dot',
    { kind: 'network', stage: 'end-of-data', failure: 'no-reply-after-dot' },
    'deferred',
    '4.4.2',
    'connection_refused_or_timeout',
    'defer',
  ],
  [
    'no-greeting',
    { kind: 'network', stage: 'greeting', failure: 'no-greeting' },
    'deferred',
    '4.4.2',
    'no_greeting',
    'next-address',
  ],
  [
    'tls-handshake-failed',
    { kind: 'network', stage: 'starttls', failure: 'tls-failed' },
    'deferred',
    '4.7.5',
    'tls_required',
    'next-address',
  ],
  [
    'network-failure',
    { kind: 'network', stage: 'connect', failure: 'refused' },
    'deferred',
    '4.4.1',
    'connection_refused_or_timeout',
    'next-address',
  ],
  [
    'service-closing-421',
    reply('mail', '421 4.3.2 Service shutting down'),
    'deferred',
    '4.3.2',
    'busy_try_later',
    'next-address',
  ],
  [
    'permanent-greeting-or-ehlo',
    reply('greeting', '554 5.7.1 No SMTP service here'),
    'deferred',
    '4.7.1',
    'auth_or_relay_denied',
    'next-address',
  ],
  [
    'too-many-recipients-552-at-rcpt',
    reply('rcpt', '552 5.5.3 Too many recipients'),
    'deferred',
    '4.5.3',
    'busy_try_later',
    'defer',
  ],
  [
    'permanent-saying-try-later',
    reply('mail', '550 5.7.1 Rate limit exceeded, try again later'),
    'deferred',
    '4.7.1',
    'rate_limited',
    'defer',
  ],
  [
    'transient-reply',
    reply('mail', '450 4.5.0 Mail system is Busy'),
    'deferred',
    '4.5.0',
    'busy_try_later',
    'defer',
  ],
  [
    'permanent-reply',
    reply('rcpt', '553 5.3.2 <x@example>... No such user here'),
    'bounced',
    '5.3.2',
    'no_such_user',
    'bounce',
  ],
  ['catch-all', reply('mail', '354 go ahead'), 'deferred', '4.0.0', 'unknown', 'defer'],
];

test('the rule table has a case here for every rule, in order', () => {
  assert.deepEqual(
    CASES.map(([id]) => id),
    CLASSIFICATION_RULES.map((rule) => rule.id),
  );
});

for (const [id, event, verdict, status, category, next] of CASES) {
  test(`rule ${id}`, () => {
    const result = classify(event);
    assert.equal(result.rule, id);
    assert.deepEqual(
      { verdict: result.verdict, status: result.status, category: result.category, next: result.next },
      { verdict, status, category, next },
    );
  });
}

test('no reply after the dot is flagged as a possible duplicate', () => {
  assert.equal(
    classify({ kind: 'network', stage: 'end-of-data', failure: 'no-reply-after-dot' }).possibleDuplicate,
    true,
  );
});

/** Reply lines as the FAQ and common receivers word them -> category. */
const CATEGORY_CASES: Array<[string, string]> = [
  [
    '550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in local recipient table',
    'no_such_user',
  ],
  ['552 5.2.2 Mailbox full', 'mailbox_full'],
  ['452 4.2.2 The email account that you tried to reach is over quota', 'mailbox_full'],
  ['552 5.3.4 Message size exceeds fixed maximum message size', 'message_too_large'],
  ['450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted, see http://postgrey', 'greylisted'],
  ['421 4.7.28 Our system has detected an unusual rate of unsolicited mail', 'rate_limited'],
  ['550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', 'blocklisted'],
  ['550 5.7.25 The IP address sending this message does not have a PTR record setup', 'policy_ip_or_ptr'],
  ['554 5.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]', 'policy_ip_or_ptr'],
  ['450 4.7.1 Client host rejected: dynamic IP (ppp-1-2.adsl.example.net)', 'policy_ip_or_ptr'],
  ['530 5.7.0 Must issue a STARTTLS command first', 'tls_required'],
  ['554 5.7.1 Message rejected as spam by Content Filtering', 'content_rejected'],
  ['554 5.7.1 <bob@example.org>: Relay access denied', 'auth_or_relay_denied'],
  ['450 4.5.0 Mail system is Busy', 'busy_try_later'],
  ['599 something odd', 'unknown'],
];

for (const [line, category] of CATEGORY_CASES) {
  test(`category of "${line}"`, () => {
    assert.equal(classify(reply('rcpt', line)).category, category);
  });
}

test('a 5xx reply without an enhanced code gets the class-level one (RFC 3463 §3.1)', () => {
  assert.equal(classify(reply('rcpt', '550 go away')).status, '5.0.0');
  assert.equal(classify(reply('rcpt', '451 later')).status, '4.0.0');
});
