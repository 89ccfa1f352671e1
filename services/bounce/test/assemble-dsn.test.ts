import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { composeDsn, type DsnReport } from '@outpost/core';
import { simpleParser } from 'mailparser';
import { assembleDsn } from '../src/assemble-dsn.ts';
import { parseDsn } from './parse-dsn.ts';

const AT = Date.UTC(2026, 10, 27, 18, 38, 13);

const report: DsnReport = {
  event: 'failed',
  reportingMta: 'outpost.example',
  messageId: '019ac6f0-8e2a-7c3d-9f10-5b2e8d4a1c07',
  envid: 'QQ314159',
  arrivalTime: AT,
  original: { messageId: '<quarterly-42@sender.example>', subject: 'Quarterly report' },
  originalSender: 'alice@sender.example',
  smtpUtf8: false,
  audience: 'sender',
  returned: 'headers',
  recipients: [
    {
      address: 'bob@example.net',
      orcpt: 'rfc822;bob@example.net',
      action: 'failed',
      status: 'bounced',
      enhancedStatus: '5.1.1',
      category: 'no_such_user',
      diagnostic: '550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown',
      remoteHost: 'mx1.example.net',
      remoteAddress: '192.0.2.25',
      at: AT + 2_000,
    },
  ],
};

const headers = {
  hostname: 'outpost.example',
  to: 'alice@sender.example',
  date: AT + 60_000,
  messageId: '<019ac6f1-0000-7000-8000-000000000002@outpost.example>',
  inReplyTo: '<quarterly-42@sender.example>',
};

const returned = Buffer.from(
  'Received: from client.sender.example ([192.0.2.1])\r\n\tby outpost.example (Outpost) with ESMTPSA id 019ac6f0;\r\n' +
    '\tFri, 27 Nov 2026 18:38:13 +0000\r\nFrom: Alice <alice@sender.example>\r\nTo: bob@example.net\r\n' +
    'Subject: Quarterly report\r\nMessage-ID: <quarterly-42@sender.example>\r\n',
);

test('golden: the whole DSN message, byte for byte (fixed boundary, dates and ids)', async () => {
  const raw = await assembleDsn(composeDsn(report), headers, returned, { baseBoundary: 'golden' });
  assert.doesNotMatch(raw.toString('latin1'), /[^\r]\n/, 'CRLF line ends only');
  const actual = raw.toString('latin1').replaceAll('\r\n', '\n');
  const file = new URL('./golden/dsn-failed.eml', import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual, 'latin1');
  assert.equal(actual, readFileSync(file, 'latin1'));
});

test('a MIME parser reads it: header fields, the three parts, no encoding of the report', async () => {
  const raw = await assembleDsn(composeDsn(report), headers, returned);
  const mail = await simpleParser(raw);
  assert.equal(mail.from?.text, '"Mail Delivery System" <MAILER-DAEMON@outpost.example>');
  assert.equal(mail.inReplyTo, '<quarterly-42@sender.example>');
  assert.equal(mail.headers.get('auto-submitted'), 'auto-replied');
  const dsn = await parseDsn({ from: '', to: [], data: raw } as never);
  assert.deepEqual(
    dsn.parts.map((part) => [part.type, part.headers.get('content-transfer-encoding')]),
    [
      ['text/plain', '7bit'],
      ['message/delivery-status', '7bit'],
      ['text/rfc822-headers', '7bit'],
    ],
  );
});

test('8-bit content in a global report is declared 8bit, never encoded (RFC 6533, RFC 2046 §5.2.1)', async () => {
  const global = { ...report, smtpUtf8: true, returned: 'message' as const };
  const raw = await assembleDsn(
    composeDsn(global),
    { ...headers, to: 'jörg@sender.example' },
    Buffer.from('Subject: Grüße\r\n\r\nHallo Jörg\r\n', 'utf8'),
  );
  const dsn = await parseDsn({ from: '', to: [], data: raw } as never);
  assert.deepEqual(
    dsn.parts.slice(1).map((part) => [part.type, part.headers.get('content-transfer-encoding')]),
    [
      ['message/global-delivery-status', '7bit'],
      ['message/global', '8bit'],
    ],
  );
  assert.equal(dsn.parts[2]!.body.toString('utf8').trimEnd(), 'Subject: Grüße\r\n\r\nHallo Jörg');
});
