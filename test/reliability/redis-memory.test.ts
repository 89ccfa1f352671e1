import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, loadDeliveryConfig } from '@outpost/config';
import { startDelivery } from '@outpost/delivery';
import { createDeliveryLog, DEFAULT_RETENTION, logKeys } from '@outpost/store';
import { createLogger } from '@outpost/telemetry';
import { spawnOutpost, TestRedis } from '@outpost/testing';
import { type Submission, submitAll, toAccepted } from './support/submit.ts';
import { assertNoViolations, FAST_ENV, ReliabilityWorld, sleep, waitFor } from './support/world.ts';

// Redis memory: the high-water mark under a burst, Redis already full, and the eviction policy.
// Already covered elsewhere (services/ingest/test/redis-faults.integration.test.ts and
// http-redis-faults.integration.test.ts): 452/507 above the mark, 452 when Redis answers OOM, a
// wrong policy refused by ingest in-process.

const info = async (world: ReliabilityWorld, field: string) =>
  Number((await world.admin.info('memory')).match(new RegExp(`${field}:(\\d+)`))![1]);

function burst(count: number, tag: string): Submission[] {
  // 300 KB messages: eight clients send several within one INFO poll.
  const body = `${'x'.repeat(998)}\r\n`.repeat(300);
  return Array.from({ length: count }, (_, i) => ({
    sender: 'bulk@origin.test',
    recipients: [`${tag}${i}@full.test`],
    message: `From: bulk@origin.test\r\nSubject: ${tag} ${i}\r\n\r\n${body}`,
  }));
}

test('a burst against a nearly full Redis: 452 above the high-water mark, Redis never at its limit, nothing accepted lost, draining goes on', async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  const receiver = await world.receiver('127.0.0.2', { data: { delayMs: 20 } });
  world.mx('full.test', '127.0.0.2');
  const maxmemory = (await info(world, 'used_memory')) + 24 * 1024 * 1024;
  await world.admin.config('SET', 'maxmemory', String(maxmemory));
  const ingest = await world.startIngest();

  // Eight clients at once, faster than INFO is polled (every 500 ms); nobody delivers yet.
  const first = burst(200, 'first');
  const results = await submitAll(ingest.addresses.smtp.port, first, 8);
  const codes = results.map((result) => (result.id ? 250 : result.refused));
  for (const [i, result] of results.entries()) {
    const entry = toAccepted(first[i]!, result);
    if (entry) world.accepted.push(entry);
  }
  assert.ok(codes.includes(452), 'refused once the mark was reached');
  assert.ok(
    codes.every((code) => code === 250 || code === 452),
    `only 250 and 452: ${[...new Set(codes)]}`,
  );
  const peak = await info(world, 'used_memory_peak');
  assert.ok(peak < maxmemory, `Redis stayed below its limit (peak ${peak} of ${maxmemory})`);

  await world.startDelivery({ OUTPOST_DELIVERY_CONCURRENCY: '10' });
  await world.settled(60_000);
  assertNoViolations(await world.check({ spansComplete: true }));
  assert.equal(receiver.messages.length, world.accepted.length, 'every accepted message delivered');

  // Drained: the bodies are gone, ingest takes mail again (once its next INFO poll sees it).
  await sleep(600);
  const [again] = await submitAll(ingest.addresses.smtp.port, burst(1, 'again'), 1);
  assert.ok(again?.id, `accepted again after draining (${again?.refused})`);
  t.diagnostic(
    `${world.accepted.length - 1} of ${first.length} accepted in the burst, ${codes.filter((c) => c === 452).length} ` +
      `refused with 452; Redis peak ${peak} bytes of ${maxmemory}`,
  );
});

/** `outpost delivery` in this process, its log lines kept for the scenario to read. */
async function startWatchedDelivery(world: ReliabilityWorld, overrides: Record<string, string> = {}) {
  const lines: LogLine[] = [];
  const env = world.env(overrides);
  const delivery = await startDelivery({
    config: loadConfig(env),
    delivery: loadDeliveryConfig(env),
    logger: createLogger({
      service: 'delivery',
      level: 'info',
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
    }),
    tracer: world.tracer,
  });
  world.onStop(() => delivery.stop());
  const overMaxmemory = async () => {
    const { address, port } = delivery.httpAddress;
    const text = await (await fetch(`http://${address}:${port}/metrics`)).text();
    return Number(text.match(/^outpost_redis_over_maxmemory (\d+)/m)?.[1]);
  };
  return { delivery, lines, overMaxmemory };
}

interface LogLine {
  level: number;
  msg: string;
  freed?: Array<{ from: string; bytes: number; items: number }>;
}

/** Lowers maxmemory `below` bytes under what Redis holds, and shows that Redis now refuses writes. */
async function limitBelowUsed(world: ReliabilityWorld, below: number): Promise<number> {
  const maxmemory = (await info(world, 'used_memory')) - below;
  await world.admin.config('SET', 'maxmemory', String(maxmemory));
  await assert.rejects(world.admin.set('{other}:probe', 'x'), /OOM/, 'Redis is at its limit');
  return maxmemory;
}

/** Old attempt records (of messages long gone), `count` of about `size` bytes, as delivery writes them. */
async function writeOldLog(world: ReliabilityWorld, count: number, size: number): Promise<void> {
  const log = createDeliveryLog(world.admin, { ...DEFAULT_RETENTION, maxBytes: 1024 * 1024 * 1024 });
  const time = Date.now() - 3_600_000;
  for (let i = 0; i < count; i++) {
    await log.write({
      id: `old-${String(i).padStart(6, '0')}`,
      messageId: `old-${i}`,
      domain: 'old.test',
      attempt: 1,
      time: time + i,
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
          transcript: [{ at: time + i, direction: 'S', text: `421 ${'x'.repeat(size)}` }],
        },
      ],
    });
  }
}

test("Redis already at its limit (filled by Outpost's own log, completed jobs and event streams): delivery frees them and drains what was accepted", async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  const receiver = await world.receiver('127.0.0.3');
  world.mx('full.test', '127.0.0.3');
  // Earlier traffic leaves completed jobs, event streams and log records; an older log makes it large.
  await world.enqueue(Array.from({ length: 200 }, (_, i) => ({ recipients: [`earlier${i}@full.test`] })));
  const earlier = await world.startDelivery({ OUTPOST_DELIVERY_CONCURRENCY: '20' });
  await world.settled(60_000);
  await earlier.stop();
  await writeOldLog(world, 1_000, 8_000);
  await world.enqueue(Array.from({ length: 20 }, (_, i) => ({ recipients: [`queued${i}@full.test`] })));
  const logBefore = Number(await world.admin.get(logKeys.bytes));
  const maxmemory = await limitBelowUsed(world, 1024 * 1024);

  // The default log budget (256 MB) cannot fit above this Redis's high-water mark.
  const { lines, overMaxmemory } = await startWatchedDelivery(world);
  await waitFor(() => receiver.messages.length === 220, 20_000, 'the queued messages delivered');
  await world.settled(20_000);
  assertNoViolations(await world.check());

  const budget = lines.find((line) => line.level === 40 && /OUTPOST_LOG_MAX_BYTES/.test(line.msg));
  assert.match(budget?.msg ?? '', /does not fit .* set OUTPOST_LOG_MAX_BYTES to at most/, 'warned at start');
  const freed = lines.filter((line) => line.freed).flatMap((line) => line.freed!);
  assert.deepEqual(
    [...new Set(freed.map((entry) => entry.from))],
    ['event streams', 'completed jobs', 'delivery log'],
    'freed in order, the log last',
  );
  assert.ok(!lines.some((line) => line.level === 50), 'never stuck');
  assert.equal(await overMaxmemory(), 0);
  const logAfter = Number(await world.admin.get(logKeys.bytes));
  const total = (from: string) =>
    freed.filter((entry) => entry.from === from).reduce((sum, entry) => sum + entry.bytes, 0);
  t.diagnostic(
    `maxmemory ${maxmemory}; freed ${total('event streams')} bytes of event streams, ${total('completed jobs')} ` +
      `of completed jobs, ${total('delivery log')} of the log (its count ${logBefore} -> ${logAfter}); ` +
      `${receiver.messages.length - 200} queued messages delivered`,
  );
});

test('Redis already at its limit (filled by something else): delivery says so, and drains once memory is freed', async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  const receiver = await world.receiver('127.0.0.3');
  world.mx('full.test', '127.0.0.3');
  await world.enqueue(Array.from({ length: 20 }, (_, i) => ({ recipients: [`queued${i}@full.test`] })));
  // Something else fills Redis past its limit (in 64 KB writes, each below the limit when made).
  for (let i = 0; i < 32; i++) await world.admin.hset('{other}:filler', `part${i}`, 'y'.repeat(64 * 1024));
  await limitBelowUsed(world, 1024 * 1024);

  const { lines, overMaxmemory } = await startWatchedDelivery(world);
  await waitFor(() => lines.some((line) => line.level === 50), 8_000, 'the condition reported');
  const error = lines.find((line) => line.level === 50)!;
  assert.match(
    error.msg,
    /^Redis is above maxmemory \(used [\d.]+ MB of [\d.]+ MB\) with nothing of Outpost's left to free: delivery cannot move jobs until memory is freed or maxmemory raised$/,
  );
  assert.equal(await overMaxmemory(), 1, 'the gauge says so');
  await sleep(1_000);
  assert.equal(receiver.messages.length, 0, 'nothing delivered meanwhile');
  assert.equal(lines.filter((line) => line.level === 50).length, 1, 'said once, not per retry');

  await world.admin.del('{other}:filler');
  await waitFor(() => receiver.messages.length === 20, 15_000, 'delivery once memory is freed, no restart');
  await world.settled(15_000);
  assertNoViolations(await world.check());
  assert.equal(await overMaxmemory(), 0);
  assert.ok(lines.some((line) => line.msg === 'Redis is below maxmemory again: delivery resumes'));
});

test('a Redis with an eviction policy: every service refuses to start, saying why', async (t) => {
  const redis = await TestRedis.start({ maxmemoryPolicy: 'allkeys-lru' });
  t.after(() => redis.stop());
  const env = { ...FAST_ENV, REDIS_URL: redis.url, LOG_LEVEL: 'info' };
  await Promise.all(
    ['ingest', 'delivery', 'bounce'].map(async (verb) => {
      const service = spawnOutpost(verb, env);
      const exit = await new Promise<number | null>((resolve) => service.child.once('exit', resolve));
      const fatal = service.logs.find((line) => line.level === 60 || line.level === 'fatal');
      assert.equal(exit, 1, `outpost ${verb} exits 1`);
      assert.match(
        JSON.stringify(fatal ?? service.logs),
        /maxmemory-policy is \\"allkeys-lru\\".*noeviction/,
        verb,
      );
    }),
  );
  const keys = await redis.client().dbsize();
  assert.equal(keys, 0, 'nothing was written to it');
});
