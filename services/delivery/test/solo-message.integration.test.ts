import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deliveryJobId, messageBodyKey, messageJobKey } from '@outpost/queue';
import { logKeys } from '@outpost/store';
import { DeliveryWorld } from './helpers.ts';

// A message for one domain is one solo delivery job with no parent message job (payloads.ts,
// DeliveryJobDataV2): it carries the envelope and finishes the message itself. A message for several
// domains stays a flow, finished by its message job.

describe('solo and flow messages', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
    await world.receiver('127.0.0.2');
    world.mx('one.test', [{ name: 'mx.one.test', priority: 10, a: ['127.0.0.2'] }]);
    world.mx('two.test', [{ name: 'mx.two.test', priority: 10, a: ['127.0.0.2'] }]);
    await world.startDelivery();
  });
  after(async () => {
    await world.stop();
  });

  test('a one-domain message is delivered by one job that leaves no body, mark or message job', async () => {
    const admin = world.redis.client();
    const receiver = world.receivers.get('127.0.0.2')!;
    const before = receiver.messages.length;
    const message = await world.enqueue({ recipients: ['ann@one.test', 'bo@one.test'], subject: 'solo' });
    assert.equal(await admin.exists(messageJobKey(message.id)), 0, 'no message job is written');
    await world.waitForMessageDone(message.id);
    const got = receiver.messages.slice(before);
    assert.equal(got.length, 1, 'one transaction for both recipients');
    assert.deepEqual([...got[0]!.to].sort(), ['ann@one.test', 'bo@one.test']);
    const job = await world.queue('delivery').getJob(deliveryJobId(message.id, 0));
    assert.equal(await job!.getState(), 'completed');
    assert.deepEqual(job!.returnvalue, {
      domain: 'one.test',
      delivered: ['ann@one.test', 'bo@one.test'],
      bounced: [],
      expired: [],
    });
    assert.equal(await admin.exists(messageBodyKey(message.id)), 0, 'the body went with the job');
    assert.deepEqual(await admin.keys('{outpost}:sent:*'), [], 'and so did its send mark');
    const meta = JSON.parse((await admin.get(logKeys.messageMeta(message.id))) ?? '{}');
    assert.deepEqual(
      meta.recipients,
      ['ann@one.test', 'bo@one.test'],
      "the message's metadata is in the log",
    );
  });

  test('when the delivery log cannot take the record, the body and the send mark still go', async () => {
    const admin = world.redis.client();
    const receiver = world.receivers.get('127.0.0.2')!;
    const before = receiver.messages.length;
    // The log's size counter of the wrong type: the record's script fails at its first command.
    const bytes = await admin.get(logKeys.bytes);
    await admin.multi().del(logKeys.bytes).hset(logKeys.bytes, 'broken', '1').exec();
    try {
      const message = await world.enqueue({ recipients: ['fay@one.test'], subject: 'log refused' });
      await world.waitForMessageDone(message.id);
      assert.equal(receiver.messages.length, before + 1, 'delivered');
      assert.equal(await admin.exists(logKeys.messageAttempts(message.id)), 0, 'no record was written');
      assert.equal(await admin.exists(messageBodyKey(message.id)), 0, 'the body is gone all the same');
      assert.deepEqual(await admin.keys('{outpost}:sent:*'), [], 'and so is its send mark');
    } finally {
      await admin
        .multi()
        .del(logKeys.bytes)
        .set(logKeys.bytes, bytes ?? '0')
        .exec();
    }
  });

  test('a two-domain message is still a flow: its message job removes the body once both are done', async () => {
    const admin = world.redis.client();
    const message = await world.enqueue({ recipients: ['cy@one.test', 'di@two.test'], subject: 'flow' });
    assert.equal(await admin.exists(messageJobKey(message.id)), 1, 'the parent message job');
    await world.waitForMessageDone(message.id);
    const delivery = world.queue('delivery');
    for (const index of [0, 1]) {
      const child = await delivery.getJob(deliveryJobId(message.id, index));
      assert.equal(await child!.getState(), 'completed');
      assert.equal(child!.data.v, 1, 'children carry no envelope of their own');
    }
    assert.equal(await admin.exists(messageBodyKey(message.id)), 0);
    assert.deepEqual(await admin.keys('{outpost}:sent:*'), []);
  });

  test('a solo job that finds its body gone (a run lost after finishing it) completes without a session', async () => {
    const admin = world.redis.client();
    const receiver = world.receivers.get('127.0.0.2')!;
    const before = receiver.messages.length;
    const delivery = world.queue('delivery');
    await delivery.pause();
    try {
      const message = await world.enqueue({ recipients: ['ed@one.test'], subject: 'finished already' });
      // What an earlier run leaves when it dies between deleting the body and BullMQ's completion.
      await admin.del(messageBodyKey(message.id));
      await delivery.resume();
      await world.waitForMessageDone(message.id);
      const job = await delivery.getJob(deliveryJobId(message.id, 0));
      assert.deepEqual(job!.returnvalue, { domain: 'one.test', delivered: [], bounced: [], expired: [] });
      assert.equal(receiver.messages.length, before, 'nothing was sent again');
    } finally {
      await delivery.resume();
    }
  });
});
