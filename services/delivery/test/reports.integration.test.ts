import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { suppressAddress, suppressionKey } from '@outpost/queue';
import { DeliveryWorld } from './helpers.ts';

describe('what delivery reports to the bounce service', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
    await world.startDelivery({ OUTPOST_DELAY_WARNING: '600ms' });
  });
  after(async () => {
    await world.stop();
  });

  const reportsOf = async (id: string, event: 'failed' | 'delayed' | 'delivered') =>
    (await world.bounces(event)).filter((entry) => entry.messageId === id);

  test('NOTIFY=SUCCESS: a "delivered" report for that recipient only', async () => {
    await world.receiver('127.0.0.2');
    world.mx('success.test', [{ name: 'mx.success.test', priority: 10, a: ['127.0.0.2'] }]);
    const message = await world.enqueue({
      recipients: [
        { address: 'bob@success.test', notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;bob@success.test' },
        'carol@success.test',
      ],
      dsn: { envid: 'env-42', ret: 'HDRS' },
    });
    await world.waitForMessageDone(message.id);
    const [report] = await reportsOf(message.id, 'delivered');
    assert.deepEqual(
      report?.recipients.map((entry) => [entry.address, entry.action, entry.status, entry.orcpt]),
      [['bob@success.test', 'delivered', 'delivered', 'rfc822;bob@success.test']],
    );
    assert.deepEqual(report?.dsn, { envid: 'env-42', ret: 'HDRS' });
    assert.equal(report?.originalMessage, undefined, 'RET=HDRS returns headers only');
  });

  test('RET=FULL returns the message in a failed DSN only: a "delivered" report carries the headers', async () => {
    await world.receiver('127.0.0.9');
    world.mx('full.test', [{ name: 'mx.full.test', priority: 10, a: ['127.0.0.9'] }]);
    const message = await world.enqueue({
      recipients: [{ address: 'bob@full.test', notify: ['SUCCESS'] }],
      dsn: { ret: 'FULL' },
    });
    await world.waitForMessageDone(message.id);
    const [report] = await reportsOf(message.id, 'delivered');
    assert.equal(report?.recipients[0]?.address, 'bob@full.test');
    assert.equal(report?.originalMessage, undefined, 'RFC 3461 §4.3: RET is about failed DSNs');
    assert.match(report?.originalHeaders ?? '', /^Received: /);
  });

  test('a message waiting longer than the delay-warning time: exactly one "delayed" report per job', async () => {
    const receiver = await world.receiver('127.0.0.3', {
      rcpt: (ctx) => (ctx.attempt <= 5 ? '451 4.3.0 Try again later' : undefined),
    });
    world.mx('slow.test', [{ name: 'mx.slow.test', priority: 10, a: ['127.0.0.3'] }]);
    const message = await world.enqueue({ recipients: ['bob@slow.test'] });
    await world.waitForMessageDone(message.id, 20_000);
    assert.equal(receiver.messages.length, 1, 'delivered in the end');
    const delayed = await reportsOf(message.id, 'delayed');
    assert.equal(delayed.length, 1);
    assert.equal(delayed[0]!.recipients[0]!.action, 'delayed');
    assert.equal(delayed[0]!.recipients[0]!.willRetryUntil, message.expiresAt);
    assert.match(delayed[0]!.recipients[0]!.diagnostic ?? '', /^451 4\.3\.0/);
    assert.deepEqual(await reportsOf(message.id, 'failed'), []);
  });

  test('a suppressed recipient is not attempted and is reported as bounced for that reason', async () => {
    const receiver = await world.receiver('127.0.0.4');
    world.mx('suppressed.test', [{ name: 'mx.suppressed.test', priority: 10, a: ['127.0.0.4'] }]);
    await suppressAddress(world.redis.client(), {
      address: 'gone@suppressed.test',
      category: 'no_such_user',
      enhancedStatus: '5.1.1',
      diagnostic: '550 5.1.1 No such user',
      source: 'bounce',
      at: Date.now(),
      until: Date.now() + 60_000,
    });
    const message = await world.enqueue({
      recipients: ['gone@suppressed.test', 'here@suppressed.test'],
      dsn: { ret: 'FULL' },
    });
    await world.waitForMessageDone(message.id);
    assert.deepEqual(
      receiver.messages.flatMap((entry) => entry.to),
      ['here@suppressed.test'],
    );
    const [report] = await reportsOf(message.id, 'failed');
    assert.deepEqual(
      report?.recipients.map((entry) => [
        entry.address,
        entry.status,
        entry.reason,
        entry.enhancedStatus,
        entry.category,
      ]),
      [['gone@suppressed.test', 'bounced', 'suppressed', '5.1.1', 'no_such_user']],
    );
    assert.equal(report?.originalMessage, message.body.toString('latin1'), 'RET=FULL returns the message');
  });

  test('an unreadable suppression entry suppresses nothing: that recipient is delivered', async () => {
    const receiver = await world.receiver('127.0.0.5');
    world.mx('garbled.test', [{ name: 'mx.garbled.test', priority: 10, a: ['127.0.0.5'] }]);
    await world.redis.client().set(suppressionKey('odd@garbled.test'), '{not json', 'PX', 60_000);
    const message = await world.enqueue({ recipients: ['odd@garbled.test'] });
    await world.waitForMessageDone(message.id);
    assert.deepEqual(
      receiver.messages.flatMap((entry) => entry.to),
      ['odd@garbled.test'],
    );
    assert.deepEqual(await reportsOf(message.id, 'failed'), []);
  });
});
