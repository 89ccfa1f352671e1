import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newMessageId, prepareMessage } from '@outpost/core';
import { TestRedis } from '@outpost/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_NAMES, QUEUE_PREFIX, reportRecipients } from '../src/index.ts';

/** Every delivery job reports its recipients per event; most reports are empty and must cost nothing. */

let redis: TestRedis;
let admin: Redis;
let queue: Queue;
before(async () => {
  redis = await TestRedis.start({ appendonly: false });
  admin = redis.client();
  queue = new Queue(QUEUE_NAMES.bounce, { connection: redis.client(), prefix: QUEUE_PREFIX });
  await queue.waitUntilReady();
});
after(async () => {
  await queue.close();
  await redis.stop();
});

const message = () => {
  const now = Date.now();
  return prepareMessage({
    id: newMessageId(now),
    sender: 'alice@example.com',
    recipients: [{ address: 'bob@example.net' }],
    dsn: {},
    raw: Buffer.from('From: alice@example.com\r\nSubject: reports\r\n\r\nHello.\r\n'),
    client: { protocol: 'smtp', address: '127.0.0.1', tls: false },
    hostname: 'outpost.test',
    now,
    lifetimeMs: 86_400_000,
  });
};

/** Commands Redis ran since the last reset, other than the test's own CONFIG and INFO. */
async function commandsRun(): Promise<string[]> {
  const stats = await admin.info('commandstats');
  return [...stats.matchAll(/^cmdstat_([\w|]+):calls=\d+/gm)]
    .map((match) => match[1]!)
    .filter((name) => !name.startsWith('config') && name !== 'info');
}

test('an empty report sends nothing to Redis', async () => {
  const data = message();
  await admin.config('RESETSTAT');
  for (const event of ['delivered', 'failed', 'delayed'] as const)
    await reportRecipients(queue, data, event, []);
  assert.deepEqual(await commandsRun(), []);
});

test('a report with recipients is one bounce job', async () => {
  const data = message();
  await reportRecipients(queue, data, 'failed', [
    {
      address: 'bob@example.net',
      action: 'failed',
      status: 'bounced',
      enhancedStatus: '5.1.1',
      category: 'no_such_user',
      at: Date.now(),
    },
  ]);
  const [job] = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
  assert.equal(job?.data.messageId, data.id);
  assert.equal(job?.data.recipients.length, 1);
});
