import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatRfc5322Date,
  groupRecipientsByDomain,
  type PrepareMessageInput,
  prepareMessage,
} from '../src/index.ts';

const NOW = Date.UTC(2026, 10, 27, 18, 38, 13);

function input(raw: string, overrides: Partial<PrepareMessageInput> = {}): PrepareMessageInput {
  return {
    id: '019ac6a4-0000-7000-8000-000000000000',
    sender: 'alice@example.com',
    recipients: [{ address: 'bob@Example.ORG' }],
    dsn: {},
    raw: Buffer.from(raw),
    client: { protocol: 'smtp', address: '192.0.2.7', heloName: 'client.example', tls: true, user: 'alice' },
    hostname: 'mx.outpost.test',
    now: NOW,
    lifetimeMs: 3_600_000,
    ...overrides,
  };
}

test('RFC 5322 dates', () => {
  assert.equal(formatRfc5322Date(NOW), 'Fri, 27 Nov 2026 18:38:13 +0000');
});

test('adds Received on top, Message-ID and Date when missing, and summarises headers', () => {
  const message = prepareMessage(input('Subject: Hi\r\nFrom: Alice <alice@example.com>\r\n\r\nBody\r\n'));
  const text = message.body.toString();
  assert.equal(
    text,
    'Received: from client.example ([192.0.2.7])\r\n' +
      '\tby mx.outpost.test (Outpost) with ESMTPSA id 019ac6a4-0000-7000-8000-000000000000\r\n' +
      '\tfor <bob@example.org>;\r\n' +
      '\tFri, 27 Nov 2026 18:38:13 +0000\r\n' +
      'Subject: Hi\r\nFrom: Alice <alice@example.com>\r\n' +
      'Message-ID: <019ac6a4-0000-7000-8000-000000000000@mx.outpost.test>\r\n' +
      'Date: Fri, 27 Nov 2026 18:38:13 +0000\r\n\r\nBody\r\n',
  );
  assert.equal(message.size, message.body.length);
  assert.deepEqual(message.headers, {
    messageId: '<019ac6a4-0000-7000-8000-000000000000@mx.outpost.test>',
    subject: 'Hi',
    from: 'Alice <alice@example.com>',
  });
  assert.equal(message.expiresAt, NOW + 3_600_000);
  assert.deepEqual(message.recipients, [{ address: 'bob@example.org' }]);
});

test('keeps an existing Message-ID and Date, and names no recipient when there are several', () => {
  const message = prepareMessage(
    input('Message-ID: <x@y>\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n\r\nB\r\n', {
      recipients: [{ address: 'a@one.example' }, { address: 'b@two.example' }],
      client: { protocol: 'smtp', address: '::ffff:127.0.0.1', tls: false },
    }),
  );
  const text = message.body.toString();
  assert.equal(message.headers.messageId, '<x@y>');
  assert.equal(text.match(/^Message-ID:/gm)?.length, 1);
  assert.equal(text.match(/^Date:/gm)?.length, 1);
  assert.doesNotMatch(text, /\tfor </);
  assert.match(
    text,
    /^Received: from unknown \(\[127\.0\.0\.1\]\)\r\n\tby mx\.outpost\.test \(Outpost\) with ESMTP id/,
  );
});

test('a hostile HELO name cannot break the Received header', () => {
  const message = prepareMessage(
    input('Subject: x\r\n\r\nB\r\n', {
      client: { protocol: 'smtp', address: '2001:db8::1', heloName: 'evil (x)\r\nBcc: y', tls: false },
    }),
  );
  assert.match(message.body.toString(), /^Received: from evilxBcc:y \(\[IPv6:2001:db8::1\]\)\r\n\tby /);
});

test('recipients are grouped per domain (case-insensitive), duplicates dropped, local part kept', () => {
  const groups = groupRecipientsByDomain([
    { address: 'A@Example.org' },
    { address: 'b@other.example' },
    { address: 'A@example.ORG', notify: ['NEVER'] },
    { address: 'c@example.org' },
  ]);
  assert.deepEqual(
    [...groups.entries()],
    [
      ['example.org', [{ address: 'A@example.org' }, { address: 'c@example.org' }]],
      ['other.example', [{ address: 'b@other.example' }]],
    ],
  );
});

test('a message Outpost made itself (a DSN) records only our own hop', () => {
  const message = prepareMessage(
    input('Subject: dsn\r\n\r\nB\r\n', { client: { protocol: 'local', address: '127.0.0.1', tls: false } }),
  );
  assert.match(
    message.body.toString(),
    /^Received: by mx\.outpost\.test \(Outpost\) id 019ac6a4-0000-7000-8000-000000000000\r\n\tfor <bob@example\.org>;\r\n\t/,
  );
});
