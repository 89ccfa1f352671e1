import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type SubmitError, submitMessage, TestRedis } from '@outpost/testing';
import { openQueues, queuedIdOf, startTestIngest, testMessage, totalJobs } from './helpers.ts';
import { greetedSession, writeUsersFile } from './smtp-helpers.ts';

const TRUSTED = '127.0.0.1';
const STRANGER = '127.0.0.3';

/** Relay tricks: each would make a naive server forward to example.org. */
const RELAY_TRICKS = [
  ['% hack', 'bob%example.org@ours.test'],
  ['! path', 'example.org!bob@ours.test'],
  ['source route', '@ours.test:bob@example.org'],
  ['multi-hop source route', '@ours.test,@relay.example:bob@example.org'],
  ['several @', 'bob@example.org@ours.test'],
  ['quoted @', '"bob@example.org"@ours.test'],
  ['quoted %', '"bob%example.org"@ours.test'],
  ['quoted !', '"example.org!bob"@ours.test'],
] as const;

/** The classic open-relay probes (as relay testers send them), all from an unauthenticated stranger. */
const OPEN_RELAY_PROBES = [
  'bob@example.org',
  'bob%example.org@ours.test',
  'bob%example.org@[127.0.0.1]',
  '"bob@example.org"',
  '"bob%example.org"',
  'bob@example.org@ours.test',
  '"bob@example.org"@ours.test',
  '"bob%example.org"@ours.test',
  'example.org!bob',
  'example.org!bob@ours.test',
  '@ours.test:bob@example.org',
  'bob@[127.0.0.1]',
  'bob@example.org.',
  'bob%example.org',
  'bob',
  'bob@mx.outpost.test',
];

describe('relay control', () => {
  let redis: TestRedis;
  let ingest: Awaited<ReturnType<typeof startTestIngest>>;
  let queues: ReturnType<typeof openQueues>;
  let port: number;

  before(async () => {
    redis = await TestRedis.start();
    const usersFile = await writeUsersFile(redis.dir, [
      { name: 'alice', password: 's3cret', senders: 'alice@example.com' },
    ]);
    ingest = await startTestIngest(redis, {
      OUTPOST_USERS_FILE: usersFile,
      OUTPOST_TRUSTED_NETWORKS: `${TRUSTED}/32`,
      OUTPOST_RELAY_DOMAINS: 'ours.test',
      OUTPOST_SMTP_LISTEN: '0.0.0.0:0',
    });
    port = ingest.addresses.smtp.port;
    queues = openQueues(redis);
  });

  after(async () => {
    await queues.close();
    await ingest.stop();
    await redis.stop();
  });

  test('anyone may send to a relay domain, without AUTH (inbound role)', async () => {
    const result = await submitMessage({
      port,
      localAddress: STRANGER,
      from: 'carol@elsewhere.example',
      to: ['postmaster@Ours.Test'],
      message: testMessage('inbound'),
    });
    const data = await queues.envelope(queuedIdOf(result.response));
    assert.deepEqual(
      data.recipients.map((recipient) => recipient.address),
      ['postmaster@ours.test'],
    );
    assert.equal(data.client.user, undefined);
  });

  test('an unauthenticated stranger may not relay elsewhere: 554 5.7.1 at RCPT', async () => {
    const { session } = await greetedSession(port, { localAddress: STRANGER });
    try {
      assert.match(await session.command('MAIL FROM:<carol@elsewhere.example>'), /^250/);
      assert.match(await session.command('RCPT TO:<bob@example.org>'), /^554 5\.7\.1 /);
      assert.match(await session.command('RCPT TO:<info@ours.test>'), /^250/);
    } finally {
      session.close();
    }
  });

  test('an authenticated user and a trusted client may relay to any domain', async () => {
    const authenticated = await submitMessage({
      port,
      localAddress: STRANGER,
      auth: { user: 'alice', pass: 's3cret' },
      from: 'alice@example.com',
      to: ['bob@example.org'],
      message: testMessage('submission'),
    });
    assert.match(authenticated.response, /^250 /);
    const trusted = await submitMessage({
      port,
      localAddress: TRUSTED,
      from: 'app@example.com',
      to: ['bob@example.org'],
      message: testMessage('trusted'),
    });
    assert.match(trusted.response, /^250 /);
  });

  test('an authenticated user may not use a sender it does not own: 553 5.7.1', async () => {
    await assert.rejects(
      submitMessage({
        port,
        localAddress: STRANGER,
        auth: { user: 'alice', pass: 's3cret' },
        from: 'ceo@ours.test',
        to: ['bob@example.org'],
        message: testMessage(),
      }),
      (error: SubmitError) => error.responseCode === 553 && /5\.7\.1/.test(error.response ?? ''),
    );
  });

  for (const [name, recipient] of RELAY_TRICKS) {
    test(`relay trick (${name}) <${recipient}>: 553 5.1.3 even from a trusted client, never rewritten`, async () => {
      const { session } = await greetedSession(port, { localAddress: TRUSTED });
      try {
        assert.match(await session.command('MAIL FROM:<app@example.com>'), /^250/);
        assert.match(await session.command(`RCPT TO:<${recipient}>`), /^553 5\.1\.3 /);
        // Nothing was taken as a recipient in another form.
        assert.match(await session.command('DATA'), /^503 /);
      } finally {
        session.close();
      }
    });
  }

  test('a source-routed sender is refused the same way: 553 5.1.3', async () => {
    const { session } = await greetedSession(port, { localAddress: TRUSTED });
    try {
      assert.match(await session.command('MAIL FROM:<@ours.test:app@example.com>'), /^553 5\.1\.3 /);
    } finally {
      session.close();
    }
  });

  test(`the ${OPEN_RELAY_PROBES.length} classic open-relay probes are all refused`, async () => {
    assert.equal(OPEN_RELAY_PROBES.length, 16);
    const before = await totalJobs(queues);
    const { session } = await greetedSession(port, { localAddress: STRANGER });
    try {
      assert.match(await session.command('MAIL FROM:<spammer@example.net>'), /^250/);
      for (const probe of OPEN_RELAY_PROBES) {
        const reply = await session.command(`RCPT TO:<${probe}>`);
        assert.match(reply, /^(553 5\.1\.3|554 5\.7\.1) /, `<${probe}> answered ${reply}`);
      }
      assert.match(await session.command('DATA'), /^503 /, 'no recipient was accepted');
      // The same session may still deliver to our own domain: only the probes were refused.
      assert.match(await session.command('RCPT TO:<postmaster@ours.test>'), /^250/);
    } finally {
      session.close();
    }
    assert.equal(await totalJobs(queues), before);
  });
});
