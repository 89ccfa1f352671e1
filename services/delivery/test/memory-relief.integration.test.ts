import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { deliveryJobKey, QUEUE_NAMES, QUEUE_PREFIX, readRedisMemory } from '@outpost/queue';
import { type AttemptRecord, createDeliveryLog, logKeys, relieveLog } from '@outpost/store';
import { createLogger } from '@outpost/telemetry';
import { TestRedis } from '@outpost/testing';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { reliefMargin, startMemoryRelief, warnIfLogBudgetDoesNotFit } from '../src/memory-relief.ts';
import { waitFor } from './helpers.ts';

// Memory relief against a real Redis (noeviction) whose maxmemory is set below what it holds: the
// state a Redis filled by the delivery log, completed jobs or someone else's data is left in.

const MB = 1024 * 1024;

function capturingLogger() {
  const lines: Array<{ level: number; msg: string; [field: string]: unknown }> = [];
  const logger = createLogger({
    service: 'delivery',
    level: 'debug',
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

function gaugeRecorder() {
  const values: number[] = [];
  return { values, set: (value: number) => void values.push(value) };
}

/** `count` attempt records of about `size` bytes each, oldest first (time = base + i). */
async function writeLogRecords(redis: Redis, count: number, size: number, base = Date.now() - 3_600_000) {
  const log = createDeliveryLog(redis, { maxAgeMs: 86_400_000, maxBytes: 1024 * MB, maxTranscriptBytes: MB });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `rec-${String(i).padStart(6, '0')}`;
    const record: AttemptRecord = {
      id,
      messageId: `old-${i}`,
      domain: 'old.test',
      attempt: 1,
      time: base + i,
      durationMs: 5,
      recipients: [
        {
          address: `r${i}@old.test`,
          verdict: 'deferred',
          status: 'deferred',
          enhancedStatus: '4.0.0',
          category: 'other',
        },
      ],
      sessions: [
        {
          host: 'mx.old.test',
          address: '127.0.0.9',
          port: 25,
          tls: false,
          greeted: true,
          durationMs: 5,
          transcript: [{ at: base + i, direction: 'S', text: 'x'.repeat(size) }],
        },
      ],
    };
    await log.write(record);
    ids.push(id);
  }
  return ids;
}

/** Completed jobs of `queue` (and their events), made by a real worker. */
async function completeJobs(redis: Redis, name: string, count: number, dataSize: number) {
  const queue = new Queue(name, { connection: redis, prefix: QUEUE_PREFIX });
  await queue.addBulk(
    Array.from({ length: count }, (_, i) => ({
      name: 'job',
      data: { i, padding: 'p'.repeat(dataSize) },
      opts: { removeOnComplete: { count: 100_000 } },
    })),
  );
  const worker = new Worker(name, async () => 'done', {
    connection: redis,
    prefix: QUEUE_PREFIX,
    concurrency: 50,
  });
  await waitFor(async () => (await queue.getCompletedCount()) === count, 30_000, 'jobs to complete');
  await worker.close();
  return queue;
}

/** Someone else's data, in 64 KB writes (a larger single write is refused near the limit). */
async function fill(redis: Redis, key: string, bytes: number) {
  for (let written = 0; written < bytes; written += 64 * 1024) {
    await redis.hset(key, `f${written}`, 'y'.repeat(64 * 1024));
  }
}

/** Lowers maxmemory `below` bytes under what Redis holds now. */
async function limitBelowUsed(redis: Redis, below: number) {
  const { usedBytes } = await readRedisMemory(redis);
  await redis.config('SET', 'maxmemory', String(usedBytes - below));
  return usedBytes - below;
}

describe('memory relief: Redis at its limit under noeviction', () => {
  let redis: TestRedis;
  let admin: Redis;
  const queues: Queue[] = [];
  const workers: Worker[] = [];
  before(async () => {
    redis = await TestRedis.start();
    admin = redis.client();
  });
  beforeEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close(true)));
    await Promise.all(queues.splice(0).map((queue) => queue.close()));
    await admin.config('SET', 'maxmemory', '0');
    await admin.flushall();
  });
  after(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close(true)));
    await Promise.all(queues.splice(0).map((queue) => queue.close()));
    await redis.stop();
  });

  test('relieveLog drops the oldest records with their bookkeeping, where the log write itself is refused', async () => {
    const ids = await writeLogRecords(admin, 200, 4_000);
    const bytesBefore = Number(await admin.get(logKeys.bytes));
    await limitBelowUsed(admin, 256 * 1024);
    await assert.rejects(writeLogRecords(admin, 1, 10, Date.now()), 'Redis refuses the log write itself');

    const sizes = (await admin.hmget(logKeys.sizes, ...ids)).map(Number);
    const relief = await relieveLog(admin, 100_000);
    const sum = (count: number) => sizes.slice(0, count).reduce((total, size) => total + size, 0);
    assert.equal(relief.bytes, sum(relief.records), 'counted by the records dropped');
    assert.ok(relief.bytes >= 100_000, `at least what was asked (${relief.bytes})`);
    assert.ok(sum(relief.records - 1) < 100_000, `no record more than needed (${relief.records})`);
    assert.equal(
      Number(await admin.get(logKeys.bytes)),
      bytesBefore - relief.bytes,
      'the byte count follows',
    );
    const dropped = ids.slice(0, relief.records);
    const kept = ids.slice(relief.records);
    assert.equal(await admin.exists(...dropped.map(logKeys.record)), 0, 'the oldest records are gone');
    assert.equal(await admin.exists(...kept.map(logKeys.record)), kept.length, 'the newer ones stay');
    assert.equal(await admin.hlen(logKeys.sizes), kept.length, 'size entries follow');
    assert.equal(await admin.zcard(logKeys.records), kept.length, 'the time index follows');
    assert.deepEqual((await admin.zrange(logKeys.records, '0', '0'))[0], kept[0]);

    // Asked for more than there is: the log empties, the count reaches zero.
    const rest = await relieveLog(admin, 1024 * MB);
    assert.equal(rest.records, kept.length);
    assert.equal(Number(await admin.get(logKeys.bytes)), 0);
  });

  test("Outpost's own data: streams first, then completed jobs, and the log only if still needed", async () => {
    const delivery = await completeJobs(admin, QUEUE_NAMES.delivery, 3_000, 1_500);
    queues.push(delivery);
    await writeLogRecords(admin, 100, 4_000);
    const logBytes = Number(await admin.get(logKeys.bytes));
    const streamBefore = await admin.xlen(delivery.keys.events!);
    const maxmemory = await limitBelowUsed(admin, 1.5 * MB);
    const { logger, lines } = capturingLogger();
    const overLimit = gaugeRecorder();
    const relief = startMemoryRelief({
      redis: admin,
      queues: [delivery],
      workers: [],
      logger,
      overLimit,
      pollIntervalMs: 3_600_000,
    });
    try {
      const outcome = await relief.check();
      assert.equal(outcome.state, 'relieved');
      assert.deepEqual(
        outcome.freed.map((entry) => entry.from),
        ['event streams', 'completed jobs'],
        'in order, stopping before the log',
      );
      assert.ok(outcome.memory.usedBytes <= maxmemory - reliefMargin(maxmemory), 'down to the margin');
      assert.ok((await admin.xlen(delivery.keys.events!)) < streamBefore, 'the stream was trimmed');
      assert.ok((await delivery.getCompletedCount()) < 3_000, 'completed jobs were removed');
      assert.equal(Number(await admin.get(logKeys.bytes)), logBytes, 'the log untouched');
      const warning = lines.find((line) => line.level === 40);
      assert.match(
        warning?.msg ?? '',
        /freed .* of Outpost's own data \(event streams: .*; completed jobs: /,
      );
      assert.deepEqual(overLimit.values, [0]);
      assert.equal(await admin.set('probe', 'ok'), 'OK', 'Redis takes writes again');
    } finally {
      relief.stop();
    }
  });

  test('with no stream or completed job to spare, the oldest log records go', async () => {
    const ids = await writeLogRecords(admin, 600, 4_000);
    const logBytes = Number(await admin.get(logKeys.bytes));
    const maxmemory = await limitBelowUsed(admin, 512 * 1024);
    const queue = new Queue(QUEUE_NAMES.delivery, { connection: admin, prefix: QUEUE_PREFIX });
    queues.push(queue);
    const relief = startMemoryRelief({
      redis: admin,
      queues: [queue],
      workers: [],
      logger: capturingLogger().logger,
      pollIntervalMs: 3_600_000,
    });
    try {
      const outcome = await relief.check();
      assert.equal(outcome.state, 'relieved');
      assert.deepEqual(
        outcome.freed.map((entry) => entry.from),
        ['delivery log'],
      );
      assert.ok(outcome.memory.usedBytes <= maxmemory - reliefMargin(maxmemory));
      const dropped = outcome.freed[0]!.items;
      assert.ok(dropped > 0 && dropped < ids.length, `some records, not all (${dropped})`);
      assert.equal(await admin.zcard(logKeys.records), ids.length - dropped);
      assert.ok(Number(await admin.get(logKeys.bytes)) < logBytes);
      assert.deepEqual(await admin.zrange(logKeys.records, '0', '0'), [ids[dropped]], 'the oldest went');
    } finally {
      relief.stop();
    }
  });

  test('completed jobs go oldest first and whole: no key of a removed job is left', async () => {
    const delivery = await completeJobs(admin, QUEUE_NAMES.delivery, 1_000, 4_000);
    queues.push(delivery);
    const before = await admin.zrange(delivery.keys.completed!, '0', '-1');
    await limitBelowUsed(admin, 256 * 1024);
    const relief = startMemoryRelief({
      redis: admin,
      queues: [delivery],
      workers: [],
      logger: capturingLogger().logger,
      pollIntervalMs: 3_600_000,
    });
    try {
      assert.equal((await relief.check()).state, 'relieved');
      const left = await admin.zrange(delivery.keys.completed!, '0', '-1');
      const removed = before.slice(0, before.length - left.length);
      assert.ok(removed.length > 0, 'some were removed');
      assert.deepEqual(left, before.slice(removed.length), 'the oldest');
      const jobKey = deliveryJobKey;
      const leftovers = await admin.exists(
        ...removed.flatMap((id) => [jobKey(id), `${jobKey(id)}:logs`, `${jobKey(id)}:lock`]),
      );
      assert.equal(leftovers, 0);
      assert.equal(await admin.exists(...left.map(jobKey)), left.length, 'the others are intact');
    } finally {
      relief.stop();
    }
  });

  test("someone else's data: reports it once a minute, pauses the workers, resumes once memory is freed", async () => {
    const queue = new Queue(QUEUE_NAMES.delivery, { connection: admin, prefix: QUEUE_PREFIX });
    queues.push(queue);
    await queue.addBulk(Array.from({ length: 10 }, (_, i) => ({ name: 'job', data: { i } })));
    await fill(admin, '{other}:filler', 2 * MB);
    await limitBelowUsed(admin, MB);
    const { logger, lines } = capturingLogger();
    const overLimit = gaugeRecorder();
    let processed = 0;
    const worker = new Worker(
      QUEUE_NAMES.delivery,
      async () => {
        processed++;
      },
      { connection: redis.client(), prefix: QUEUE_PREFIX, concurrency: 5, autorun: false },
    );
    worker.on('error', () => {});
    workers.push(worker);
    const relief = startMemoryRelief({
      redis: admin,
      queues: [queue],
      workers: [worker],
      logger,
      overLimit,
      pollIntervalMs: 3_600_000,
    });
    try {
      void worker.run();
      // The worker's first fetch is refused (OOM): relief pauses it and finds nothing to free.
      await waitFor(() => overLimit.values.includes(1), 5_000, 'the condition to be reported');
      assert.ok(worker.isPaused(), 'the worker is paused');
      assert.equal((await relief.check()).state, 'stuck');
      const errors = lines.filter((line) => line.level === 50);
      assert.equal(errors.length, 1, 'one error line however many checks within the minute');
      assert.match(
        errors[0]!.msg,
        /^Redis is above maxmemory \(used [\d.]+ MB of [\d.]+ MB\) with nothing of Outpost's left to free: delivery cannot move jobs until memory is freed or maxmemory raised$/,
      );
      assert.equal(processed, 0, 'no job moved');

      await admin.del('{other}:filler');
      const outcome = await relief.check();
      assert.equal(outcome.state, 'below');
      assert.equal(overLimit.values.at(-1), 0);
      await waitFor(() => processed === 10, 10_000, 'every job, without a restart');
      assert.ok(lines.some((line) => line.msg === 'Redis is below maxmemory again: delivery resumes'));
    } finally {
      relief.stop();
    }
  });

  test('an OOM reply to a worker starts relief at once: the jobs move without waiting for a poll', async () => {
    const completed = await completeJobs(admin, QUEUE_NAMES.bounce, 1_000, 2_000);
    queues.push(completed);
    const queue = new Queue(QUEUE_NAMES.delivery, { connection: admin, prefix: QUEUE_PREFIX });
    queues.push(queue);
    await queue.addBulk(Array.from({ length: 10 }, (_, i) => ({ name: 'job', data: { i } })));
    await limitBelowUsed(admin, 512 * 1024);
    let processed = 0;
    const worker = new Worker(
      QUEUE_NAMES.delivery,
      async () => {
        processed++;
      },
      { connection: redis.client(), prefix: QUEUE_PREFIX, autorun: false },
    );
    workers.push(worker);
    const errors: Error[] = [];
    worker.on('error', (error) => errors.push(error));
    const relief = startMemoryRelief({
      redis: admin,
      queues: [queue, completed],
      workers: [worker],
      logger: capturingLogger().logger,
      pollIntervalMs: 3_600_000,
    });
    try {
      void worker.run();
      await waitFor(() => processed === 10, 10_000, 'every job');
      assert.ok(
        errors.some((error) => /OOM/.test(error.message)),
        'the worker was refused first',
      );
    } finally {
      relief.stop();
    }
  });

  test('at start: a log budget larger than the room above the high-water mark is named', async () => {
    await admin.config('SET', 'maxmemory', String(100 * MB));
    const { logger, lines } = capturingLogger();
    const highWater = { kind: 'percent', value: 80 } as const;
    assert.equal(await warnIfLogBudgetDoesNotFit(admin, { highWater, logMaxBytes: 256 * MB }, logger), true);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.msg, /OUTPOST_LOG_MAX_BYTES, 256\.0 MB\) does not fit .* at most 20\.0 MB/);
    assert.equal(await warnIfLogBudgetDoesNotFit(admin, { highWater, logMaxBytes: 16 * MB }, logger), false);
    const byBytes = { kind: 'bytes', value: 99 * MB } as const;
    assert.equal(
      await warnIfLogBudgetDoesNotFit(admin, { highWater: byBytes, logMaxBytes: 2 * MB }, logger),
      true,
    );
    await admin.config('SET', 'maxmemory', '0');
    assert.equal(await warnIfLogBudgetDoesNotFit(admin, { highWater, logMaxBytes: 256 * MB }, logger), false);
    assert.equal(lines.length, 2);
  });
});
