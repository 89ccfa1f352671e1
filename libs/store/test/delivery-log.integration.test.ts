import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newMessageId } from '@outpost/core';
import { TestRedis } from '@outpost/testing';
import {
  type AttemptRecord,
  capTranscript,
  createDeliveryLog,
  logKeys,
  type RecipientVerdict,
} from '../src/index.ts';

let redis: TestRedis;
before(async () => {
  redis = await TestRedis.start();
});
after(async () => {
  await redis.stop();
});

const T0 = Date.UTC(2026, 10, 27, 12);

function record(
  time: number,
  domain: string,
  recipients: RecipientVerdict[],
  messageId = newMessageId(time),
): AttemptRecord {
  return {
    id: newMessageId(time),
    messageId,
    domain,
    attempt: 1,
    time,
    durationMs: 120,
    traceId: 'a'.repeat(32),
    mxHost: `mx.${domain}`,
    mxAddress: '192.0.2.1',
    recipients,
    sessions: [
      {
        host: `mx.${domain}`,
        address: '192.0.2.1',
        port: 25,
        tls: true,
        greeted: true,
        durationMs: 100,
        transcript: [{ at: 0, direction: 'S', text: '220 ready' }],
      },
    ],
  };
}

const verdict = (
  address: string,
  status: RecipientVerdict['status'],
  replyCode: number,
  category: string,
): RecipientVerdict => ({
  address,
  verdict: status === 'delivered' ? 'delivered' : status === 'deferred' ? 'deferred' : 'bounced',
  status,
  enhancedStatus: `${String(replyCode)[0]}.0.0`,
  category,
  replyCode,
  replyText: `${replyCode} reply`,
});

test('records are queryable by status (failed = bounced or expired), domain, recipient, category and code', async () => {
  const log = createDeliveryLog(redis.client());
  await log.write(
    record(T0, 'a.test', [
      verdict('x@a.test', 'delivered', 250, 'delivered'),
      verdict('y@a.test', 'bounced', 550, 'no_such_user'),
    ]),
  );
  await log.write(record(T0 + 1000, 'b.test', [verdict('z@b.test', 'deferred', 451, 'greylisted')]));
  await log.write(record(T0 + 2000, 'b.test', [verdict('z@b.test', 'expired', 451, 'greylisted')]));
  const addresses = async (query: Parameters<typeof log.deliveries>[0]) =>
    (await log.deliveries(query)).entries.map((entry) => `${entry.address}:${entry.status}`);
  assert.deepEqual(await addresses({ status: 'failed' }), ['z@b.test:expired', 'y@a.test:bounced']);
  assert.deepEqual(await addresses({ status: 'delivered' }), ['x@a.test:delivered']);
  assert.deepEqual(await addresses({ domain: 'B.test' }), ['z@b.test:expired', 'z@b.test:deferred']);
  assert.deepEqual(await addresses({ recipient: 'z@b.test', status: 'deferred' }), ['z@b.test:deferred']);
  assert.deepEqual(await addresses({ category: 'no_such_user' }), ['y@a.test:bounced']);
  assert.deepEqual(await addresses({ code: 451 }), ['z@b.test:expired', 'z@b.test:deferred']);
  assert.deepEqual(await addresses({ since: T0 + 500, until: T0 + 1500 }), ['z@b.test:deferred']);
  const [entry] = (await log.deliveries({ category: 'no_such_user' })).entries;
  assert.equal(entry?.traceId, 'a'.repeat(32));
  assert.equal(entry?.domain, 'a.test');
});

test('pagination walks newest to oldest without repeats or gaps', async () => {
  const log = createDeliveryLog(redis.client());
  for (let i = 0; i < 25; i++) {
    // Pairs with equal timestamps test the cursor's tie handling.
    await log.write(
      record(T0 + 10_000 + Math.floor(i / 2), 'page.test', [
        verdict(`u${i}@page.test`, 'delivered', 250, 'delivered'),
      ]),
    );
  }
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await log.deliveries({ domain: 'page.test', limit: 7, ...(cursor && { cursor }) });
    seen.push(...page.entries.map((entry) => entry.address));
    cursor = page.cursor;
  } while (cursor);
  assert.equal(seen.length, 25);
  assert.equal(new Set(seen).size, 25);
});

test('a message view has its attempts, recipient states and operator actions', async () => {
  const log = createDeliveryLog(redis.client());
  const messageId = newMessageId(T0);
  await log.write(record(T0, 'm.test', [verdict('a@m.test', 'deferred', 451, 'busy_try_later')], messageId));
  await log.setRecipientStates(messageId, [
    { address: 'a@m.test', status: 'held', updatedAt: T0, attempts: 1, by: 'ops' },
  ]);
  await log.recordAction(messageId, { time: T0, action: 'hold', by: 'ops' });
  const view = await log.message(messageId);
  assert.equal(view?.attempts.length, 1);
  assert.equal(view?.attempts[0]?.sessions[0]?.transcript?.[0]?.text, '220 ready');
  assert.deepEqual(
    view?.recipients.map((state) => state.status),
    ['held'],
  );
  assert.deepEqual(
    view?.actions.map((action) => `${action.action}:${action.by}`),
    ['hold:ops'],
  );
  assert.equal(await log.message(newMessageId(T0 + 5)), undefined);
});

test("a record can carry the message's metadata and delete the keys that end with it, in the same script", async () => {
  const client = redis.client();
  const log = createDeliveryLog(client);
  const messageId = newMessageId(T0);
  const ending = ['{outpost}:test:body', '{outpost}:test:mark'];
  for (const key of ending) await client.set(key, 'x');
  await client.set('{outpost}:test:other', 'stays');
  const first = record(
    T0,
    'extras.test',
    [verdict('a@extras.test', 'delivered', 250, 'delivered')],
    messageId,
  );
  await log.write(first, [], { meta: { sender: 's@extras.test', size: 42 }, alsoDelete: ending });
  assert.equal(await client.exists(...ending), 0, 'the ending keys are gone');
  assert.equal(await client.get('{outpost}:test:other'), 'stays', 'and nothing else');
  const view = await log.message(messageId);
  assert.deepEqual(view?.meta, { sender: 's@extras.test', size: 42 });
  assert.ok((await client.pttl(logKeys.messageMeta(messageId))) > 0, 'the metadata expires with the log');
  // The index entries still point where they should with the extra keys in between.
  const byRecipient = await log.deliveries({ recipient: 'a@extras.test' });
  assert.deepEqual(
    byRecipient.entries.map((entry) => entry.attemptId),
    [first.id],
  );
  assert.equal((await log.deliveries({ domain: 'extras.test', status: 'delivered' })).entries.length, 1);
  // A later attempt without metadata leaves the first one's in place.
  await log.write(
    record(T0 + 1, 'extras.test', [verdict('a@extras.test', 'delivered', 250, 'delivered')], messageId),
  );
  assert.deepEqual((await log.message(messageId))?.meta, { sender: 's@extras.test', size: 42 });
});

test('retention by total bytes drops the oldest records first', async () => {
  const local = await TestRedis.start();
  try {
    const log = createDeliveryLog(local.client(), {
      maxAgeMs: 86_400_000,
      maxBytes: 4_000,
      maxTranscriptBytes: 1_000,
    });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const entry = record(T0 + i, 'size.test', [verdict(`s${i}@size.test`, 'delivered', 250, 'delivered')]);
      ids.push(entry.messageId);
      await log.write(entry);
    }
    assert.ok((await log.usedBytes()) <= 4_000, `used ${await log.usedBytes()} bytes`);
    assert.equal(await log.message(ids[0]!).then((view) => view?.attempts.length ?? 0), 0, 'oldest gone');
    assert.equal(await log.message(ids[19]!).then((view) => view?.attempts.length), 1, 'newest kept');
  } finally {
    await local.stop();
  }
});

test('trimBySize drops just enough of the oldest records to get 1% under the budget, and the log stays consistent', async () => {
  const local = await TestRedis.start();
  try {
    const client = local.client();
    const unbounded = { maxAgeMs: 86_400_000, maxBytes: 1e9, maxTranscriptBytes: 10_000 };
    const ids: string[] = [];
    const messageIds: string[] = [];
    for (let i = 0; i < 60; i++) {
      // Records of different sizes, two recipients each: the count dropped follows the bytes.
      const entry = record(T0 + i, 'trim.test', [
        verdict(`t${i}@trim.test`, 'delivered', 250, 'delivered'),
        verdict(`u${i}@trim.test`, 'bounced', 550, 'no_such_user'),
      ]);
      entry.sessions[0]!.transcript!.push({ at: 1, direction: 'S', text: 'y'.repeat(50 + ((i * 37) % 400)) });
      ids.push(entry.id);
      messageIds.push(entry.messageId);
      await createDeliveryLog(client, unbounded).write(entry);
    }
    const sizes = (await client.hmget(logKeys.sizes, ...ids)).map(Number);
    const total = sizes.reduce((sum, size) => sum + size, 0);
    assert.equal(await createDeliveryLog(client, unbounded).usedBytes(), total);

    // A budget that 35 to 40 of the oldest records have to make room for: more than one batch.
    const budget = total - sizes.slice(0, 37).reduce((sum, size) => sum + size, 0) - 1;
    // A trim goes 1% under the budget, so that the next writes do not each trim again.
    const target = budget - Math.floor(budget / 100);
    let expected = 0;
    for (let left = total; left > target; expected++) left -= sizes[expected]!;
    const log = createDeliveryLog(client, { ...unbounded, maxBytes: budget });
    assert.equal(await log.trimBySize(), expected, 'as many records as the excess takes, no more');
    const used = await log.usedBytes();
    assert.ok(used <= target, `1% under the budget (${used} of ${budget})`);
    assert.ok(used + sizes[expected - 1]! > target, 'the last record dropped was needed');

    const dropped = ids.slice(0, expected);
    const kept = ids.slice(expected);
    assert.deepEqual(await client.zrange(logKeys.records, '0', '-1'), kept, 'the oldest went, in order');
    assert.equal(await client.exists(...dropped.map(logKeys.record)), 0);
    assert.equal(await client.exists(...kept.map(logKeys.record)), kept.length);
    assert.deepEqual((await client.hkeys(logKeys.sizes)).sort(), [...kept].sort(), 'size entries follow');
    assert.equal(
      used,
      (await client.hvals(logKeys.sizes)).reduce((sum, size) => sum + Number(size), 0),
      'the byte count is the sum of the sizes kept',
    );
    // Index entries of dropped records stay until age trimming; reads skip them.
    const entries = (await log.deliveries({ domain: 'trim.test', limit: 500 })).entries;
    assert.deepEqual(
      new Set(entries.map((entry) => entry.attemptId)),
      new Set(kept),
      'every kept record is found through the index, and no dropped one',
    );
    assert.equal(entries.length, kept.length * 2);
    assert.equal(
      (await log.deliveries({ status: 'failed', limit: 500 })).entries.length,
      kept.length,
      'the status index too',
    );
    assert.equal(await log.message(messageIds[0]!).then((view) => view?.attempts.length ?? 0), 0);
    assert.equal(await log.message(messageIds[expected]!).then((view) => view?.attempts.length), 1);

    assert.equal(await log.trimBySize(), 0, 'under the budget: nothing more goes');
    assert.equal(await log.usedBytes(), used);
  } finally {
    await local.stop();
  }
});

test('retention by age drops old records and their index entries', async () => {
  const local = await TestRedis.start();
  try {
    const log = createDeliveryLog(local.client(), {
      maxAgeMs: 60_000,
      maxBytes: 1e9,
      maxTranscriptBytes: 1_000,
    });
    const now = Date.now();
    await log.write(
      record(now - 120_000, 'age.test', [verdict('old@age.test', 'bounced', 550, 'no_such_user')]),
    );
    await log.write(record(now, 'age.test', [verdict('new@age.test', 'bounced', 550, 'no_such_user')]));
    assert.equal(await log.trimByAge(now), 1);
    const entries = (await log.deliveries({ domain: 'age.test' })).entries.map((entry) => entry.address);
    assert.deepEqual(entries, ['new@age.test']);
    assert.equal(await local.client().zcard('{outpost}:log:idx:domain:age.test'), 1);
  } finally {
    await local.stop();
  }
});

test('a record survives kill -9 of Redis and a restart from the AOF', async () => {
  const local = await TestRedis.start();
  try {
    const log = createDeliveryLog(local.client());
    const entry = record(Date.now(), 'aof.test', [verdict('k@aof.test', 'delivered', 250, 'delivered')]);
    await log.write(entry);
    await local.kill();
    await local.start();
    const view = await createDeliveryLog(local.client()).message(entry.messageId);
    assert.equal(view?.attempts[0]?.id, entry.id);
  } finally {
    await local.stop();
  }
});

test('transcripts are capped in bytes, keeping the start and the decisive end', () => {
  const lines = Array.from({ length: 100 }, (_, i) => ({
    at: i,
    direction: 'S' as const,
    text: `250-line ${i} ${'x'.repeat(40)}`,
  }));
  const capped = capTranscript(lines, 1_000);
  assert.ok(capped.reduce((sum, line) => sum + line.text.length + 16, 0) <= 1_000);
  assert.equal(capped[0]?.text, lines[0]?.text);
  assert.equal(capped.at(-1)?.text, lines[99]?.text);
  assert.match(capped.find((line) => line.direction === '*')?.text ?? '', /lines omitted/);
});

test('many writes over the budget at once trim it once, not once each', async () => {
  const local = await TestRedis.start();
  try {
    const budget = 200_000;
    const log = createDeliveryLog(local.client(), {
      maxAgeMs: 86_400_000,
      maxBytes: budget,
      maxTranscriptBytes: 10_000,
    });
    const entry = (i: number) => {
      const written = record(T0 + i, 'burst.test', [
        verdict(`r${i}@burst.test`, 'delivered', 250, 'delivered'),
      ]);
      written.sessions[0]!.transcript!.push({ at: 1, direction: 'S', text: 'z'.repeat(500) });
      return written;
    };
    // Fill to just under the budget, then 50 writes at once, as 50 concurrent delivery jobs do.
    let i = 0;
    while ((await log.usedBytes()) < budget - 5_000) await log.write(entry(i++));
    await Promise.all(Array.from({ length: 50 }, () => log.write(entry(i++))));
    const used = await log.usedBytes();
    assert.ok(used <= budget, `under the budget (${used})`);
    // Each write trimming on its own would have dropped about 50 x (excess + 1%) of the log.
    assert.ok(used >= budget * 0.9, `most of the log is kept (${used} of ${budget})`);
  } finally {
    await local.stop();
  }
});
