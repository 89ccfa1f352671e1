import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSecureContext, getCACertificates } from 'node:tls';
import { classify } from '@outpost/core';
import { createTestCa, type SmtpReceiver, startSmtpReceiver, type TestCa } from '@outpost/testing';
import { runSmtpTransaction, type SmtpTransactionOptions } from '../src/index.ts';

const MX = 'mx.verified.test';
let ca: TestCa;
const receivers: Record<'valid' | 'wrongName' | 'selfSigned' | 'plain', SmtpReceiver> = {} as never;
let trust: ReturnType<typeof createSecureContext>;

before(async () => {
  ca = await createTestCa();
  trust = createSecureContext({ ca: [...getCACertificates('default'), ca.cert] });
  const [valid, wrongName, selfSigned] = await Promise.all([
    ca.issue([MX]),
    ca.issue(['other.verified.test']),
    ca.selfSigned([MX]),
  ]);
  receivers.valid = await startSmtpReceiver({ host: '127.0.0.2', name: MX, tls: valid });
  receivers.wrongName = await startSmtpReceiver({ host: '127.0.0.3', name: MX, tls: wrongName });
  receivers.selfSigned = await startSmtpReceiver({ host: '127.0.0.4', name: MX, tls: selfSigned });
  receivers.plain = await startSmtpReceiver({ host: '127.0.0.5', name: MX });
});
after(async () => {
  await Promise.all(Object.values(receivers).map((receiver) => receiver.close()));
  await ca.remove();
});

function options(
  target: SmtpReceiver,
  overrides: Partial<SmtpTransactionOptions> = {},
): SmtpTransactionOptions {
  return {
    address: target.host,
    port: target.port,
    mxHost: MX,
    heloName: 'outpost.test',
    tls: 'verified',
    secureContext: trust,
    timeouts: { connectMs: 1_000, greetingMs: 1_000, commandMs: 2_000 },
    sender: 'alice@example.com',
    recipients: ['bob@verified.test'],
    body: Buffer.from('Subject: t\r\n\r\nHello.\r\n'),
    ...overrides,
  };
}

const noMailCommand = (receiver: SmtpReceiver) =>
  assert.ok(!receiver.events.some((event) => event.stage === 'mail'), 'no MAIL FROM reached the receiver');

test('verified TLS with a certificate for the MX name signed by a trusted CA: delivered', async () => {
  const result = await runSmtpTransaction(options(receivers.valid));
  assert.equal(classify(result.recipients[0]!.event).verdict, 'delivered');
  assert.equal(result.tls, true);
  assert.equal(result.tlsInfo.offered, true);
  assert.equal(result.tlsInfo.established, true);
  assert.equal(result.tlsInfo.verified, true);
  assert.match(result.tlsInfo.protocol ?? '', /^TLSv1\.[23]$/);
  const [message] = await receivers.valid.waitForMessages(1);
  assert.equal(message!.secure, true);
});

test('verified TLS, certificate for another name: a TLS failure before MAIL, nothing sent', async () => {
  const result = await runSmtpTransaction(options(receivers.wrongName));
  const event = result.recipients[0]!.event;
  assert.equal(event.kind === 'network' && event.failure, 'tls-failed', JSON.stringify(event));
  assert.equal(result.tlsInfo.established, false);
  assert.equal(result.tlsInfo.verified, false);
  assert.match(result.tlsInfo.error ?? '', /ALTNAME|subjectAltName/);
  noMailCommand(receivers.wrongName);
  assert.equal(receivers.wrongName.messages.length, 0);
});

test('verified TLS, self-signed certificate: a TLS failure before MAIL', async () => {
  const result = await runSmtpTransaction(options(receivers.selfSigned));
  const event = result.recipients[0]!.event;
  assert.equal(event.kind === 'network' && event.failure, 'tls-failed', JSON.stringify(event));
  assert.equal(result.tlsInfo.verified, false);
  assert.match(result.tlsInfo.error ?? '', /SELF_SIGNED|self-signed/i);
  noMailCommand(receivers.selfSigned);
});

test('verified TLS, no STARTTLS offered: a TLS failure (not a bounce), no plaintext fallback', async () => {
  const result = await runSmtpTransaction(options(receivers.plain));
  const event = result.recipients[0]!.event;
  assert.equal(event.kind === 'network' && event.failure, 'tls-failed', JSON.stringify(event));
  assert.equal(classify(event).verdict, 'deferred');
  assert.equal(result.tlsInfo.offered, false);
  noMailCommand(receivers.plain);
});

test('opportunistic TLS delivers whatever the certificate, and says whether it verified', async () => {
  const wrong = await runSmtpTransaction(options(receivers.wrongName, { tls: 'opportunistic' }));
  assert.equal(classify(wrong.recipients[0]!.event).verdict, 'delivered');
  assert.equal(wrong.tlsInfo.established, true);
  assert.equal(wrong.tlsInfo.verified, false);
  assert.match(wrong.tlsInfo.error ?? '', /ALTNAME/);
  // Without the test CA in the trust store, a valid chain does not verify either.
  const untrusted = await runSmtpTransaction(
    options(receivers.valid, { tls: 'opportunistic', secureContext: undefined }),
  );
  assert.equal(classify(untrusted.recipients[0]!.event).verdict, 'delivered');
  assert.equal(untrusted.tlsInfo.verified, false);
  const plain = await runSmtpTransaction(options(receivers.plain, { tls: 'opportunistic' }));
  assert.equal(classify(plain.recipients[0]!.event).verdict, 'delivered');
  assert.deepEqual(plain.tlsInfo, { offered: false, established: false });
});
