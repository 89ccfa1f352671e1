import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type SubmitError, submitMessage, TestRedis } from '@outpost/testing';
import { startTestIngest, testMessage } from './helpers.ts';
import { greetedSession, writeUsersFile } from './smtp-helpers.ts';

const PER_USER = 2;
const PER_ADDRESS = 3;

/** The reply code a submission ends with: 250, or the code of the refusal. */
async function outcome(submission: ReturnType<typeof submitMessage>): Promise<number> {
  return submission.then(
    () => 250,
    (error: SubmitError) => error.responseCode ?? 0,
  );
}

describe('message rate limits', () => {
  let redis: TestRedis;
  let ingest: Awaited<ReturnType<typeof startTestIngest>>;
  let port: number;

  before(async () => {
    redis = await TestRedis.start();
    const usersFile = await writeUsersFile(redis.dir, [
      { name: 'alice', password: 's3cret', senders: 'alice@example.com' },
    ]);
    ingest = await startTestIngest(redis, {
      OUTPOST_USERS_FILE: usersFile,
      OUTPOST_SMTP_LISTEN: '0.0.0.0:0',
      OUTPOST_TRUSTED_NETWORKS: '127.0.0.1/32',
      OUTPOST_RELAY_DOMAINS: 'ours.test',
      OUTPOST_RATE_LIMIT_PER_USER: `${PER_USER}/1h`,
      OUTPOST_RATE_LIMIT_PER_ADDRESS: `${PER_ADDRESS}/1h`,
    });
    port = ingest.addresses.smtp.port;
  });

  after(async () => {
    await ingest.stop();
    await redis.stop();
  });

  test(`per user: message ${PER_USER + 1} within the window gets 450 4.7.1, from whatever address`, async () => {
    const codes: number[] = [];
    for (let n = 1; n <= PER_USER + 1; n++) {
      codes.push(
        await outcome(
          submitMessage({
            port,
            localAddress: `127.0.2.${n}`,
            auth: { user: 'alice', pass: 's3cret' },
            from: 'alice@example.com',
            to: ['bob@example.org'],
            message: testMessage(`user ${n}`),
          }),
        ),
      );
    }
    assert.deepEqual(codes, [...Array(PER_USER).fill(250), 450]);
    const { session } = await greetedSession(port, { localAddress: '127.0.2.50' });
    try {
      await session.startTls();
      await session.command('EHLO client.test');
      const token = Buffer.from('\0alice\0s3cret').toString('base64');
      assert.match(await session.command(`AUTH PLAIN ${token}`), /^235/);
      assert.match(await session.command('MAIL FROM:<alice@example.com>'), /^450 4\.7\.1 /);
    } finally {
      session.close();
    }
  });

  test(`per client address: message ${PER_ADDRESS + 1} gets 450 4.7.1; other addresses go on`, async () => {
    const send = (localAddress: string) =>
      outcome(
        submitMessage({
          port,
          localAddress,
          from: 'carol@elsewhere.example',
          to: ['info@ours.test'],
          message: testMessage('inbound'),
        }),
      );
    const codes: number[] = [];
    for (let n = 1; n <= PER_ADDRESS + 1; n++) codes.push(await send('127.0.3.1'));
    assert.deepEqual(codes, [...Array(PER_ADDRESS).fill(250), 450]);
    assert.equal(await send('127.0.3.2'), 250);
  });

  test('trusted networks are not limited per address', async () => {
    for (let n = 1; n <= PER_ADDRESS + 2; n++) {
      assert.equal(
        await outcome(
          submitMessage({
            port,
            localAddress: '127.0.0.1',
            from: 'app@example.com',
            to: ['bob@example.org'],
            message: testMessage('app'),
          }),
        ),
        250,
      );
    }
  });

  test('with Redis down the limiter lets MAIL through (fail open); the message still gets 451', async () => {
    await redis.kill();
    try {
      const { session } = await greetedSession(port, { localAddress: '127.0.3.1' });
      try {
        // 127.0.3.1 is over its limit, but the limiter cannot know: MAIL is not held up.
        assert.match(await session.command('MAIL FROM:<carol@elsewhere.example>', 3_000), /^250/);
        assert.match(await session.command('RCPT TO:<info@ours.test>'), /^250/);
        assert.match(await session.command('DATA'), /^354/);
        session.write('Subject: down\r\n\r\nHi.\r\n.\r\n');
        assert.match(await session.reply(), /^451 4\.3\.0 /);
      } finally {
        session.close();
      }
    } finally {
      await redis.start();
    }
  });
});
