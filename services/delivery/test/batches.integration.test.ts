import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type DeliveryJobData, deliveryJobId } from '@outpost/queue';
import { DeliveryWorld, waitFor } from './helpers.ts';

// More recipients than one transaction takes (OUTPOST_MAX_RECIPIENTS_PER_TRANSACTION) are sent in
// batches over the same connection. When the connection fails before the first batch, the batches
// never sent must leave the attempt deferred with it, not without an outcome (which would drop them
// from the job's retry: mail lost without a bounce).

describe('recipients in several transactions', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
    await world.startDelivery({ OUTPOST_MAX_RECIPIENTS_PER_TRANSACTION: '2' });
  });
  after(async () => {
    await world.stop();
  });

  test('a destination refusing connections defers every batch, and all arrive once it is back', async () => {
    world.mx('batches.test', [{ name: 'mx.batches.test', priority: 10, a: ['127.0.0.2'] }]);
    const recipients = ['a', 'b', 'c', 'd', 'e'].map((name) => `${name}@batches.test`);
    const message = await world.enqueue({ recipients, subject: 'five recipients, batches of two' });
    const delivery = world.queue('delivery');
    let deferred: DeliveryJobData | undefined;
    await waitFor(
      async () => {
        const job = await delivery.getJob(deliveryJobId(message.id, 0));
        if (!job || (await job.getState()) !== 'delayed') return false;
        deferred = job.data as DeliveryJobData;
        return true;
      },
      10_000,
      'the first attempt to be deferred',
    );
    assert.deepEqual(
      deferred!.recipients.map((recipient) => recipient.address).sort(),
      recipients,
      'every recipient waits for the retry, not only the first batch',
    );

    const receiver = await world.receiver('127.0.0.2');
    await world.waitForMessageDone(message.id, 30_000);
    const arrived = receiver.messages.flatMap((received) => received.to).sort();
    assert.deepEqual(arrived, recipients);
    assert.equal(receiver.messages.length, 3, 'in three transactions of at most two');
  });
});
