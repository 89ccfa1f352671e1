import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { loadBounceConfig, loadConfig } from '@outpost/config';
import { formatRfc5322Date, type Message, newMessageId, prepareMessage } from '@outpost/core';
import {
  BOUNCE_JOB_OPTIONS,
  type BounceJobData,
  createFlowMessageWriter,
  type MessageWriter,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  type ReportedRecipient,
} from '@outpost/queue';
import { createLogger } from '@outpost/telemetry';
import { TestRedis } from '@outpost/testing';
import { Queue } from 'bullmq';
import { DSN_STATS_KEY } from '../src/bounce-keys.ts';
import { type Bounce, startBounce } from '../src/index.ts';
import { waitFor } from './helpers.ts';

/**
 * The collection machinery alone, against real Redis, with the DSN writer replaced by one that
 * records (and, when asked, fails): several workers, duplicates, retries, windows, memory.
 */
describe('collecting reports into one DSN per message, event and window', () => {
  let redis: TestRedis;
  let queue: Queue;
  const services: Bounce[] = [];
  const written: Message[] = [];
  const failedWrites: string[] = [];
  let failNextWrites = 0;

  const writer: MessageWriter = {
    async write(message) {
      if (failNextWrites > 0) {
        failNextWrites--;
        failedWrites.push(message.id);
        throw new Error('Redis refused the write (test)');
      }
      written.push(message);
    },
    async close() {},
  };

  const startWorker = async () => {
    const env = {
      OUTPOST_ENV: 'development',
      OUTPOST_HOSTNAME: 'outpost.test',
      REDIS_URL: redis.url,
      OUTPOST_DSN_COLLECT_WINDOW: '400ms',
      OUTPOST_BOUNCE_HTTP_LISTEN: '127.0.0.1:0',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    };
    const config = loadConfig(env);
    const bounce = await startBounce({
      config,
      bounce: loadBounceConfig(env),
      logger: createLogger({ service: 'bounce', level: config.logLevel }),
      writerFactory: () => writer,
    });
    services.push(bounce);
  };

  before(async () => {
    redis = await TestRedis.start();
    queue = new Queue(QUEUE_NAMES.bounce, { connection: redis.client(), prefix: QUEUE_PREFIX });
    queue.on('error', () => {});
    // Two bounce workers compete for the same jobs, as two processes would.
    await startWorker();
    await startWorker();
  });
  after(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await queue.close();
    await redis.stop();
  });
  beforeEach(() => {
    written.length = 0;
    failedWrites.length = 0;
    failNextWrites = 0;
  });

  const dsnsAbout = (messageId: string) =>
    written.filter((message) =>
      message.body.toString('latin1').includes(`X-Outpost-Message-Id: ${messageId}`),
    );

  /** Every report and send job done: the bounce queue has nothing waiting, delayed or running. */
  const idle = () =>
    waitFor(
      async () => {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(counts).every((count) => count === 0);
      },
      10_000,
      'bounce queue idle',
    );

  test('twenty reports of one message, racing over two workers: one DSN listing all twenty', async () => {
    const messageId = newMessageId();
    const addresses = Array.from({ length: 20 }, (_, index) => `user${index}@domain${index % 5}.test`);
    await queue.addBulk(
      addresses.map((address) => ({
        name: 'failed',
        data: report(messageId, 'failed', [recipient(address)]),
        opts: BOUNCE_JOB_OPTIONS,
      })),
    );
    await idle();
    const dsns = dsnsAbout(messageId);
    assert.equal(dsns.length, 1);
    const listed = [...dsns[0]!.body.toString('latin1').matchAll(/^Final-Recipient: rfc822; (.+)$/gm)].map(
      (match) => match[1]!.trim(),
    );
    assert.deepEqual(listed.sort(), [...addresses].sort());
    assert.equal(dsns[0]!.sender, '', 'from the null sender');
    assert.deepEqual(
      dsns[0]!.recipients.map((entry) => entry.address),
      ['alice@sender.test'],
    );
  });

  test('a failed DSN write is retried under the same id, and nothing is lost or left behind', async () => {
    failNextWrites = 2;
    const messageId = newMessageId();
    await queue.add('failed', report(messageId, 'failed', [recipient('a@x.test'), recipient('b@y.test')]));
    await waitFor(() => dsnsAbout(messageId).length === 1, 15_000, 'the DSN after two failed writes');
    await idle();
    assert.equal(failedWrites.length, 2);
    assert.deepEqual(
      failedWrites,
      [written[0]!.id, written[0]!.id],
      'one id: a retried flow write is idempotent',
    );
    assert.equal(dsnsAbout(messageId).length, 1);
    assert.match(written[0]!.body.toString('latin1'), /Final-Recipient: rfc822; a@x\.test[\s\S]*b@y\.test/);
    const leftovers = await redis.client().keys(`${QUEUE_PREFIX}:dsn:${messageId}:*`);
    assert.deepEqual(leftovers, [], 'collected state is deleted once the DSN is written');
  });

  test('a send job that fails after its DSN was written does not write it again on the retry', async () => {
    // The DSN counters of the wrong type: the step after the write fails, and the job is retried.
    await redis.client().set(DSN_STATS_KEY, 'not a hash');
    try {
      const messageId = newMessageId();
      await queue.add('failed', report(messageId, 'failed', [recipient('once@x.test')]));
      await waitFor(() => dsnsAbout(messageId).length === 1, 15_000, 'the DSN');
      await idle();
      assert.equal(dsnsAbout(messageId).length, 1, 'written once: a second write would queue it twice');
      assert.deepEqual(await redis.client().keys(`${QUEUE_PREFIX}:dsn:${messageId}:*`), []);
    } finally {
      await redis.client().del(DSN_STATS_KEY);
    }
  });

  test('every piece of collected state expires on its own (Redis runs noeviction)', async () => {
    const messageId = newMessageId();
    await queue.add('delayed', report(messageId, 'delayed', [recipient('late@x.test', 'delayed')]));
    await waitFor(
      async () => (await redis.client().keys(`${QUEUE_PREFIX}:dsn:${messageId}:*`)).length >= 4,
      5_000,
      'state collected',
    );
    const keys = await redis.client().keys(`${QUEUE_PREFIX}:dsn:${messageId}:*`);
    for (const key of keys) assert.ok((await redis.client().pttl(key)) > 0, `${key} has a TTL`);
    await idle();
    // After sending only the "warned once" flag remains, with its TTL.
    assert.deepEqual(await redis.client().keys(`${QUEUE_PREFIX}:dsn:${messageId}:*`), [
      `${QUEUE_PREFIX}:dsn:${messageId}:delay-warned`,
    ]);
  });

  test('a report after the window closed starts a new window and a second DSN', async () => {
    const messageId = newMessageId();
    await queue.add('failed', report(messageId, 'failed', [recipient('first@x.test')]));
    await waitFor(() => dsnsAbout(messageId).length === 1, 5_000, 'first DSN');
    await queue.add('failed', report(messageId, 'failed', [recipient('second@x.test')]));
    await waitFor(() => dsnsAbout(messageId).length === 2, 5_000, 'second DSN');
    assert.match(dsnsAbout(messageId)[1]!.body.toString('latin1'), /second@x\.test/);
    assert.doesNotMatch(dsnsAbout(messageId)[1]!.body.toString('latin1'), /first@x\.test/);
  });

  test('a recipient reported again after its window closed (a delivery job run twice) gets no second DSN', async () => {
    const messageId = newMessageId();
    await queue.add('failed', report(messageId, 'failed', [recipient('gone@x.test')]));
    await waitFor(() => dsnsAbout(messageId).length === 1, 5_000, 'the DSN');
    // The same outcome reported again, as by a delivery job whose worker died before it finished.
    await queue.add('failed', report(messageId, 'failed', [recipient('GONE@x.test')]));
    await queue.add(
      'failed',
      report(messageId, 'failed', [recipient('gone@x.test'), recipient('new@x.test')]),
    );
    await waitFor(() => dsnsAbout(messageId).length === 2, 5_000, 'a DSN for the new recipient');
    await idle();
    assert.equal(dsnsAbout(messageId).length, 2);
    const second = dsnsAbout(messageId)[1]!.body.toString('latin1');
    assert.match(second, /Final-Recipient: rfc822; new@x\.test/);
    assert.doesNotMatch(second, /gone@x\.test/i, 'only the recipient not reported before');
  });

  test('delay warnings: at most one per message, even across windows', async () => {
    const messageId = newMessageId();
    await queue.add('delayed', report(messageId, 'delayed', [recipient('a@x.test', 'delayed')]));
    await waitFor(() => dsnsAbout(messageId).length === 1, 5_000, 'the delay warning');
    await queue.add('delayed', report(messageId, 'delayed', [recipient('b@y.test', 'delayed')]));
    await idle();
    assert.equal(dsnsAbout(messageId).length, 1);
  });

  test('the one delay warning lists every recipient still pending, not only the reporting job’s', async () => {
    // A message with two destination jobs and no delivery worker: job .d1 looks retried already.
    const message = prepareMessage({
      id: newMessageId(),
      sender: 'alice@sender.test',
      recipients: [
        { address: 'a@one.test' },
        { address: 'b@two.test' },
        { address: 'c@two.test', notify: ['FAILURE'] },
      ],
      dsn: {},
      raw: Buffer.from('Subject: late\r\n\r\nbody\r\n'),
      client: { protocol: 'smtp', address: '127.0.0.1', tls: false },
      hostname: 'outpost.test',
      now: Date.now(),
      lifetimeMs: 86_400_000,
    });
    const flows = createFlowMessageWriter(redis.client(), 'none');
    await flows.write(message);
    await flows.close();
    const delivery = new Queue(QUEUE_NAMES.delivery, { connection: redis.client(), prefix: QUEUE_PREFIX });
    const retried = await delivery.getJob(`${message.id}.d1`);
    await retried!.updateData({
      ...retried!.data,
      attempts: 2,
      lastProblem: {
        status: '4.4.1',
        category: 'connection_refused_or_timeout',
        diagnostic: 'connect ECONNREFUSED',
      },
    });
    await delivery.close();

    await queue.add('delayed', report(message.id, 'delayed', [recipient('a@one.test', 'delayed')]));
    await waitFor(() => dsnsAbout(message.id).length === 1, 5_000, 'the delay warning');
    const body = dsnsAbout(message.id)[0]!.body.toString('latin1');
    const listed = [...body.matchAll(/^Final-Recipient: rfc822; (.+)$/gm)].map((match) => match[1]!.trim());
    assert.deepEqual(listed, ['a@one.test', 'b@two.test'], 'c asked for failures only');
    assert.match(body, /Final-Recipient: rfc822; b@two\.test\r\nAction: delayed\r\nStatus: 4\.4\.1\r\n/);
    assert.match(body, /Diagnostic-Code: X-Outpost; connect ECONNREFUSED/);
    assert.ok(body.includes(`Will-Retry-Until: ${formatRfc5322Date(message.expiresAt)}`));
  });

  test('the same recipient reported twice in a window is listed once', async () => {
    const messageId = newMessageId();
    const twice = report(messageId, 'failed', [recipient('same@x.test')]);
    await queue.addBulk([
      { name: 'failed', data: twice },
      { name: 'failed', data: twice },
    ]);
    await idle();
    const body = dsnsAbout(messageId)[0]!.body.toString('latin1');
    assert.equal(body.match(/Final-Recipient:/g)?.length, 1);
  });

  test('a report of an unknown version is left alone, in failed', async () => {
    const messageId = newMessageId();
    const job = await queue.add('failed', {
      ...report(messageId, 'failed', [recipient('a@x.test')]),
      v: 2,
    } as never);
    await waitFor(async () => (await job.getState()) === 'failed', 5_000, 'job failed');
    await idle();
    assert.equal(dsnsAbout(messageId).length, 0);
  });
});

function recipient(address: string, action: ReportedRecipient['action'] = 'failed'): ReportedRecipient {
  return action === 'delayed'
    ? {
        address,
        action,
        status: 'deferred',
        enhancedStatus: '4.4.1',
        category: 'connection_refused_or_timeout',
        diagnostic: 'connection refused',
        at: Date.now(),
        willRetryUntil: Date.now() + 86_400_000,
      }
    : {
        address,
        action,
        status: 'bounced',
        enhancedStatus: '5.1.1',
        category: 'no_such_user',
        diagnostic: '550 5.1.1 No such user',
        remoteHost: 'mx.x.test',
        at: Date.now(),
      };
}

function report(
  messageId: string,
  event: BounceJobData['event'],
  recipients: ReportedRecipient[],
): BounceJobData {
  return {
    v: 1,
    event,
    messageId,
    sender: 'alice@sender.test',
    dsn: {},
    arrivalTime: Date.now() - 1_000,
    headers: { messageId: `<${messageId}@outpost.test>`, subject: 'test' },
    originalHeaders: `Message-ID: <${messageId}@outpost.test>\r\nSubject: test\r\n`,
    smtpUtf8: false,
    recipients,
  };
}
