import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { newMessageId } from '@outpost/core';
import { deliveryJobId } from '@outpost/queue';
import { createDeliveryLog } from '@outpost/store';
import { Redis } from 'ioredis';
import { POSSIBLE_DUPLICATES_KEY } from '../src/process-delivery-job.ts';
import {
  deliveryLockKey,
  JobTakenOverError,
  markSent,
  sentMarkKey,
  updateDeliveryDataIfOwner,
} from '../src/sent-marks.ts';
import { DeliveryWorld } from './helpers.ts';

// A run lost after its final dot leaves a mark; the rerun of that same attempt finds it and counts
// what it delivers again as a possible duplicate (the crash scenarios themselves, with processes
// killed, are in test/reliability/crash-worker.test.ts and redis-restart.test.ts).

const waitUntil = async (condition: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const flagsOf = async (world: DeliveryWorld, messageId: string) => {
  const message = await createDeliveryLog(world.redis.client()).message(messageId);
  return (message?.attempts ?? [])
    .sort((a, b) => a.attempt - b.attempt)
    .map((attempt) =>
      attempt.recipients.map(
        (recipient) => `${recipient.address} ${recipient.status}${recipient.possibleDuplicate ? ' dup' : ''}`,
      ),
    );
};

describe('send marks', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
  });
  after(async () => {
    await world.stop();
  });

  test('a rerun that finds its attempt marked flags the recipients it delivers again, counts them, and clears the mark', async () => {
    await world.receiver('127.0.0.2');
    world.mx('rerun.test', [{ name: 'mx.rerun.test', priority: 10, a: ['127.0.0.2'] }]);
    const admin = world.redis.client();
    const message = await world.enqueue({ recipients: ['bob@rerun.test', 'carol@rerun.test'] });
    // As if a worker had sent the dot for bob in this attempt and died before recording it.
    const key = sentMarkKey(deliveryJobId(message.id, 0), 0);
    await markSent(admin, { key }, ['bob@rerun.test']);
    await world.startDelivery();
    await world.waitForMessageDone(message.id);
    assert.deepEqual(await flagsOf(world, message.id), [
      ['bob@rerun.test delivered dup', 'carol@rerun.test delivered'],
    ]);
    assert.equal(await admin.get(POSSIBLE_DUPLICATES_KEY), '1');
    assert.deepEqual(await admin.keys('{outpost}:sent:*'), [], 'the mark is gone once the job completed');
  });

  test('a marked recipient deferred by the rerun is flagged when a later attempt delivers it', async () => {
    const admin = world.redis.client();
    await admin.del(POSSIBLE_DUPLICATES_KEY);
    await world.receiver('127.0.0.3', {
      rcpt: (ctx) => (ctx.attempt === 1 ? '451 4.3.0 Try again later' : undefined),
    });
    world.mx('later.test', [{ name: 'mx.later.test', priority: 10, a: ['127.0.0.3'] }]);
    // The worker is running: mark first, with the id the message will have.
    const id = newMessageId(Date.now());
    await markSent(admin, { key: sentMarkKey(deliveryJobId(id, 0), 0) }, ['dave@later.test']);
    const message = await world.enqueue({ id, recipients: ['dave@later.test'] });
    await world.waitForMessageDone(message.id);
    assert.deepEqual(await flagsOf(world, message.id), [
      ['dave@later.test deferred'],
      ['dave@later.test delivered dup'],
    ]);
    assert.equal(await admin.get(POSSIBLE_DUPLICATES_KEY), '1', 'counted once, when the copy was made');
    assert.deepEqual(await admin.keys('{outpost}:sent:*'), []);
  });

  test('a run that finds a recipient marked by another run since its preflight flags that copy', async () => {
    const admin = world.redis.client();
    await admin.del(POSSIBLE_DUPLICATES_KEY);
    const id = newMessageId(Date.now());
    const key = sentMarkKey(deliveryJobId(id, 0), 0);
    // Two runs of one attempt overlap (a lock lapsed during a Redis outage): the other run marks
    // frank while this one is in its transaction, after its preflight read the mark.
    await world.receiver('127.0.0.5', {
      rcpt: (ctx) => {
        if (ctx.address !== 'frank@overlap.test') return undefined;
        void admin.sadd(key, 'frank@overlap.test');
        return { delayMs: 300 };
      },
    });
    world.mx('overlap.test', [{ name: 'mx.overlap.test', priority: 10, a: ['127.0.0.5'] }]);
    const message = await world.enqueue({ id, recipients: ['frank@overlap.test', 'gina@overlap.test'] });
    await world.waitForMessageDone(message.id);
    assert.deepEqual(await flagsOf(world, message.id), [
      ['frank@overlap.test delivered dup', 'gina@overlap.test delivered'],
    ]);
    assert.equal(await admin.get(POSSIBLE_DUPLICATES_KEY), '1');
  });

  test('a run whose job lock another run holds withholds its dot, records nothing; the owner delivers once', async () => {
    const admin = world.redis.client();
    await admin.del(POSSIBLE_DUPLICATES_KEY);
    const id = newMessageId(Date.now());
    const lock = deliveryLockKey(deliveryJobId(id, 0));
    const receiver = await world.receiver('127.0.0.6', {
      rcpt: (ctx) => {
        if (ctx.attempt !== 1) return undefined;
        // Another run takes the job over while this one is in its transaction.
        void admin.set(lock, 'token-of-another-run');
        return { delayMs: 300 };
      },
    });
    world.mx('taken.test', [{ name: 'mx.taken.test', priority: 10, a: ['127.0.0.6'] }]);
    const message = await world.enqueue({ id, recipients: ['hal@taken.test'] });
    await waitUntil(() => receiver.events.some((event) => event.stage === 'close'));
    assert.equal(receiver.messages.length, 0, 'the dot was withheld');
    assert.deepEqual(await flagsOf(world, message.id), [], 'the run that lost the job recorded nothing');
    assert.deepEqual(await admin.keys('{outpost}:sent:*'), [], 'nor marked anything');
    // The other run "dies": its lock goes, the job is stalled and runs again.
    await admin.del(lock);
    await world.waitForMessageDone(message.id);
    assert.equal(receiver.messages.length, 1);
    assert.deepEqual(await flagsOf(world, message.id), [['hal@taken.test delivered']]);
    assert.equal(await admin.get(POSSIBLE_DUPLICATES_KEY), null);
  });

  test('an ordinary run leaves no mark behind and flags nothing', async () => {
    const admin = world.redis.client();
    await admin.del(POSSIBLE_DUPLICATES_KEY);
    const receiver = await world.receiver('127.0.0.4', {
      rcpt: (ctx) => (ctx.attempt === 1 ? '450 4.2.1 Busy' : undefined),
    });
    world.mx('plain.test', [{ name: 'mx.plain.test', priority: 10, a: ['127.0.0.4'] }]);
    const message = await world.enqueue({ recipients: ['erin@plain.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await receiver.waitForMessages(1)).length, 1);
    assert.deepEqual(await flagsOf(world, message.id), [
      ['erin@plain.test deferred'],
      ['erin@plain.test delivered'],
    ]);
    assert.equal(await admin.get(POSSIBLE_DUPLICATES_KEY), null);
    assert.deepEqual(await admin.keys('{outpost}:sent:*'), []);
  });
});

describe('the mark and payload scripts against Redis', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
  });
  after(async () => {
    await world.stop();
  });

  test('returns the recipients that were already marked, and marks them all', async () => {
    const redis = world.redis.client();
    assert.deepEqual(await markSent(redis, { key: 'm1' }, ['a@x.test', 'b@x.test']), []);
    assert.deepEqual(await markSent(redis, { key: 'm1' }, ['b@x.test', 'c@x.test']), ['b@x.test']);
    assert.deepEqual((await redis.smembers('m1')).sort(), ['a@x.test', 'b@x.test', 'c@x.test']);
    assert.ok((await redis.ttl('m1')) > 86_400, 'the mark outlives any rerun');
  });

  test("marks when the lock holds this run's token or has lapsed; refuses, marking nothing, when another run holds it", async () => {
    const redis = world.redis.client();
    const lock = { key: 'job:lock', token: 'mine' };
    assert.deepEqual(await markSent(redis, { key: 'm2', lock }, ['a@x.test']), [], 'no lock: lapsed');
    await redis.set('job:lock', 'mine');
    assert.deepEqual(await markSent(redis, { key: 'm2', lock }, ['b@x.test']), []);
    await redis.set('job:lock', 'theirs');
    await assert.rejects(markSent(redis, { key: 'm2', lock }, ['c@x.test']), JobTakenOverError);
    assert.deepEqual((await redis.smembers('m2')).sort(), ['a@x.test', 'b@x.test']);
  });

  test("rewrites the job payload only while the lock holds this run's token", async () => {
    const redis = world.redis.client();
    const hash = '{outpost}:delivery:m1.d0';
    const lock = deliveryLockKey('m1.d0');
    await redis.hset(hash, 'data', '{"attempts":0}', 'name', 'deliver');
    const job = { id: 'm1.d0', token: 'mine' };
    await assert.rejects(
      updateDeliveryDataIfOwner(redis, job, { attempts: 1 }),
      JobTakenOverError,
      'no lock',
    );
    await redis.set(lock, 'theirs');
    await assert.rejects(updateDeliveryDataIfOwner(redis, job, { attempts: 1 }), JobTakenOverError);
    assert.equal(await redis.hget(hash, 'data'), '{"attempts":0}', "the owner's payload is untouched");
    await redis.set(lock, 'mine');
    await updateDeliveryDataIfOwner(redis, job, { attempts: 1 });
    assert.deepEqual(await redis.hgetall(hash), { data: '{"attempts":1}', name: 'deliver' });
    await redis.del(hash);
    await assert.rejects(
      updateDeliveryDataIfOwner(redis, job, { attempts: 2 }),
      JobTakenOverError,
      'a job that is gone is not recreated',
    );
    assert.equal(await redis.exists(hash), 0);
  });
});

describe('markSent', () => {
  let silent: Server;
  const sockets: Socket[] = [];
  before(async () => {
    // Accepts connections and never answers: a Redis that has stopped responding.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  test('rejects when Redis does not confirm the mark in time (the dot is then withheld)', async () => {
    const port = (silent.address() as { port: number }).port;
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: null });
    redis.on('error', () => {});
    try {
      await assert.rejects(
        markSent(redis, { key: 'k' }, ['bob@x.test'], 200),
        /did not record the send within 200 ms/,
      );
    } finally {
      redis.disconnect();
    }
  });
});
