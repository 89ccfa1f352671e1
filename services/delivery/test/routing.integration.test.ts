import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { messageBodyKey } from '@outpost/queue';
import { createDestinationLimiter } from '../src/destination-limiter.ts';
import { DeliveryWorld, waitFor } from './helpers.ts';

describe('routing: every MX by preference, every address of each host', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
    await world.startDelivery();
  });
  after(async () => {
    await world.stop();
  });

  test('delivers to the first MX', async () => {
    const primary = await world.receiver('127.0.0.2');
    world.mx('first.test', [
      { name: 'mx1.first.test', priority: 10, a: ['127.0.0.2'] },
      { name: 'mx2.first.test', priority: 20, a: ['127.0.0.3'] },
    ]);
    const message = await world.enqueue({ recipients: ['bob@first.test'], subject: 'first' });
    await world.waitForMessageDone(message.id);
    assert.equal(
      await world.redis.client().exists(messageBodyKey(message.id)),
      0,
      'the body went with the message',
    );
    const [received] = await primary.waitForMessages(1);
    assert.deepEqual(received!.to, ['bob@first.test']);
    assert.equal(received!.from, 'alice@example.com');
    assert.equal(
      received!.data.toString('latin1'),
      message.body.toString('latin1'),
      'sent byte for byte as stored',
    );
  });

  test('first MX refusing connections -> second MX', async () => {
    const second = await world.receiver('127.0.0.4');
    world.mx('fallback.test', [
      { name: 'dead.fallback.test', priority: 10, a: ['127.0.0.99'] },
      { name: 'live.fallback.test', priority: 20, a: ['127.0.0.4'] },
    ]);
    const message = await world.enqueue({ recipients: ['bob@fallback.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await second.waitForMessages(1)).length, 1);
  });

  test('one MX host with three A records, the first two dead -> the third', async () => {
    const third = await world.receiver('127.0.0.7');
    world.mx('roundrobin.test', [
      { name: 'mx.roundrobin.test', priority: 10, a: ['127.0.0.97', '127.0.0.98', '127.0.0.7'] },
    ]);
    const message = await world.enqueue({ recipients: ['bob@roundrobin.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await third.waitForMessages(1)).length, 1);
  });

  test('banner never arrives -> next MX', async () => {
    await world.receiver('127.0.0.8', { connect: { action: 'hang' } });
    const next = await world.receiver('127.0.0.9');
    world.mx('silent.test', [
      { name: 'mx1.silent.test', priority: 10, a: ['127.0.0.8'] },
      { name: 'mx2.silent.test', priority: 20, a: ['127.0.0.9'] },
    ]);
    const message = await world.enqueue({ recipients: ['bob@silent.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await next.waitForMessages(1)).length, 1);
  });

  test('connection closed before the banner -> next MX', async () => {
    await world.receiver('127.0.0.10', { connect: { action: 'close-before-banner' } });
    const next = await world.receiver('127.0.0.11');
    world.mx('cancel.test', [
      { name: 'mx1.cancel.test', priority: 10, a: ['127.0.0.10'] },
      { name: 'mx2.cancel.test', priority: 20, a: ['127.0.0.11'] },
    ]);
    const message = await world.enqueue({ recipients: ['bob@cancel.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await next.waitForMessages(1)).length, 1);
  });

  test('no MX but an A record: the domain is its own implicit MX', async () => {
    const implicit = await world.receiver('127.0.0.12');
    world.dns.set('implicit.test', [{ type: 'A', address: '127.0.0.12' }]);
    const message = await world.enqueue({ recipients: ['bob@implicit.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await implicit.waitForMessages(1)).length, 1);
  });

  test('AAAA only: delivered over IPv6', async () => {
    const v6 = await world.receiver('::1');
    world.mx('v6only.test', [{ name: 'mx.v6only.test', priority: 10, aaaa: ['::1'] }]);
    const message = await world.enqueue({ recipients: ['bob@v6only.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await v6.waitForMessages(1)).length, 1);
  });

  test('null MX: bounced with 5.1.10 without any connection', async () => {
    world.dns.set('nullmx.test', [{ type: 'MX', exchange: '', priority: 0 }]);
    const before = world.dns.queries.length;
    const message = await world.enqueue({ recipients: ['bob@nullmx.test'] });
    await world.waitForMessageDone(message.id);
    const bounce = (await world.bounces()).find((entry) => entry.messageId === message.id);
    assert.equal(bounce?.recipients[0]?.enhancedStatus, '5.1.10');
    assert.equal(bounce?.recipients[0]?.category, 'null_mx');
    const lookups = world.dns.queries.slice(before).map((query) => `${query.type} ${query.name}`);
    assert.deepEqual([...new Set(lookups)], ['MX nullmx.test'], 'no address lookup, so no connection');
  });

  test('NXDOMAIN: bounced with 5.1.2', async () => {
    world.dns.nxdomain('nowhere.test');
    const message = await world.enqueue({ recipients: ['bob@nowhere.test'] });
    await world.waitForMessageDone(message.id);
    const bounce = (await world.bounces()).find((entry) => entry.messageId === message.id);
    assert.equal(bounce?.recipients[0]?.enhancedStatus, '5.1.2');
    assert.equal(bounce?.recipients[0]?.category, 'domain_not_found');
    assert.equal(bounce?.recipients[0]?.status, 'bounced');
  });

  test('SERVFAIL is temporary: retried, then delivered once DNS recovers', async () => {
    const receiver = await world.receiver('127.0.0.13');
    world.dns.servfail('flaky.test');
    const message = await world.enqueue({ recipients: ['bob@flaky.test'] });
    const deliveryQueue = world.queue('delivery');
    await waitFor(
      async () => (await deliveryQueue.getJob(`${message.id}.d0`))?.data.attempts >= 1,
      5_000,
      'a deferred attempt',
    );
    world.mx('flaky.test', [{ name: 'mx.flaky.test', priority: 10, a: ['127.0.0.13'] }]);
    await world.waitForMessageDone(message.id);
    assert.equal((await receiver.waitForMessages(1)).length, 1);
  });
});

describe('routing: private destinations are refused unless allowed', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
    await world.startDelivery({ OUTPOST_ALLOW_PRIVATE_DESTINATIONS: 'false' });
  });
  after(async () => {
    await world.stop();
  });

  test('an MX pointing at loopback is not connected to, and bounces', async () => {
    const receiver = await world.receiver('127.0.0.14');
    world.mx('internal.test', [{ name: 'mx.internal.test', priority: 10, a: ['127.0.0.14'] }]);
    const message = await world.enqueue({ recipients: ['bob@internal.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal(receiver.sessions, 0);
    const bounce = (await world.bounces()).find((entry) => entry.messageId === message.id);
    assert.equal(bounce?.recipients[0]?.enhancedStatus, '5.4.4');
    assert.match(bounce?.recipients[0]?.diagnostic ?? '', /private addresses/);
  });
});

describe('health and metrics', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
    await world.startDelivery();
  });
  after(async () => {
    await world.stop();
  });

  test('/healthz, /readyz and /metrics answer with attempts by verdict and category', async () => {
    await world.receiver('127.0.0.2', {
      rcpt: (ctx) => (ctx.address.startsWith('nobody') ? '550 5.1.1 No such user' : undefined),
    });
    world.mx('metrics.test', [{ name: 'mx.metrics.test', priority: 10, a: ['127.0.0.2'] }]);
    const message = await world.enqueue({ recipients: ['bob@metrics.test', 'nobody@metrics.test'] });
    await world.waitForMessageDone(message.id);
    const base = `http://127.0.0.1:${world.delivery!.httpAddress.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /outpost_delivery_attempts_total\{verdict="delivered",category="delivered"\} 1/);
    assert.match(metrics, /outpost_delivery_attempts_total\{verdict="bounced",category="no_such_user"\} 1/);
    assert.match(metrics, /outpost_queue_jobs\{queue="delivery",state="waiting"\} 0/);
    assert.match(metrics, /outpost_destination_window\{destination="mx\.metrics\.test:\d+"\} 6/);
    assert.match(metrics, /outpost_oldest_message_age_seconds 0/);
    assert.match(metrics, /outpost_destination_paused\{destination="mx\.metrics\.test:\d+"\} 0/);
    // A destination that a failed attempt paused shows 1 until the pause ends.
    await createDestinationLimiter(world.redis.client()).pause(
      'mx.paused.test:25',
      Date.now() + 60_000,
      'refused',
    );
    const paused = await (await fetch(`${base}/metrics`)).text();
    assert.match(paused, /outpost_destination_paused\{destination="mx\.paused\.test:25"\} 1/);
    // A message for a paused destination waits without an attempt, and is counted as such.
    world.mx('waiting.test', [{ name: 'mx.waiting.test', priority: 10, a: ['127.0.0.2'] }]);
    await createDestinationLimiter(world.redis.client()).pause(
      `mx.waiting.test:${world.port}`,
      Date.now() + 60_000,
      'refused',
    );
    await world.enqueue({ recipients: ['bob@waiting.test'] });
    await waitFor(
      async () =>
        /^outpost_delivery_waits_total\{reason="paused"\} 1$/m.test(
          await (await fetch(`${base}/metrics`)).text(),
        ),
      10_000,
      'the wait counted',
    );
  });
});

describe('transport map', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
  });
  after(async () => {
    await world.stop();
  });

  test('a domain routed to an address literal is delivered there without any DNS lookup', async () => {
    const relay = await world.receiver('127.0.0.20');
    // Private destinations are not allowed: a configured route may still be private.
    await world.startDelivery({
      OUTPOST_TRANSPORT_MAP: `routed.test=smtp://[127.0.0.20]:${world.port}`,
      OUTPOST_ALLOW_PRIVATE_DESTINATIONS: 'false',
    });
    const before = world.dns.queries.length;
    const message = await world.enqueue({ recipients: ['bob@routed.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await relay.waitForMessages(1)).length, 1);
    assert.deepEqual(world.dns.queries.slice(before), [], 'no MX or address lookup');
  });
});
