import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { type ComposedDsn, composeDsn, type DsnRecipient, type DsnReport } from '../src/index.ts';

/**
 * Golden files of the DSN text: the whole of what a sender reads and what mail programs parse.
 * After an intended change, regenerate with UPDATE_GOLDEN=1 and review the diff.
 */
const ARRIVAL = Date.UTC(2026, 10, 27, 18, 38, 13);
const MINUTE = 60_000;

const base: DsnReport = {
  event: 'failed',
  reportingMta: 'outpost.example',
  messageId: '019ac6f0-8e2a-7c3d-9f10-5b2e8d4a1c07',
  arrivalTime: ARRIVAL,
  original: {
    messageId: '<quarterly-42@sender.example>',
    subject: 'Quarterly report',
    from: 'Alice <alice@sender.example>',
  },
  originalSender: 'alice@sender.example',
  smtpUtf8: false,
  recipients: [],
  audience: 'sender',
  returned: 'headers',
};

const noSuchUser: DsnRecipient = {
  address: 'bob@example.net',
  orcpt: 'rfc822;Bob@Example.NET',
  action: 'failed',
  status: 'bounced',
  enhancedStatus: '5.1.1',
  category: 'no_such_user',
  diagnostic:
    '550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual mailbox table',
  remoteHost: 'mx1.example.net',
  remoteAddress: '192.0.2.25',
  at: ARRIVAL + 2_000,
};

const { orcpt: _orcpt, ...withoutOrcpt } = noSuchUser;

const FIXTURES: Record<string, DsnReport> = {
  'failed-mixed': {
    ...base,
    envid: 'QQ314159',
    recipients: [
      noSuchUser,
      {
        address: 'carol@slow.example',
        action: 'failed',
        status: 'expired',
        enhancedStatus: '4.4.7',
        category: 'busy_try_later',
        diagnostic: '451 4.3.0 Mail system is busy, try again later',
        remoteHost: 'mx.slow.example',
        at: ARRIVAL + 5 * 1_440 * MINUTE,
      },
      {
        address: 'dave@gone.example',
        action: 'failed',
        status: 'bounced',
        enhancedStatus: '5.1.1',
        category: 'no_such_user',
        diagnostic: 'suppressed: an earlier message to this address bounced (550 5.1.1 No such user)',
        at: ARRIVAL,
        reason: 'suppressed',
      },
      {
        address: 'erin@nowhere.example',
        action: 'failed',
        status: 'bounced',
        enhancedStatus: '5.1.2',
        category: 'domain_not_found',
        diagnostic: 'nowhere.example: NXDOMAIN',
        at: ARRIVAL + 100,
      },
      {
        address: 'frank@strict.example',
        action: 'failed',
        status: 'bounced',
        enhancedStatus: '5.7.25',
        category: 'policy_ip_or_ptr',
        diagnostic: '550 5.7.25 Client host rejected: cannot find your hostname, [198.51.100.7]',
        remoteHost: 'mx.strict.example',
        remoteAddress: '203.0.113.9',
        at: ARRIVAL + 3_000,
      },
    ],
  },
  delayed: {
    ...base,
    event: 'delayed',
    recipients: [
      {
        address: 'carol@slow.example',
        action: 'delayed',
        status: 'deferred',
        enhancedStatus: '4.3.0',
        category: 'busy_try_later',
        diagnostic: '450 4.3.0 Mail system is busy',
        remoteHost: 'mx.slow.example',
        remoteAddress: '192.0.2.80',
        at: ARRIVAL + 240 * MINUTE,
        willRetryUntil: ARRIVAL + 5 * 1_440 * MINUTE,
      },
    ],
  },
  delivered: {
    ...base,
    event: 'delivered',
    envid: 'order-7',
    returned: 'message',
    recipients: [
      {
        address: 'bob@example.net',
        orcpt: 'rfc822;bob@example.net',
        action: 'delivered',
        status: 'delivered',
        enhancedStatus: '2.0.0',
        category: 'delivered',
        diagnostic: '250 2.0.0 Ok: queued as 4XyZ',
        remoteHost: 'mx1.example.net',
        remoteAddress: '192.0.2.25',
        at: ARRIVAL + 1_000,
      },
    ],
  },
  'postmaster-copy': {
    ...base,
    originalSender: '',
    original: {
      messageId: '<019ac6f0-0000-7000-8000-000000000001@outpost.example>',
      subject: 'Undelivered Mail Returned to Sender',
    },
    audience: 'postmaster',
    returned: 'headers-of-large-message',
    recipients: [{ ...withoutOrcpt, address: 'forged@sender.example' }],
  },
  'global-utf8': {
    ...base,
    smtpUtf8: true,
    originalSender: 'jörg@sender.example',
    envid: 'bestellung+20',
    recipients: [
      {
        ...noSuchUser,
        address: 'δοκιμή@example.net',
        orcpt: 'utf-8;δοκιμή@example.net',
        diagnostic: '550 5.1.1 Unbekannter Empfänger',
      },
    ],
  },
};

function render(composed: ComposedDsn): string {
  return [
    `Subject: ${composed.subject}`,
    `Status-Content-Type: ${composed.statusContentType}`,
    `Returned-Content-Type: ${composed.returnedContentType}`,
    '=== text/plain ===',
    composed.humanText,
    `=== ${composed.statusContentType} ===`,
    composed.deliveryStatus,
  ].join('\n');
}

for (const [name, report] of Object.entries(FIXTURES)) {
  test(`golden DSN: ${name}`, () => {
    const composed = composeDsn(report);
    for (const part of [composed.humanText, composed.deliveryStatus]) {
      assert.doesNotMatch(part, /[^\r]\n/, 'every line ends in CRLF');
      assert.ok(
        part.split('\r\n').every((line) => line.length <= 78),
        'no line longer than 78',
      );
    }
    const actual = render(composed).replaceAll('\r\n', '\n');
    const file = new URL(`./golden/dsn-${name}.txt`, import.meta.url);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
    assert.equal(actual, readFileSync(file, 'utf8'));
  });
}
