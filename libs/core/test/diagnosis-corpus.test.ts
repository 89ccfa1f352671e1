import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainReply } from '../src/index.ts';

/**
 * Reply lines as major receivers send them (texts from their public postmaster pages and common
 * bounce logs; addresses and IPs replaced), with the verdict and category a careful MTA gives.
 * [source, stage, reply line, verdict, category]
 */
const CORPUS: Array<[string, 'rcpt' | 'mail' | 'end-of-data' | 'greeting', string, string, string]> = [
  [
    'Gmail, unknown user',
    'rcpt',
    "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address",
    'permanent',
    'no_such_user',
  ],
  [
    'Gmail, over quota',
    'rcpt',
    '452-4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to',
    'temporary',
    'mailbox_full',
  ],
  [
    'Gmail, rate limited',
    'end-of-data',
    '421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address.',
    'temporary',
    'rate_limited',
  ],
  [
    'Gmail, direct-to-MX from a dynamic IP',
    'mail',
    "550-5.7.1 The IP you're using to send mail is not authorized to send email directly to our servers.",
    'permanent',
    'policy_ip_or_ptr',
  ],
  [
    'Gmail, PTR',
    'end-of-data',
    '550-5.7.25 The IP address sending this message does not have a PTR record setup',
    'permanent',
    'policy_ip_or_ptr',
  ],
  [
    'Microsoft 365, directory-based edge blocking',
    'rcpt',
    '550 5.4.1 Recipient address rejected: Access denied. AS(201806281)',
    'permanent',
    'no_such_user',
  ],
  [
    'Outlook.com, block list',
    'mail',
    "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
    'permanent',
    'blocklisted',
  ],
  [
    'Outlook.com, throttling',
    'rcpt',
    '451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.',
    'temporary',
    'rate_limited',
  ],
  [
    'Yahoo, deferred for volume',
    'mail',
    '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints',
    'temporary',
    'rate_limited',
  ],
  [
    'Yahoo, policy',
    'end-of-data',
    '554 5.7.9 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes',
    'permanent',
    'content_rejected',
  ],
  [
    'Yahoo, mailbox not found',
    'rcpt',
    '552 1 Requested mail action aborted, mailbox not found',
    'permanent',
    'no_such_user',
  ],
  [
    'iCloud, unknown user',
    'rcpt',
    '550 5.1.1 <bob@icloud.example>: user does not exist',
    'permanent',
    'no_such_user',
  ],
  [
    'Spamhaus via Postfix',
    'rcpt',
    '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org',
    'permanent',
    'blocklisted',
  ],
  [
    'postgrey greylisting',
    'rcpt',
    '450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html',
    'temporary',
    'greylisted',
  ],
  [
    'Postfix, no reverse DNS',
    'rcpt',
    '450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]',
    'temporary',
    'policy_ip_or_ptr',
  ],
  [
    'Postfix, relay',
    'rcpt',
    '554 5.7.1 <bob@example.org>: Relay access denied',
    'permanent',
    'auth_or_relay_denied',
  ],
  [
    'Japanese carrier (docomo), unknown user',
    'rcpt',
    '550 5.1.1 <taro@docomo.example>... User unknown',
    'permanent',
    'no_such_user',
  ],
  ['Exchange on-premises, busy', 'rcpt', '452 4.3.1 Insufficient system resources', 'temporary', 'unknown'],
  ['The FAQ, busy server', 'mail', '450 4.5.0 Mail system is Busy', 'temporary', 'busy_try_later'],
  [
    'The FAQ, no such user',
    'rcpt',
    '553 5.3.2 <x@example>... No such user here',
    'permanent',
    'no_such_user',
  ],
  [
    'A server requiring TLS',
    'mail',
    '530 5.7.0 Must issue a STARTTLS command first',
    'permanent',
    'tls_required',
  ],
  [
    'Message too big',
    'mail',
    '552 5.3.4 Message size exceeds fixed maximum message size',
    'permanent',
    'message_too_large',
  ],
  ['Old server, too many recipients', 'rcpt', '552 5.5.3 Too many recipients', 'temporary', 'busy_try_later'],
];

for (const [source, stage, line, verdict, category] of CORPUS) {
  test(`${source}: ${verdict}, ${category}`, () => {
    const diagnosis = explainReply(line, stage);
    assert.ok(diagnosis, line);
    assert.equal(diagnosis.verdict, verdict, `${line} -> rule ${diagnosis.rule}`);
    assert.equal(diagnosis.category, category, `${line} -> rule ${diagnosis.rule}`);
    assert.ok(diagnosis.explanation.length > 20);
  });
}

test('a success and a line that is no reply', () => {
  assert.equal(explainReply('250 2.0.0 Ok: queued as ABC')?.verdict, 'success');
  assert.equal(explainReply('hello there'), undefined);
});
