import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newMessageId } from '@outpost/core';
import { TestRedis } from '@outpost/testing';
import type { Redis } from 'ioredis';
import { type AttemptRecord, createDeliveryLog, logKeys, type RecipientState } from '../src/index.ts';

/**
 * What one attempt's write costs Redis: one script call (by SHA1) for the record, its indexes and
 * the recipients' states, and no read of the byte count unless the write takes the log over its budget.
 */

let redis: TestRedis;
let admin: Redis;
before(async () => {
  redis = await TestRedis.start();
  admin = redis.client();
});
after(async () => {
  await redis.stop();
});

/** Calls per command since the last reset, from INFO commandstats. */
async function commandCalls(client: Redis = admin): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await client.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm))
    calls.set(match[1]!, Number(match[2]));
  return calls;
}

function attempt(time: number, messageId: string, addresses: string[]): AttemptRecord {
  return {
    id: newMessageId(time),
    messageId,
    domain: 'calls.test',
    attempt: 1,
    time,
    durationMs: 80,
    recipients: addresses.map((address) => ({
      address,
      verdict: 'bounced',
      status: 'bounced',
      enhancedStatus: '5.1.1',
      category: 'no_such_user',
      replyCode: 550,
      replyText: '550 5.1.1 no such user',
    })),
    sessions: [],
  };
}

const statesOf = (record: AttemptRecord): RecipientState[] =>
  record.recipients.map((recipient) => ({
    address: recipient.address,
    status: recipient.status,
    updatedAt: record.time,
    attempts: record.attempt,
  }));

test('a write under the budget is one EVALSHA with one SADD, the states included, and no GET', async () => {
  const log = createDeliveryLog(redis.client());
  const time = Date.now();
  const messageId = newMessageId(time);
  // The first write of a process (or after a Redis restart) also sends the script's text once.
  const first = attempt(time, newMessageId(time), ['first@calls.test']);
  await log.write(first, statesOf(first));
  const record = attempt(time, messageId, ['a@calls.test', 'b@calls.test']);
  await admin.config('RESETSTAT');
  await log.write(record, statesOf(record));
  const calls = await commandCalls();
  assert.equal(calls.get('evalsha'), 1, 'one command on the wire');
  assert.equal(calls.get('eval'), undefined, 'the script is not sent again');
  assert.equal(calls.get('multi'), undefined);
  assert.equal(
    calls.get('zadd'),
    2 * 7 + 2,
    'per recipient all, status, domain, rcpt, cat, code, failed; time and message',
  );
  assert.equal(calls.get('hset'), 1 + 2, 'the record size, then each recipient state');
  assert.equal(calls.get('sadd'), 1, 'one SADD names every index of both recipients');
  assert.equal(calls.get('get'), undefined, 'the budget is checked from the INCRBY reply');

  const indexes = await admin.smembers(logKeys.indexes);
  for (const key of [
    logKeys.index('rcpt', 'a@calls.test'),
    logKeys.index('rcpt', 'b@calls.test'),
    logKeys.index('status', 'failed'),
    logKeys.index('code', '550'),
  ])
    assert.ok(indexes.includes(key), `${key} is listed for age trimming`);
  const view = await log.message(messageId);
  assert.equal(view?.attempts[0]?.id, record.id);
  assert.deepEqual(view?.recipients.map((state) => state.address).sort(), ['a@calls.test', 'b@calls.test']);
  assert.deepEqual(
    (await log.deliveries({ recipient: 'b@calls.test', status: 'failed' })).entries.map(
      (entry) => entry.attemptId,
    ),
    [record.id],
  );
});

test('the write that takes the log over its byte budget trims the oldest records', async () => {
  const local = await TestRedis.start();
  try {
    const log = createDeliveryLog(local.client(), {
      maxAgeMs: 86_400_000,
      maxBytes: 2_000,
      maxTranscriptBytes: 0,
    });
    const time = Date.now();
    const ids: string[] = [];
    let size = 0;
    while (size <= 2_000) {
      const record = attempt(time + ids.length, newMessageId(time), [`r${ids.length}@calls.test`]);
      ids.push(record.id);
      await log.write(record, statesOf(record));
      size += JSON.stringify(record).length;
    }
    assert.ok((await log.usedBytes()) <= 2_000, `used ${await log.usedBytes()} bytes`);
    const kept = await local.client().zrange(logKeys.records, '0', '-1');
    assert.ok(!kept.includes(ids[0]!), 'the oldest record is gone');
    // Under the budget again: the next write is kept, and the count matches what is stored.
    const next = attempt(time + ids.length, newMessageId(time), ['next@calls.test']);
    await log.write(next, statesOf(next));
    assert.ok((await local.client().zrange(logKeys.records, '0', '-1')).includes(next.id));
    const sizes = await local.client().hvals(logKeys.sizes);
    assert.equal(
      await log.usedBytes(),
      sizes.reduce((total, size) => total + Number(size), 0),
    );
  } finally {
    await local.stop();
  }
});

test('a write over the budget drops the oldest records down to 1% under it, without reading the byte count', async () => {
  const local = await TestRedis.start();
  try {
    const client = local.client();
    const time = Date.now();
    const records = Array.from({ length: 31 }, (_, i) =>
      attempt(time + i, newMessageId(time), [`o${String(i).padStart(2, '0')}@calls.test`]),
    );
    const size = (record: AttemptRecord) => JSON.stringify(record).length;
    // The budget holds exactly the first 30 records.
    const budget = records.slice(0, 30).reduce((sum, record) => sum + size(record), 0);
    const log = createDeliveryLog(client, { maxAgeMs: 86_400_000, maxBytes: budget, maxTranscriptBytes: 0 });
    for (const record of records.slice(0, 30)) await log.write(record);
    assert.equal(await log.usedBytes(), budget);
    assert.equal(await client.zcard(logKeys.records), 30, 'at the budget, nothing dropped');

    await client.config('RESETSTAT');
    await log.write(records[30]!);
    const calls = await commandCalls(client);
    assert.equal(calls.get('get'), undefined, 'the excess comes from the INCRBY reply');
    assert.equal(calls.get('zrange'), 1);
    // One script drops the record with its bookkeeping: by SHA1, and as text once, since this Redis
    // has not seen it yet (NOSCRIPT); the write's own script went by SHA1.
    assert.equal(calls.get('eval'), 1, 'one script drops the record with its bookkeeping');
    assert.equal(calls.get('evalsha'), 2);
    assert.equal(calls.get('zpopmin'), undefined);
    // Trimmed to 1% under the budget, so that the next writes do not each trim again.
    const target = budget - Math.floor(budget / 100);
    let dropped = 0;
    for (let used = budget + size(records[30]!); used > target; dropped++) used -= size(records[dropped]!);
    assert.ok(dropped >= 1 && dropped < 30, `${dropped} dropped`);
    assert.deepEqual(
      await client.zrange(logKeys.records, '0', '-1'),
      records.slice(dropped, 31).map((record) => record.id),
    );
    const left = records.slice(dropped, 31).reduce((sum, record) => sum + size(record), 0);
    assert.equal(await log.usedBytes(), left);
    assert.ok(left <= target);
  } finally {
    await local.stop();
  }
});
