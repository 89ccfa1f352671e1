import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { newMessageId } from '@outpost/core';
import { deliveryJobId } from '@outpost/queue';
import { createDeliveryLog } from '@outpost/store';
import { Redis } from 'ioredis';
import { POSSIBLE_DUPLICATES_KEY } from '../src/process-delivery-job.ts';
import { markSent, sentMarkKey } from '../src/sent-marks.ts';
import { DeliveryWorld } from './helpers.ts';

// A run lost after its final dot leaves a mark; the rerun of that same attempt finds it and counts
// what it delivers again as a possible duplicate (the crash scenarios themselves, with processes
// killed, are in test/reliability/crash-worker.test.ts and redis-restart.test.ts).

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
    await markSent(admin, key, ['bob@rerun.test']);
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
    await markSent(admin, sentMarkKey(deliveryJobId(id, 0), 0), ['dave@later.test']);
    const message = await world.enqueue({ id, recipients: ['dave@later.test'] });
    await world.waitForMessageDone(message.id);
    assert.deepEqual(await flagsOf(world, message.id), [
      ['dave@later.test deferred'],
      ['dave@later.test delivered dup'],
    ]);
    assert.equal(await admin.get(POSSIBLE_DUPLICATES_KEY), '1', 'counted once, when the copy was made');
    assert.deepEqual(await admin.keys('{outpost}:sent:*'), []);
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
        markSent(redis, 'k', ['bob@x.test'], 200),
        /did not record the send within 200 ms/,
      );
    } finally {
      redis.disconnect();
    }
  });
});
