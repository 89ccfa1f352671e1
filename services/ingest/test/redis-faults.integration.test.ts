import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { deliveryJobId, RedisPolicyError } from '@outpost/queue';
import { type SubmitError, submitMessage, TestRedis } from '@outpost/testing';
import { openQueues, queuedIdOf, startTestIngest, testMessage, totalJobs } from './helpers.ts';

const send = (port: number, message = testMessage()) =>
  submitMessage({ port, from: 'alice@example.com', to: ['bob@example.org'], message });

describe('Redis trouble at ingest', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(env: Record<string, string> = {}, redisOptions = {}) {
    const redis = await TestRedis.start(redisOptions);
    cleanups.push(() => redis.stop());
    const ingest = await startTestIngest(redis, env);
    cleanups.push(() => ingest.stop());
    const queues = openQueues(redis);
    cleanups.push(() => queues.close());
    return { redis, ingest, queues, port: ingest.addresses.smtp.port };
  }

  test('Redis down: 451 4.3.0 within 5 s, and nothing is stored', async () => {
    const { redis, port, queues } = await setup();
    await redis.kill();
    const started = Date.now();
    await assert.rejects(send(port), (error: SubmitError) => {
      assert.equal(error.responseCode, 451, error.message);
      assert.match(error.response ?? '', /4\.3\.0/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000, `answered after ${Date.now() - started} ms`);
    await redis.start();
    assert.equal(await totalJobs(queues), 0);
  });

  test('above the high-water mark: 452 4.3.1 and nothing is stored', async () => {
    const { port, queues } = await setup({ OUTPOST_REDIS_HIGH_WATER: '1' });
    await assert.rejects(send(port), (error: SubmitError) => {
      assert.equal(error.responseCode, 452, error.message);
      assert.match(error.response ?? '', /4\.3\.1/);
      return true;
    });
    assert.equal(await totalJobs(queues), 0);
  });

  test('Redis out of memory (noeviction refuses the write): 452 4.3.1', async () => {
    // The guard's mark is far away, so the refusal must come from Redis itself.
    const { redis, port, queues } = await setup({ OUTPOST_REDIS_HIGH_WATER: '1g' });
    const admin = redis.client();
    const used = Number((await admin.info('memory')).match(/used_memory:(\d+)/)![1]);
    await admin.config('SET', 'maxmemory', String(used + 256 * 1024));
    const big = `Subject: big\r\n\r\n${`${'x'.repeat(998)}\r\n`.repeat(400)}`;
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(
        await send(port, big).then(
          () => 250,
          (error: SubmitError) => error.responseCode,
        ),
      );
    assert.ok(results.includes(452), `replies: ${results.join(',')}`);
    assert.ok(!results.some((code) => code !== 250 && code !== 452), `replies: ${results.join(',')}`);
    await admin.config('SET', 'maxmemory', '0');
    assert.equal(
      await queues.queuedMessages(),
      results.filter((code) => code === 250).length,
      'only accepted mail is queued',
    );
  });

  test('a message answered 250 survives kill -9 of Redis and a restart from the AOF', async () => {
    const { redis, port, queues } = await setup();
    const id = queuedIdOf((await send(port, testMessage('durable'))).response);
    await redis.kill();
    await redis.start();
    // A one-domain message: its solo delivery job carries the envelope, the body is beside it.
    const job = await queues.delivery.getJob(deliveryJobId(id, 0));
    assert.ok(job, 'delivery job recovered from the AOF');
    assert.equal(await job.getState(), 'waiting');
    assert.equal((await queues.envelope(id)).headers.subject, 'durable');
    assert.equal((await queues.stored(id)).headers.subject, 'durable', 'with its body');
  });

  test('a Redis with an eviction policy other than noeviction is refused at start', async () => {
    const redis = await TestRedis.start({ maxmemoryPolicy: 'allkeys-lru' });
    cleanups.push(() => redis.stop());
    await assert.rejects(startTestIngest(redis), (error: Error) => {
      assert.ok(error instanceof RedisPolicyError);
      assert.match(error.message, /noeviction/);
      return true;
    });
  });

  test('a Redis that does not fsync is refused in production', async () => {
    const redis = await TestRedis.start({ appendonly: false });
    cleanups.push(() => redis.stop());
    await assert.rejects(
      startTestIngest(redis, {
        OUTPOST_ENV: 'production',
        OUTPOST_TLS_CERT: '/dev/null',
        OUTPOST_TLS_KEY: '/dev/null',
      }),
      /appendfsync always/,
    );
  });
});
