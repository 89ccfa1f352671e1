import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { QUEUE_NAMES, QUEUE_PREFIX } from '@outpost/queue';
import { type OutpostProcess, spawnOutpost } from '@outpost/testing';
import { Worker } from 'bullmq';
import { DeliveryWorld, waitFor } from './helpers.ts';

describe('worker lifecycle: crashes, failed jobs and shutdown never lose mail', () => {
  let world: DeliveryWorld;
  const processes: OutpostProcess[] = [];
  before(async () => {
    world = await DeliveryWorld.start();
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((process) => process.kill()));
    await world.delivery?.stop();
    world.delivery = undefined;
  });
  after(async () => {
    await world.stop();
  });

  const spawnWorker = async (overrides: Record<string, string> = {}) => {
    const worker = spawnOutpost('delivery', world.env({ LOG_LEVEL: 'info', ...overrides }));
    processes.push(worker);
    await worker.waitForLog((line) => line.msg === 'delivery running');
    return worker;
  };

  test('kill -9 of a worker in the middle of a session: another worker delivers it after the lock lapses', async () => {
    // The first session stalls at RCPT, before any of the message was sent.
    const receiver = await world.receiver('127.0.0.2', {
      rcpt: (ctx) => (ctx.attempt === 1 ? { delayMs: 5_000 } : undefined),
    });
    world.mx('crash.test', [{ name: 'mx.crash.test', priority: 10, a: ['127.0.0.2'] }]);
    const victim = await spawnWorker({ OUTPOST_JOB_LOCK_DURATION: '2s' });
    const message = await world.enqueue({ recipients: ['bob@crash.test'] });
    await waitFor(() => receiver.sessions === 1, 5_000, 'the first session to start');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await victim.kill('SIGKILL');
    await spawnWorker({ OUTPOST_JOB_LOCK_DURATION: '2s' });
    await world.waitForMessageDone(message.id, 20_000);
    assert.equal(receiver.messages.length, 1, 'delivered exactly once');
    assert.ok(receiver.sessions >= 2, 'by a second session');
  });

  test('a job BullMQ moved to failed is recovered by the sweeper and delivered', async () => {
    const receiver = await world.receiver('127.0.0.3');
    world.mx('failed.test', [{ name: 'mx.failed.test', priority: 10, a: ['127.0.0.3'] }]);
    // A worker that fails every job, as a crash loop or a stall limit would.
    const breaker = new Worker(
      QUEUE_NAMES.delivery,
      async () => {
        throw new Error('simulated failure');
      },
      { connection: world.redis.client(), prefix: QUEUE_PREFIX },
    );
    const message = await world.enqueue({ recipients: ['bob@failed.test'] });
    const deliveryQueue = world.queue('delivery');
    await waitFor(async () => (await deliveryQueue.getFailedCount()) > 0, 5_000, 'the job to fail');
    await breaker.close();
    await world.startDelivery();
    await world.waitForMessageDone(message.id, 10_000);
    assert.equal((await receiver.waitForMessages(1)).length, 1);
    assert.equal(await deliveryQueue.getFailedCount(), 0);
  });

  test('SIGTERM with a session in flight: the session finishes, then the worker exits', async () => {
    // The reply comes late, yet within the command timeout (1.5 s in these tests).
    const receiver = await world.receiver('127.0.0.4', { data: { delayMs: 800 } });
    world.mx('sigterm.test', [{ name: 'mx.sigterm.test', priority: 10, a: ['127.0.0.4'] }]);
    const worker = await spawnWorker();
    const message = await world.enqueue({ recipients: ['bob@sigterm.test'] });
    await waitFor(
      () => receiver.events.some((event) => event.stage === 'data'),
      5_000,
      'the session to reach DATA',
    );
    const exit = worker.kill('SIGTERM');
    assert.equal(await exit, 0, 'clean exit');
    assert.equal(
      receiver.messages.filter((entry) => entry.acknowledged).length,
      1,
      'delivered before exiting',
    );
    await world.startDelivery();
    await world.waitForMessageDone(message.id, 10_000);
    assert.equal(receiver.messages.length, 1, 'not sent again');
  });

  test('Redis killed and restarted from its AOF with messages queued: the worker resumes on its own', async () => {
    const receiver = await world.receiver('127.0.0.5');
    world.mx('aof.test', [{ name: 'mx.aof.test', priority: 10, a: ['127.0.0.5'] }]);
    await world.startDelivery();
    await world.delivery!.stop();
    world.delivery = undefined;
    // Queue while no worker runs, crash Redis, then start a worker before Redis is back.
    const messages = await Promise.all(
      Array.from({ length: 20 }, (_, i) => world.enqueue({ recipients: [`user${i}@aof.test`] })),
    );
    await world.redis.kill();
    const starting = world.startDelivery();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await world.redis.start();
    await starting;
    for (const message of messages) await world.waitForMessageDone(message.id, 30_000);
    assert.equal(receiver.messages.length, 20, 'every queued message delivered, none lost');
    assert.equal(new Set(receiver.messages.flatMap((entry) => entry.to)).size, 20);
    // And a running worker rides through a Redis crash.
    await world.redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await world.redis.start();
    const later = await world.enqueue({ recipients: ['late@aof.test'] });
    await world.waitForMessageDone(later.id, 30_000);
    assert.equal(receiver.messages.length, 21);
  });
});
