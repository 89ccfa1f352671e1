import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestRedis } from '@outpost/testing';
import { openQueues, startTestIngest, totalJobs } from './helpers.ts';
import { greetedSession } from './smtp-helpers.ts';

/**
 * SMTP smuggling (the CVE-2023-51764 family): a first message whose body holds an end-of-data
 * look-alike followed by a complete second transaction. A receiver that takes the look-alike for
 * the end of DATA would queue the second message as if the client had sent it; we must refuse the
 * first message whole and queue nothing.
 */
const SMUGGLED_TRANSACTION =
  'MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n' +
  'From: ceo@example.com\r\nSubject: smuggled\r\n\r\nPlease wire the money.\r\n.\r\n';

const END_OF_DATA_LOOK_ALIKES = [
  '\n.\n',
  '\r.\r',
  '\r.\n',
  '\n.\r',
  '\n.\r\n',
  '\r\n.\n',
  '\r.\r\n',
  '\r\n.\r',
  '\r\n\x00.\r\n',
];

describe('SMTP smuggling', () => {
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

  /** Sends a first message whose DATA is `body`; returns the reply to it and the jobs queued meanwhile. */
  async function sendData(body: string): Promise<{ reply: string; queued: number; nextReply: string }> {
    const before = await totalJobs(queues);
    const { session } = await greetedSession(port);
    try {
      assert.match(await session.command('MAIL FROM:<alice@example.com>'), /^250/);
      assert.match(await session.command('RCPT TO:<bob@example.org>'), /^250/);
      assert.match(await session.command('DATA'), /^354/);
      session.write(body);
      const reply = await session.reply();
      // If anything had been read as commands, their replies would come before this one.
      const nextReply = await session.command('NOOP');
      return { reply, queued: (await totalJobs(queues)) - before, nextReply };
    } finally {
      session.close();
    }
  }

  test('control: a real end of data followed by a pipelined transaction queues two messages', async () => {
    const { reply, queued } = await sendData(
      `Subject: first\r\n\r\nfirst message\r\n.\r\n${SMUGGLED_TRANSACTION}`,
    );
    assert.match(reply, /^250 2\.0\.0 Ok: queued as /);
    // Two messages, each one solo delivery job: the check below can see a second one.
    assert.equal(queued, 2);
  });

  for (const lookAlike of END_OF_DATA_LOOK_ALIKES) {
    test(`${JSON.stringify(lookAlike)} is message content: refused with 554 5.6.0, nothing queued`, async () => {
      const { reply, queued, nextReply } = await sendData(
        `Subject: first\r\n\r\nfirst message${lookAlike}${SMUGGLED_TRANSACTION}`,
      );
      assert.match(reply, /^554 5\.6\.0 /);
      assert.match(nextReply, /^250 /, 'the smuggled commands were not executed');
      assert.equal(queued, 0, 'neither the first nor a second message was queued');
    });
  }

  test('a bare LF inside a message is refused with 554 5.6.0', async () => {
    const { reply, queued } = await sendData('Subject: unix\n\nline endings\r\n.\r\n');
    assert.match(reply, /^554 5\.6\.0 .*bare CR or LF/);
    assert.equal(queued, 0);
  });

  test('a NUL inside a message is refused with 554 5.6.0', async () => {
    const { reply, queued } = await sendData('Subject: nul\r\n\r\nbefore\x00after\r\n.\r\n');
    assert.match(reply, /^554 5\.6\.0 .*NUL/);
    assert.equal(queued, 0);
  });

  test('a command line ending in a bare LF is refused (521 5.5.2) and the connection closed', async () => {
    const before = await totalJobs(queues);
    const { session } = await greetedSession(port);
    try {
      session.write('MAIL FROM:<alice@example.com>\nRCPT TO:<bob@example.org>\r\n');
      assert.match(await session.reply(), /^521 5\.5\.2 /);
      await session.waitClosed();
      assert.deepEqual(session.unreadLines, [], 'no command of that packet was executed');
    } finally {
      session.close();
    }
    assert.equal(await totalJobs(queues), before);
  });

  test('a bare LF split from its line across two packets is still seen', async () => {
    const { session } = await greetedSession(port);
    try {
      session.write('NOOP');
      await new Promise((resolve) => setTimeout(resolve, 50));
      session.write('\nNOOP\r\n');
      assert.match(await session.reply(), /^521 5\.5\.2 /);
      await session.waitClosed();
    } finally {
      session.close();
    }
  });

  test('CHUNKING is not advertised and BDAT is not a command', async () => {
    const { session, ehlo } = await greetedSession(port);
    try {
      assert.match(ehlo, /^250-/);
      assert.doesNotMatch(ehlo, /CHUNKING|BINARYMIME/);
      assert.match(await session.command('MAIL FROM:<alice@example.com>'), /^250/);
      assert.match(await session.command('RCPT TO:<bob@example.org>'), /^250/);
      assert.match(await session.command('BDAT 5 LAST'), /^500 /);
    } finally {
      session.close();
    }
  });
});
