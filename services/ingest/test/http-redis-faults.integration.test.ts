import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestRedis } from '@outpost/testing';
import { openQueues, totalJobs } from './helpers.ts';
import { getPath, postMessage, startHttpTestIngest } from './http-helpers.ts';

const MESSAGE = { from: 'alice@example.com', to: ['bob@example.org'], subject: 'trouble', text: 'x' };

/** Polls until `check` passes (the memory guard and the reconnect work on their own clocks). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}

describe('HTTP API with Redis in trouble', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(env: Record<string, string> = {}) {
    const redis = await TestRedis.start();
    cleanups.push(() => redis.stop());
    const ingest = await startHttpTestIngest(redis, env);
    cleanups.push(() => ingest.stop());
    const queues = openQueues(redis);
    cleanups.push(() => queues.close());
    return { redis, queues, port: ingest.addresses.http.port };
  }

  test('Redis down: 503 with Retry-After within 5 s, readyz 503, healthz 200; the Idempotency-Key works once it is back', async () => {
    const { redis, queues, port } = await setup();
    await redis.kill();
    const started = Date.now();
    const answer = await postMessage(port, MESSAGE, { headers: { 'idempotency-key': 'during-outage' } });
    assert.ok(Date.now() - started < 5_000, `answered after ${Date.now() - started} ms`);
    assert.equal(answer.status, 503);
    assert.equal(answer.json.error.code, 'storage_unavailable');
    assert.equal(answer.headers.get('retry-after'), '10');
    const withoutKey = await postMessage(port, MESSAGE);
    assert.equal(withoutKey.status, 503);
    assert.equal(withoutKey.json.error.code, 'storage_unavailable');

    const ready = await getPath(port, '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(JSON.parse(ready.text).checks.redis, 'unreachable');
    assert.equal((await getPath(port, '/healthz')).status, 200, 'the process itself is alive');

    await redis.start();
    await eventually(async () => (await getPath(port, '/readyz')).status === 200);
    assert.equal(await totalJobs(queues), 0, 'nothing was stored during the outage');
    const retry = await postMessage(port, MESSAGE, { headers: { 'idempotency-key': 'during-outage' } });
    assert.equal(retry.status, 202, JSON.stringify(retry.json));
  });

  test('above the high-water mark: 507 with Retry-After, readyz 503, nothing stored', async () => {
    const { queues, port } = await setup({ OUTPOST_REDIS_HIGH_WATER: '1' });
    const answer = await postMessage(port, MESSAGE);
    assert.equal(answer.status, 507);
    assert.equal(answer.json.error.code, 'storage_full');
    assert.equal(answer.headers.get('retry-after'), '60');
    const ready = await getPath(port, '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(JSON.parse(ready.text).checks.memory, 'above high-water mark');
    assert.equal(await totalJobs(queues), 0);
  });

  test('a refusal after the Idempotency-Key was claimed releases it: the retry is processed for real', async () => {
    // 80% mark of a maxmemory just above what Redis uses: the guard refuses, Redis still takes writes.
    const { redis, queues, port } = await setup({ OUTPOST_REDIS_HIGH_WATER: '80%' });
    const admin = redis.client();
    const used = Number((await admin.info('memory')).match(/used_memory:(\d+)/)![1]);
    await admin.config('SET', 'maxmemory', String(Math.ceil(used / 0.9)));
    await eventually(async () => (await getPath(port, '/readyz')).status === 503);
    const headers = { 'idempotency-key': 'while-full' };
    const refused = await postMessage(port, MESSAGE, { headers });
    assert.equal(refused.status, 507);

    await admin.config('SET', 'maxmemory', '0');
    await eventually(async () => (await getPath(port, '/readyz')).status === 200);
    const retry = await postMessage(port, MESSAGE, { headers });
    assert.equal(retry.status, 202, JSON.stringify(retry.json));
    assert.equal(retry.headers.get('idempotent-replayed'), null, 'a new answer, not a replay');
    // A one-domain message is one solo delivery job.
    assert.equal(await totalJobs(queues), 1, 'one message: its one delivery job');
  });
});
