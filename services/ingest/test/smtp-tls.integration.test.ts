import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { submitMessage, TestRedis } from '@outpost/testing';
import { openQueues, queuedIdOf, startTestIngest, testMessage } from './helpers.ts';
import { greetedSession, SmtpSession } from './smtp-helpers.ts';

describe('TLS: implicit TLS and STARTTLS', () => {
  let redis: TestRedis;
  let ingest: Awaited<ReturnType<typeof startTestIngest>>;
  let queues: ReturnType<typeof openQueues>;

  before(async () => {
    redis = await TestRedis.start();
    ingest = await startTestIngest(redis, { OUTPOST_SMTPS_LISTEN: '127.0.0.1:0' });
    queues = openQueues(redis);
  });

  after(async () => {
    await queues.close();
    await ingest.stop();
    await redis.stop();
  });

  test('submission over implicit TLS (RFC 8314): greeted inside TLS, no STARTTLS offered, message queued', async () => {
    const port = ingest.addresses.smtps!.port;
    const { session, ehlo } = await greetedSession(port, { implicitTls: true });
    try {
      assert.doesNotMatch(ehlo, /STARTTLS/);
      assert.match(ehlo, /AUTH PLAIN LOGIN/, 'AUTH is offered at once: the session is already encrypted');
    } finally {
      session.close();
    }
    const result = await submitMessage({
      port,
      secure: true,
      from: 'alice@example.com',
      to: ['bob@example.org'],
      message: testMessage('implicit tls'),
    });
    assert.equal((await queues.envelope(queuedIdOf(result.response))).client.tls, true);
  });

  test('STARTTLS injection: commands pipelined behind STARTTLS are discarded, never executed', async () => {
    const { session } = await greetedSession(ingest.addresses.smtp.port);
    try {
      // In one packet: what a man in the middle would append to the client's STARTTLS.
      session.write('STARTTLS\r\nEHLO evil.test\r\nMAIL FROM:<mallory@example.com>\r\n');
      assert.match(await session.reply(), /^220 /);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(session.unreadLines, [], 'no reply to the injected commands in plaintext');
      await session.upgrade();
      // Had EHLO and MAIL run inside TLS, this RCPT would be accepted (250); the first reply we
      // read is ours, and it says that neither EHLO nor MAIL took place.
      assert.match(await session.command('RCPT TO:<bob@example.org>'), /^503 /);
    } finally {
      session.close();
    }
  });

  test('control: the same commands sent after the handshake are executed', async () => {
    const session = await SmtpSession.open(ingest.addresses.smtp.port);
    try {
      await session.reply();
      await session.command('EHLO client.test');
      await session.startTls();
      session.write('EHLO client.test\r\nMAIL FROM:<alice@example.com>\r\n');
      assert.match(await session.reply(), /^250-/);
      assert.match(await session.reply(), /^250 /);
      assert.match(await session.command('RCPT TO:<bob@example.org>'), /^250 /);
    } finally {
      session.close();
    }
  });
});
