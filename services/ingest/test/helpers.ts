import assert from 'node:assert/strict';
import { loadConfig } from '@outpost/config';
import type { Message } from '@outpost/core';
import {
  type DeliveryJobData,
  deliveryJobId,
  isSoloDeliveryJob,
  loadQueuedMessage,
  type MessageJobData,
  QUEUE_NAMES,
  QUEUE_PREFIX,
} from '@outpost/queue';
import { createLogger } from '@outpost/telemetry';
import type { TestRedis } from '@outpost/testing';
import { Queue } from 'bullmq';
import { type Ingest, startIngest } from '../src/index.ts';

export const TEST_HOSTNAME = 'mx.outpost.test';

/** Ingest in this process against a test Redis, SMTP on a free loopback port. */
export async function startTestIngest(redis: TestRedis, env: Record<string, string> = {}): Promise<Ingest> {
  const config = loadConfig({
    OUTPOST_ENV: 'development',
    OUTPOST_HOSTNAME: TEST_HOSTNAME,
    REDIS_URL: redis.url,
    OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
    OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
    LOG_LEVEL: 'silent',
    ...env,
  });
  return startIngest({ config, logger: createLogger({ service: 'ingest', level: config.logLevel }) });
}

export function testMessage(subject = 'hello'): string {
  return `From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: ${subject}\r\n\r\nHi Bob.\r\n`;
}

/** The queues as an operator (or a delivery worker) sees them. */
export function openQueues(redis: TestRedis) {
  const connection = redis.client();
  const message = new Queue(QUEUE_NAMES.message, { connection, prefix: QUEUE_PREFIX });
  const delivery = new Queue(QUEUE_NAMES.delivery, { connection, prefix: QUEUE_PREFIX });
  // Tests take Redis down on purpose; the queues' reconnect errors are expected noise.
  for (const queue of [message, delivery]) queue.on('error', () => {});
  return {
    message,
    delivery,
    /** The queued message as delivery reads it: the job's payload and the body stored beside it. */
    async stored(id: string): Promise<Message> {
      const message = await loadQueuedMessage(connection, id);
      assert.ok(message, `message ${id} is queued`);
      return message;
    },
    /** The envelope ingest stored: the message job's payload, or the solo delivery job's (one domain). */
    async envelope(id: string): Promise<MessageJobData> {
      const parent = await message.getJob(id);
      if (parent) return parent.data as MessageJobData;
      const solo = await delivery.getJob(deliveryJobId(id, 0));
      assert.ok(solo && isSoloDeliveryJob(solo.data), `message ${id} is queued`);
      return solo.data.message;
    },
    /** Messages queued and not started: flows and solo delivery jobs alike, by message id. */
    async queuedMessages(): Promise<number> {
      const jobs = await delivery.getJobs(['waiting', 'delayed', 'prioritized', 'waiting-children']);
      return new Set(jobs.map((job) => (job.data as DeliveryJobData).messageId)).size;
    },
    async counts() {
      return {
        message: await message.getJobCounts(),
        delivery: await delivery.getJobCounts(),
      };
    },
    async close() {
      await Promise.all([message.close(), delivery.close()]);
    },
  };
}

/** Total jobs in any state across the message and delivery queues. */
export async function totalJobs(queues: ReturnType<typeof openQueues>): Promise<number> {
  const counts = await queues.counts();
  const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
  return sum(counts.message) + sum(counts.delivery);
}

export function queuedIdOf(response: string): string {
  const match = response.match(/queued as ([0-9a-f-]{36})/);
  if (!match) throw new Error(`no queue id in "${response}"`);
  return match[1]!;
}
