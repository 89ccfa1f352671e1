import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newMessageId } from '@outpost/core';
import { controlKeys, type WebhookEvent } from '@outpost/queue';
import { DeliveryWorld, waitFor } from './helpers.ts';

let world: DeliveryWorld;
before(async () => {
  world = await DeliveryWorld.start();
  // Delivery only queues the events; the URL is for the webhook worker.
  await world.startDelivery({ OUTPOST_WEBHOOK_URLS: 'http://127.0.0.1:9/hooks' });
});
after(async () => {
  await world.stop();
});

test('each recipient outcome is queued for the webhooks', async () => {
  await world.receiver('127.0.0.2', {
    rcpt: (ctx) => (ctx.address.startsWith('nobody') ? '550 5.1.1 No such user' : undefined),
  });
  world.mx('hooks.test', [{ name: 'mx.hooks.test', priority: 10, a: ['127.0.0.2'] }]);
  const message = await world.enqueue({ recipients: ['bob@hooks.test', 'nobody@hooks.test'] });
  await world.waitForMessageDone(message.id);
  const jobs = await world.queue('webhook').getJobs(['waiting', 'delayed', 'active']);
  const events = jobs
    .map((job) => job.data as WebhookEvent)
    .filter((event) => event.messageId === message.id)
    .map((event) => [event.recipient, event.event, event.enhancedStatus, event.category])
    .sort();
  assert.deepEqual(events, [
    ['bob@hooks.test', 'delivered', '2.0.0', 'delivered'],
    ['nobody@hooks.test', 'bounced', '5.1.1', 'no_such_user'],
  ]);
});

test('a held message is not attempted until released', async () => {
  const receiver = await world.receiver('127.0.0.3');
  world.mx('held.test', [{ name: 'mx.held.test', priority: 10, a: ['127.0.0.3'] }]);
  const admin = world.redis.client();
  const id = newMessageId();
  await admin.set(controlKeys.heldMessage(id), 'ops');
  const message = await world.enqueue({ id, recipients: ['bob@held.test'], subject: 'held' });
  const deliveryQueue = world.queue('delivery');
  await waitFor(
    async () => (await deliveryQueue.getJob(`${id}.d0`)?.then((job) => job?.getState())) === 'delayed',
    5_000,
    'the held job to wait',
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(receiver.sessions, 0, 'not attempted while held');
  const job = await deliveryQueue.getJob(`${id}.d0`);
  assert.equal(job?.data.attempts, 0, 'a hold is not an attempt');
  await admin.del(controlKeys.heldMessage(id));
  await job?.promote();
  await world.waitForMessageDone(message.id);
  assert.equal(receiver.messages.length, 1);
});

test('a held message expires at the end of its lifetime, not at the next look a minute later', async () => {
  world.mx('held-expiring.test', [{ name: 'mx.held-expiring.test', priority: 10, a: ['127.0.0.3'] }]);
  const admin = world.redis.client();
  const id = newMessageId();
  await admin.set(controlKeys.heldMessage(id), 'ops');
  await world.enqueue({ id, recipients: ['bob@held-expiring.test'], expiresInMs: 2_000 });
  // The hold looks again after HELD_RECHECK_MS (60 s) unless the lifetime ends first.
  await world.waitForMessageDone(id, 10_000);
  const [bounce] = (await world.bounces()).filter((entry) => entry.messageId === id);
  assert.equal(bounce?.recipients[0]?.status, 'expired');
});
