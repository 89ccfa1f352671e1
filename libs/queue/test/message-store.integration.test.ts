import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { type Message, newMessageId, prepareMessage } from '@outpost/core';
import { TestRedis } from '@outpost/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  createFlowMessageWriter,
  deliveryJobId,
  loadQueuedMessage,
  type MessageJobDataV1,
  messageBodyKey,
  messageJobKey,
  oldestQueuedMessage,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  StorageError,
  withKeysInFlowTransaction,
} from '../src/index.ts';

/** The body is stored binary beside its message job, in the flow's own MULTI (MessageJobDataV2). */

let redis: TestRedis;
let admin: Redis;
before(async () => {
  redis = await TestRedis.start();
  admin = redis.client();
});
after(async () => {
  await redis.stop();
});

// Every byte value, CRLFs and a line that starts with a dot: what JSON would escape or re-encode.
const EIGHT_BIT = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte));
const message = (
  body: Buffer = Buffer.from('Hello.\r\n'),
  recipients = [{ address: 'bob@example.net' }, { address: 'carol@example.org' }],
): Message => {
  const now = Date.now();
  return prepareMessage({
    id: newMessageId(now),
    sender: 'alice@example.com',
    recipients,
    dsn: { ret: 'FULL' },
    raw: Buffer.concat([Buffer.from('From: alice@example.com\r\nSubject: store\r\n\r\n'), body]),
    client: { protocol: 'smtp', address: '127.0.0.1', tls: false },
    hostname: 'outpost.test',
    now,
    lifetimeMs: 86_400_000,
  });
};

test('the body is stored as bytes beside a job that no longer carries it, and loads back exactly', async () => {
  const connection = redis.client();
  const writer = createFlowMessageWriter(connection, 'fsync');
  try {
    const original = message(Buffer.concat([EIGHT_BIT, Buffer.from('\r\n.dot\r\n')]));
    await writer.write(original);
    const stored = await admin.getBuffer(messageBodyKey(original.id));
    assert.ok(stored?.equals(original.body), 'the body key holds the exact bytes');
    const data = JSON.parse((await admin.hget(messageJobKey(original.id), 'data')) ?? '{}');
    assert.equal(data.v, 2);
    assert.equal('body' in data, false);
    const loaded = await loadQueuedMessage(connection, original.id);
    assert.ok(loaded);
    assert.ok(loaded.body.equals(original.body));
    assert.deepEqual({ ...loaded, body: null }, { ...original, body: null });
  } finally {
    await writer.close();
  }
});

test('bodies and flows go in one MULTI: the SETs come between MULTI and EXEC, after the jobs', async () => {
  const connection = redis.client();
  const writer = createFlowMessageWriter(connection, 'fsync');
  // MONITOR on a plain socket: each line is `+<time> [0 <client>] "COMMAND" "arg" ...`.
  const seen: string[][] = [];
  const monitor = connect(redis.port, '127.0.0.1');
  let pending = '';
  monitor.setEncoding('latin1');
  monitor.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\r\n');
    pending = lines.pop() ?? '';
    for (const line of lines)
      if (line.startsWith('+') && line !== '+OK')
        seen.push([...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!));
  });
  await new Promise<void>((resolve) => {
    monitor.once('data', () => resolve());
    monitor.write('MONITOR\r\n');
  });
  try {
    const batch = [message(), message(), message()];
    // Written concurrently: group commit puts them in one MULTI.
    await Promise.all(batch.map((entry) => writer.write(entry)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const names = seen.map((args) => args[0]!.toLowerCase());
    const sets = seen.flatMap((args, index) => (args[0]!.toLowerCase() === 'set' ? [index] : []));
    assert.equal(sets.length, batch.length, 'one SET per body');
    for (const index of sets) {
      const multi = names.lastIndexOf('multi', index);
      const exec = names.indexOf('exec', index);
      assert.ok(multi >= 0 && exec > index, `SET ${seen[index]![1]} inside a transaction`);
      assert.ok(
        names.slice(multi, index).some((name) => name === 'evalsha' || name === 'eval'),
        'in the same transaction as the flow',
      );
    }
    assert.deepEqual(
      sets.map((index) => seen[index]![1]),
      batch.map((entry) => messageBodyKey(entry.id)),
    );
  } finally {
    monitor.destroy();
    await writer.close();
  }
});

test('a refused write stores neither the flow nor the body, and says so', async () => {
  const connection = redis.client();
  const writer = createFlowMessageWriter(connection, 'fsync');
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
  await admin.config('SET', 'maxmemory', String(used + 64 * 1024));
  try {
    const big = message(Buffer.alloc(512 * 1024, 'x'));
    await assert.rejects(writer.write(big), StorageError);
    assert.equal(await admin.exists(messageBodyKey(big.id), messageJobKey(big.id)), 0);
  } finally {
    await admin.config('SET', 'maxmemory', '0');
    await writer.close();
  }
});

test('other transactions on the writer connection are left as they are', async () => {
  const connection = redis.client();
  const writer = createFlowMessageWriter(connection, 'fsync');
  try {
    const [written, replies] = await Promise.all([
      writer.write(message()),
      connection.multi().set('{outpost}:test:other', 'x').get('{outpost}:test:other').exec(),
    ]);
    assert.equal(written, undefined);
    assert.deepEqual(replies, [
      [null, 'OK'],
      [null, 'x'],
    ]);
  } finally {
    await writer.close();
  }
});

test('a write that opens no MULTI fails instead of answering without its bodies', async () => {
  await assert.rejects(
    withKeysInFlowTransaction([['{outpost}:test:never', Buffer.from('x')]], async () => 'written'),
    /without a MULTI/,
  );
  assert.equal(await admin.exists('{outpost}:test:never'), 0);
});

test('a v1 job queued before the upgrade, body inline, still loads; a v2 job without its body does not', async () => {
  const queue = new Queue(QUEUE_NAMES.message, { connection: redis.client(), prefix: QUEUE_PREFIX });
  try {
    const old = message(EIGHT_BIT);
    const { body, ...rest } = old;
    const v1: MessageJobDataV1 = { v: 1, ...rest, body: body.toString('latin1') };
    await queue.add('message', v1, { jobId: old.id });
    const loaded = await loadQueuedMessage(redis.client(), old.id);
    assert.ok(loaded?.body.equals(old.body));

    const connection = redis.client();
    const writer = createFlowMessageWriter(connection, 'fsync');
    const lost = message();
    await writer.write(lost);
    await writer.close();
    await admin.del(messageBodyKey(lost.id));
    await assert.rejects(loadQueuedMessage(connection, lost.id), /body of message .* is missing/);
    assert.equal(await loadQueuedMessage(connection, newMessageId(Date.now())), undefined);
  } finally {
    await queue.close();
  }
});

test('a one-domain message is one solo delivery job carrying the envelope, with no message job', async () => {
  const connection = redis.client();
  const writer = createFlowMessageWriter(connection, 'fsync');
  const delivery = new Queue(QUEUE_NAMES.delivery, { connection: redis.client(), prefix: QUEUE_PREFIX });
  try {
    const solo = message(EIGHT_BIT, [{ address: 'bob@example.net' }, { address: 'dave@EXAMPLE.net' }]);
    await writer.write(solo);
    assert.equal(await admin.exists(messageJobKey(solo.id)), 0, 'no parent message job');
    const job = await delivery.getJob(deliveryJobId(solo.id, 0));
    assert.ok(job, 'the solo delivery job');
    assert.equal(job.parent, undefined);
    assert.equal(await job.getState(), 'waiting');
    const { body, ...envelope } = solo;
    assert.deepEqual(job.data, {
      v: 2,
      messageId: solo.id,
      domain: 'example.net',
      recipients: solo.recipients,
      sender: solo.sender,
      dsn: solo.dsn,
      arrivalTime: solo.arrivalTime,
      expiresAt: solo.expiresAt,
      attempts: 0,
      message: { v: 2, ...envelope },
    });
    assert.ok((await admin.getBuffer(messageBodyKey(solo.id)))?.equals(body), 'the body beside it');
    const loaded = await loadQueuedMessage(connection, solo.id);
    assert.ok(loaded?.body.equals(body));
    assert.deepEqual({ ...loaded, body: null }, { ...solo, body: null });
    // Finished (the body gone) while its completed job is kept a while: no longer queued.
    await admin.del(messageBodyKey(solo.id));
    assert.equal(await loadQueuedMessage(connection, solo.id), undefined);
  } finally {
    await delivery.close();
    await writer.close();
  }
});

test('the oldest unfinished message is found among flows and retried solo jobs, from ids alone', async () => {
  const fresh = await TestRedis.start();
  const client = fresh.client();
  const queues = {
    message: new Queue(QUEUE_NAMES.message, { connection: client, prefix: QUEUE_PREFIX }),
    delivery: new Queue(QUEUE_NAMES.delivery, { connection: client, prefix: QUEUE_PREFIX }),
  };
  const writer = createFlowMessageWriter(fresh.client(), 'fsync');
  try {
    assert.equal(await oldestQueuedMessage(queues), undefined, 'an empty queue has none');
    const at = Date.now() - 3_600_000;
    const withId = (minutes: number, recipients?: { address: string }[]) => ({
      ...message(undefined, recipients),
      id: newMessageId(at + minutes * 60_000),
    });
    const oldSolo = withId(0, [{ address: 'a@one.example' }]);
    const flow = withId(10);
    const newSolo = withId(20, [{ address: 'b@two.example' }]);
    for (const entry of [newSolo, flow, oldSolo]) await writer.write(entry);
    // Both solo messages are being retried (moved from wait to delayed, scored as BullMQ does:
    // due * 0x1000): the old one is due last, after the newer one.
    const key = (name: string) => `${QUEUE_PREFIX}:${QUEUE_NAMES.delivery}:${name}`;
    const due = Date.now() + 60_000;
    for (const [entry, dueAt] of [
      [newSolo, due],
      [oldSolo, due + 9],
    ] as const) {
      assert.equal(await client.lrem(key('wait'), 0, deliveryJobId(entry.id, 0)), 1);
      await client.zadd(key('delayed'), dueAt * 0x1000, deliveryJobId(entry.id, 0));
    }
    assert.deepEqual(await oldestQueuedMessage(queues), { messageId: oldSolo.id, arrivalTime: at });
    await client.zrem(key('delayed'), deliveryJobId(oldSolo.id, 0));
    assert.deepEqual(await oldestQueuedMessage(queues), { messageId: flow.id, arrivalTime: at + 600_000 });
  } finally {
    await writer.close();
    await Promise.all([queues.message.close(), queues.delivery.close()]);
    await fresh.stop();
  }
});
