import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type DeliveryJobData, deliveryJobId, type MessageJobData } from '@outpost/queue';
import { TestRedis } from '@outpost/testing';
import { openQueues, queuedIdOf, startTestIngest } from './helpers.ts';
import { greetedSession, type SmtpSession } from './smtp-helpers.ts';

/** Commands travel as UTF-8 octets; SmtpSession.write takes latin1 strings, one char per octet. */
const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

describe('SMTPUTF8 (RFC 6531) and internationalized domains', () => {
  let redis: TestRedis;
  let ingest: Awaited<ReturnType<typeof startTestIngest>>;
  let queues: ReturnType<typeof openQueues>;
  let port: number;

  before(async () => {
    redis = await TestRedis.start();
    ingest = await startTestIngest(redis);
    port = ingest.addresses.smtp.port;
    queues = openQueues(redis);
  });

  after(async () => {
    await queues.close();
    await ingest.stop();
    await redis.stop();
  });

  async function deliverData(session: SmtpSession, message: string): Promise<MessageJobData> {
    assert.match(await session.command('DATA'), /^354/);
    session.write(utf8(message));
    const reply = await session.reply();
    assert.match(reply, /^250 /);
    return queues.envelope(queuedIdOf(reply));
  }

  test('UTF-8 addresses with SMTPUTF8 are accepted; domains are stored as A-labels', async () => {
    const { session, ehlo } = await greetedSession(port);
    try {
      assert.match(ehlo, /SMTPUTF8/);
      assert.match(await session.command(utf8('MAIL FROM:<jösé@bücher.example> SMTPUTF8')), /^250/);
      assert.match(await session.command(utf8('RCPT TO:<ñandú@München.example>')), /^250/);
      const data = await deliverData(
        session,
        'From: jösé@bücher.example\r\nTo: ñandú@münchen.example\r\nSubject: Grüße\r\n\r\nHallo.\r\n.\r\n',
      );
      assert.equal(data.sender, 'jösé@xn--bcher-kva.example');
      assert.deepEqual(
        data.recipients.map((recipient) => recipient.address),
        ['ñandú@xn--mnchen-3ya.example'],
      );
      const delivery = await queues.delivery.getJob(deliveryJobId(data.id, 0));
      assert.equal((delivery!.data as DeliveryJobData).domain, 'xn--mnchen-3ya.example');
    } finally {
      session.close();
    }
  });

  test('an A-label domain sent in ASCII stays an A-label (no SMTPUTF8 needed)', async () => {
    const { session } = await greetedSession(port);
    try {
      assert.match(await session.command('MAIL FROM:<alice@example.com>'), /^250/);
      assert.match(await session.command('RCPT TO:<bob@XN--MNCHEN-3YA.example>'), /^250/);
      const data = await deliverData(session, 'Subject: ascii\r\n\r\nHi.\r\n.\r\n');
      assert.deepEqual(
        data.recipients.map((recipient) => recipient.address),
        ['bob@xn--mnchen-3ya.example'],
      );
    } finally {
      session.close();
    }
  });

  test('a UTF-8 address without SMTPUTF8 is refused with 553 5.6.7, at MAIL and at RCPT', async () => {
    const { session } = await greetedSession(port);
    try {
      assert.match(await session.command(utf8('MAIL FROM:<jösé@example.com>')), /^553 5\.6\.7 /);
      assert.match(await session.command('MAIL FROM:<alice@example.com>'), /^250/);
      assert.match(await session.command(utf8('RCPT TO:<bob@münchen.example>')), /^553 5\.6\.7 /);
      assert.match(await session.command(utf8('RCPT TO:<ñandú@example.org>')), /^553 5\.6\.7 /);
      assert.match(await session.command('DATA'), /^503 /, 'no recipient was accepted');
    } finally {
      session.close();
    }
  });

  test('invalid UTF-8 in a command is refused with 501 5.5.2, and the session goes on', async () => {
    const { session } = await greetedSession(port);
    try {
      // \xC3\x28 is a lead byte followed by a non-continuation byte; \xFF never occurs in UTF-8.
      assert.match(await session.command('MAIL FROM:<j\xC3\x28@example.com> SMTPUTF8'), /^501 5\.5\.2 /);
      assert.match(await session.command('MAIL FROM:<alice@example.com> SMTPUTF8'), /^250/);
      assert.match(await session.command('RCPT TO:<bob@ex\xFFample.org>'), /^501 5\.5\.2 /);
      assert.match(await session.command('NOOP'), /^250/);
    } finally {
      session.close();
    }
  });
});
