import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadBounceConfig } from '@outpost/config';
import { type Message, newMessageId } from '@outpost/core';
import { type MessageWriter, QUEUE_NAMES, QUEUE_PREFIX, type ReportedRecipient } from '@outpost/queue';
import { createLogger } from '@outpost/telemetry';
import { TestRedis } from '@outpost/testing';
import { Queue } from 'bullmq';
import type { Collector, DsnContext } from '../src/dsn-collector.ts';
import { sendCollectedDsn } from '../src/send-collected-dsn.ts';

// A send job runs again when a step after its DSN fails (here the collector's last one, once), or
// when its worker dies: the rerun must neither write the DSN again nor queue its webhook events
// again (they would reach the operator's URLs twice, under new event ids).

let redis: TestRedis;
let queues: { message: Queue; delivery: Queue; webhook: Queue };
before(async () => {
  redis = await TestRedis.start();
  const connection = redis.client();
  queues = {
    message: new Queue(QUEUE_NAMES.message, { connection, prefix: QUEUE_PREFIX }),
    delivery: new Queue(QUEUE_NAMES.delivery, { connection, prefix: QUEUE_PREFIX }),
    webhook: new Queue(QUEUE_NAMES.webhook, { connection, prefix: QUEUE_PREFIX }),
  };
});
after(async () => {
  await Promise.all(Object.values(queues).map((queue) => queue.close()));
  await redis.stop();
});

test('a delay warning whose job fails after the DSN and its webhook events is not sent or announced twice', async () => {
  const messageId = newMessageId();
  const late: ReportedRecipient = {
    address: 'carol@late.test',
    action: 'delayed',
    status: 'deferred',
    enhancedStatus: '4.4.1',
    category: 'connection_refused_or_timeout',
    diagnostic: 'connection refused',
    at: Date.now(),
    willRetryUntil: Date.now() + 86_400_000,
  };
  const context: DsnContext = {
    messageId,
    sender: 'alice@sender.test',
    dsn: {},
    arrivalTime: Date.now() - 3_600_000,
    headers: { messageId: `<${messageId}@outpost.test>`, subject: 'late' },
    originalHeaders: `Message-ID: <${messageId}@outpost.test>\r\nSubject: late\r\n`,
    smtpUtf8: false,
  };
  let finishFailures = 1;
  const collector: Collector = {
    collect: async () => ({ outcome: 'already-reported' }),
    take: async () => ({ context, recipients: [late] }),
    finish: async () => {
      if (finishFailures-- > 0) throw new Error('Redis went away (test)');
    },
  };
  const written: Message[] = [];
  const writer: MessageWriter = {
    write: async (message) => {
      written.push(message);
    },
    close: async () => {},
  };
  const deps = {
    redis: redis.client(),
    collector,
    writer,
    queues,
    bounce: loadBounceConfig({}),
    hostname: 'outpost.test',
    stateTtlMs: 60_000,
    logger: createLogger({ service: 'bounce', level: 'silent' }),
    now: Date.now,
    webhookQueue: queues.webhook,
  };
  const job = { v: 1 as const, messageId, event: 'delayed' as const, window: 'w1' };
  await assert.rejects(sendCollectedDsn(job, deps), /Redis went away/);
  assert.equal(await sendCollectedDsn(job, deps), 'send', 'the retry completes');
  assert.equal(written.length, 1, 'one DSN');
  const events = (await queues.webhook.getJobs(['waiting', 'delayed', 'active'])).filter(
    (entry) => entry.data.messageId === messageId,
  );
  assert.deepEqual(
    events.map((entry) => [entry.data.event, entry.data.recipient]),
    [['delayed_dsn_sent', 'carol@late.test']],
    'one webhook event',
  );
});
