import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isMessageId } from '@outpost/core';
import { type DeliveryJobData, deliveryJobId, type MessageJobData } from '@outpost/queue';
import { RawSmtpClient, type SubmitError, submitMessage, TestRedis } from '@outpost/testing';
import { hashPassword } from '../src/index.ts';
import { openQueues, queuedIdOf, startTestIngest, TEST_HOSTNAME, testMessage } from './helpers.ts';

describe('SMTP submission', () => {
  let redis: TestRedis;
  let ingest: Awaited<ReturnType<typeof startTestIngest>>;
  let queues: ReturnType<typeof openQueues>;
  let port: number;

  before(async () => {
    redis = await TestRedis.start();
    const usersFile = join(redis.dir, 'users');
    await writeFile(
      usersFile,
      `# test users\nalice:${await hashPassword('s3cret')}:alice@example.com,@alice.example\n`,
    );
    // 127.0.0.2 is not trusted here, so sessions from it must authenticate.
    ingest = await startTestIngest(redis, {
      OUTPOST_USERS_FILE: usersFile,
      OUTPOST_TRUSTED_NETWORKS: '127.0.0.1/32',
      OUTPOST_SMTP_LISTEN: '0.0.0.0:0',
      OUTPOST_MAX_RECIPIENTS: '3',
      OUTPOST_MAX_MESSAGE_SIZE: '64k',
    });
    port = ingest.addresses.smtp.port;
    queues = openQueues(redis);
  });

  after(async () => {
    await queues.close();
    await ingest.stop();
    await redis.stop();
  });

  test('a trusted client submits without AUTH; message and jobs are stored as the data model says', async () => {
    const result = await submitMessage({
      port,
      from: 'alice@example.com',
      to: ['bob@example.org', 'carol@Example.NET', 'dave@example.org'],
      message: testMessage('data model'),
      dsn: { ret: 'HDRS', envid: 'env-1', notify: ['FAILURE', 'DELAY'] },
    });
    assert.match(result.response, /^250 2\.0\.0 Ok: queued as /);
    const id = queuedIdOf(result.response);
    assert.ok(isMessageId(id), id);

    const parent = await queues.message.getJob(id);
    assert.ok(parent, 'message job exists');
    assert.equal(await parent.getState(), 'waiting-children');
    assert.equal((parent.data as MessageJobData).v, 2);
    assert.equal('body' in parent.data, false, 'the body is not in the job JSON');
    const data = await queues.stored(id);
    assert.equal(data.id, id);
    assert.equal(data.sender, 'alice@example.com');
    assert.deepEqual(
      data.recipients.map((recipient) => recipient.address),
      ['bob@example.org', 'dave@example.org', 'carol@example.net'],
    );
    assert.deepEqual(data.dsn, { ret: 'HDRS', envid: 'env-1' });
    assert.equal(data.client.protocol, 'smtp');
    assert.equal(data.client.address, '127.0.0.1');
    assert.equal(data.client.tls, true, 'STARTTLS was used');
    assert.equal(data.headers.subject, 'data model');
    assert.equal(data.headers.messageId, `<${id}@${TEST_HOSTNAME}>`);
    assert.equal(data.expiresAt - data.arrivalTime, 5 * 86_400_000);
    const body = data.body.toString();
    assert.equal(data.size, data.body.length);
    assert.match(
      body,
      new RegExp(`^Received: from [^\\r]+\\r\\n\\tby ${TEST_HOSTNAME} \\(Outpost\\) with ESMTPS id ${id};`),
    );
    assert.match(
      body,
      /\r\nMessage-ID: <[^>]+>\r\nDate: [A-Z][a-z]{2}, \d+ [A-Z][a-z]{2} \d{4} [\d:]{8} \+0000\r\n\r\nHi Bob\.\r\n$/,
    );

    const jobs = await Promise.all([0, 1].map((index) => queues.delivery.getJob(deliveryJobId(id, index))));
    const [orgJob, netJob] = jobs.map((job) => job?.data as DeliveryJobData);
    assert.equal(await jobs[0]!.getState(), 'waiting');
    assert.equal(orgJob!.domain, 'example.org');
    assert.deepEqual(orgJob!.recipients, [
      { address: 'bob@example.org', notify: ['FAILURE', 'DELAY'] },
      { address: 'dave@example.org', notify: ['FAILURE', 'DELAY'] },
    ]);
    assert.equal(netJob!.domain, 'example.net');
    assert.equal(orgJob!.attempts, 0);
    assert.equal(orgJob!.messageId, id);
    assert.equal(await queues.delivery.getJob(deliveryJobId(id, 2)), undefined, 'one job per domain');
    const dependencies = await parent.getDependencies();
    assert.equal(Object.keys(dependencies.unprocessed ?? {}).length, 2);
  });

  test('an untrusted client without AUTH is refused at MAIL FROM with 530', async () => {
    await assert.rejects(
      submitMessage({
        port,
        localAddress: '127.0.0.2',
        from: 'alice@example.com',
        to: ['bob@example.org'],
        message: testMessage(),
      }),
      (error: SubmitError) => error.responseCode === 530 && /5\.7\.0/.test(error.response ?? ''),
    );
  });

  test('an authenticated user submits from an untrusted address', async () => {
    const result = await submitMessage({
      localAddress: '127.0.0.2',
      port,
      auth: { user: 'alice', pass: 's3cret' },
      from: 'news@alice.example',
      to: ['bob@example.org'],
      message: testMessage('auth'),
    });
    const data = await queues.stored(queuedIdOf(result.response));
    assert.equal(data.client.user, 'alice');
    assert.match(data.body.toString(), /with ESMTPSA id/);
  });

  test('a wrong password is refused with 535 5.7.8', async () => {
    await assert.rejects(
      submitMessage({
        localAddress: '127.0.0.2',
        port,
        auth: { user: 'alice', pass: 'wrong' },
        from: 'alice@example.com',
        to: ['bob@example.org'],
        message: testMessage(),
      }),
      (error: SubmitError) => error.responseCode === 535 && /5\.7\.8/.test(error.response ?? ''),
    );
  });

  test('AUTH before STARTTLS is refused and the credentials are not checked', async () => {
    const client = await RawSmtpClient.connect(port, '127.0.0.1', '127.0.0.2');
    try {
      assert.match(await client.reply(), /^220 /);
      const ehlo = await client.command('EHLO client.test');
      assert.match(ehlo, /STARTTLS/);
      assert.doesNotMatch(ehlo, /AUTH/, 'no mechanism is offered before TLS');
      const plain = Buffer.from('\0alice\0s3cret').toString('base64');
      assert.match(await client.command(`AUTH PLAIN ${plain}`), /^538 /);
      assert.match(await client.command('MAIL FROM:<alice@example.com>'), /^530 5\.7\.0/);
    } finally {
      client.close();
    }
  });

  test('a user may only send as its own addresses: 553 5.7.1', async () => {
    await assert.rejects(
      submitMessage({
        localAddress: '127.0.0.2',
        port,
        auth: { user: 'alice', pass: 's3cret' },
        from: 'ceo@example.com',
        to: ['bob@example.org'],
        message: testMessage(),
      }),
      (error: SubmitError) => error.responseCode === 553 && /5\.7\.1/.test(error.response ?? ''),
    );
  });

  test('recipients beyond the limit get 452 4.5.3', async () => {
    const client = await RawSmtpClient.connect(port);
    try {
      await client.reply();
      await client.command('EHLO client.test');
      assert.match(await client.command('MAIL FROM:<alice@example.com>'), /^250/);
      for (const n of [1, 2, 3]) assert.match(await client.command(`RCPT TO:<r${n}@example.org>`), /^250/);
      assert.match(await client.command('RCPT TO:<r4@example.org>'), /^452 4\.5\.3/);
    } finally {
      client.close();
    }
  });

  test('a message over the size limit is refused with 552 and nothing is queued', async () => {
    const before = await queues.message.getJobCounts();
    const big = `Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(80);
    await assert.rejects(
      submitMessage({ port, from: 'alice@example.com', to: ['bob@example.org'], message: big }),
      (error: SubmitError) => error.responseCode === 552,
    );
    assert.deepEqual(await queues.message.getJobCounts(), before);
  });

  test('more than 30 Received: headers is a mail loop: 554 5.4.6 and nothing is queued', async () => {
    const before = await queues.message.getJobCounts();
    const hops = Array.from(
      { length: 31 },
      (_, i) => `Received: from hop${i}.example by hop${i + 1}.example; Fri, 27 Nov 2026 00:00:00 +0000\r\n`,
    ).join('');
    await assert.rejects(
      submitMessage({
        port,
        from: 'alice@example.com',
        to: ['bob@example.org'],
        message: `${hops}Subject: loop\r\n\r\nx\r\n`,
      }),
      (error: SubmitError) => error.responseCode === 554 && /5\.4\.6/.test(error.response ?? ''),
    );
    assert.deepEqual(await queues.message.getJobCounts(), before);
  });
});
