import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildDeliveryStatus, composeDsn, type DsnRecipient, type DsnReport } from '../src/index.ts';

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

const recipient: DsnRecipient = {
  address: 'bob@example.net',
  action: 'failed',
  status: 'bounced',
  enhancedStatus: '5.1.1',
  category: 'no_such_user',
  at: AT,
};

const report = (changes: Partial<DsnReport> = {}, recipients: DsnRecipient[] = [recipient]): DsnReport => ({
  event: 'failed',
  reportingMta: 'outpost.test',
  messageId: 'm-1',
  arrivalTime: AT,
  original: { messageId: '<a@b>' },
  originalSender: 'alice@sender.test',
  smtpUtf8: false,
  recipients,
  audience: 'sender',
  returned: 'headers',
  ...changes,
});

/** Unfolded fields of each block (RFC 3464 §2.1.1), names lower-cased. */
function blocks(text: string): Array<Map<string, string>> {
  return text
    .replace(/\r\n[ \t]/g, ' ')
    .trimEnd()
    .split('\r\n\r\n')
    .map(
      (block) =>
        new Map(
          block.split('\r\n').map((line) => {
            const colon = line.indexOf(':');
            return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
          }),
        ),
    );
}

test('per-message fields: Reporting-MTA, Arrival-Date, and Original-Envelope-Id only with ENVID', () => {
  const [perMessage] = blocks(buildDeliveryStatus(report()));
  assert.equal(perMessage?.get('reporting-mta'), 'dns; outpost.test');
  assert.equal(perMessage?.get('arrival-date'), 'Fri, 2 Jan 2026 03:04:05 +0000');
  assert.equal(perMessage?.has('original-envelope-id'), false);

  const text = buildDeliveryStatus(report({ envid: 'Order-17' }));
  assert.ok(text.startsWith('Original-Envelope-Id: Order-17\r\n'), 'first, case preserved (RFC 3464 §2.2.1)');
});

test('ENVID and ORCPT that are not printable ASCII are given as xtext in a plain report', () => {
  const text = buildDeliveryStatus(
    report({ envid: 'id\u0001é' }, [{ ...recipient, orcpt: 'rfc822;b\u0007ob@example.net' }]),
  );
  const [perMessage, first] = blocks(text);
  assert.equal(perMessage?.get('original-envelope-id'), 'id+01+C3+A9');
  assert.equal(first?.get('original-recipient'), 'rfc822; b+07ob@example.net');
});

test('Original-Recipient only from ORCPT; Final-Recipient always', () => {
  const [, without, withOrcpt] = blocks(
    buildDeliveryStatus(
      report({}, [
        recipient,
        { ...recipient, address: 'carol@example.net', orcpt: 'rfc822;Carol@Example.NET' },
      ]),
    ),
  );
  assert.equal(without?.has('original-recipient'), false);
  assert.equal(without?.get('final-recipient'), 'rfc822; bob@example.net');
  assert.equal(withOrcpt?.get('original-recipient'), 'rfc822; Carol@Example.NET');
});

test('Diagnostic-Code: smtp for a remote reply, X-Outpost for our own reasons; none without either', () => {
  const [, remote, local, none] = blocks(
    buildDeliveryStatus(
      report({}, [
        { ...recipient, diagnostic: '550 5.1.1 No such user', remoteHost: '192.0.2.7' },
        { ...recipient, address: 'c@x.test', diagnostic: 'x.test: NXDOMAIN' },
        { ...recipient, address: 'd@x.test' },
      ]),
    ),
  );
  assert.equal(remote?.get('diagnostic-code'), 'smtp; 550 5.1.1 No such user');
  assert.equal(remote?.get('remote-mta'), 'dns; [192.0.2.7]', 'an address, not a name');
  assert.equal(local?.get('diagnostic-code'), 'X-Outpost; x.test: NXDOMAIN');
  assert.equal(local?.has('remote-mta'), false);
  assert.equal(none?.has('diagnostic-code'), false);
});

test('Status is the real code; Will-Retry-Until only for delays; no Last-Attempt-Date when not attempted', () => {
  const [, delayed, suppressed, odd] = blocks(
    buildDeliveryStatus(
      report({ event: 'delayed' }, [
        {
          ...recipient,
          action: 'delayed',
          status: 'deferred',
          enhancedStatus: '4.4.1',
          willRetryUntil: AT + 1_000,
        },
        { ...recipient, reason: 'suppressed', willRetryUntil: AT },
        { ...recipient, enhancedStatus: 'garbage' },
      ]),
    ),
  );
  assert.equal(delayed?.get('status'), '4.4.1');
  assert.equal(delayed?.get('action'), 'delayed');
  assert.equal(delayed?.get('will-retry-until'), 'Fri, 2 Jan 2026 03:04:06 +0000');
  assert.equal(delayed?.get('last-attempt-date'), 'Fri, 2 Jan 2026 03:04:05 +0000');
  assert.equal(suppressed?.has('last-attempt-date'), false);
  assert.equal(suppressed?.has('will-retry-until'), false, 'only delays have it');
  assert.equal(odd?.get('status'), '5.0.0', 'a malformed code falls back to the class');
});

test('non-ASCII and control characters never reach a plain report', () => {
  const text = buildDeliveryStatus(
    report({}, [{ ...recipient, diagnostic: '550 5.1.1 Empfänger\r\nunbekannt' }]),
  );
  assert.match(text, /Diagnostic-Code: smtp; 550 5\.1\.1 Empf\?nger unbekannt\r\n/);
  assert.doesNotMatch(text, /[^\x00-\x7f]/);
});

test('SMTPUTF8 or a UTF-8 address makes the report global (RFC 6533) with utf-8 addresses', () => {
  const plain = composeDsn(report());
  assert.equal(plain.statusContentType, 'message/delivery-status');
  assert.equal(plain.returnedContentType, 'text/rfc822-headers');
  const utf8 = composeDsn(report({ returned: 'message' }, [{ ...recipient, address: 'jörg@example.net' }]));
  assert.equal(utf8.statusContentType, 'message/global-delivery-status');
  assert.equal(utf8.returnedContentType, 'message/global');
  assert.match(utf8.deliveryStatus, /Final-Recipient: utf-8; jörg@example\.net\r\n/);
  assert.equal(composeDsn(report({ smtpUtf8: true })).returnedContentType, 'message/global-headers');
});

test('subjects say what happened', () => {
  assert.equal(composeDsn(report()).subject, 'Undelivered Mail Returned to Sender');
  assert.equal(composeDsn(report({ event: 'delayed' })).subject, 'Delivery Status Notification (Delay)');
  assert.equal(composeDsn(report({ event: 'delivered' })).subject, 'Delivery Status Notification (Success)');
  assert.equal(
    composeDsn(report({ audience: 'postmaster' })).subject,
    'Postmaster Copy: Undelivered Mail Returned to Sender',
  );
});
