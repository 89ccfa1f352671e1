import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeliveryWorld } from './helpers.ts';

describe('what the receiver answers decides each recipient', () => {
  let world: DeliveryWorld;
  before(async () => {
    world = await DeliveryWorld.start();
    await world.startDelivery();
  });
  after(async () => {
    await world.stop();
  });

  const bounceOf = async (id: string) => (await world.bounces()).filter((entry) => entry.messageId === id);

  test('450 at MAIL is retried, then delivered', async () => {
    const receiver = await world.receiver('127.0.0.2', {
      mail: (ctx) => (ctx.attempt === 1 ? '450 4.5.0 Mail system is Busy' : undefined),
    });
    world.mx('busy.test', [{ name: 'mx.busy.test', priority: 10, a: ['127.0.0.2'] }]);
    const message = await world.enqueue({ recipients: ['bob@busy.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await receiver.waitForMessages(1)).length, 1);
    assert.ok(
      receiver.events.some((event) => event.stage === 'mail' && String(event.outcome).startsWith('450')),
    );
    assert.deepEqual(await bounceOf(message.id), []);
  });

  test('553 at RCPT for one of three recipients: two delivered, one bounced with its reply', async () => {
    const receiver = await world.receiver('127.0.0.3', {
      rcpt: (ctx) =>
        ctx.address === 'carol@mixed.test' ? '553 5.3.2 <carol@mixed.test>... No such user here' : undefined,
    });
    world.mx('mixed.test', [{ name: 'mx.mixed.test', priority: 10, a: ['127.0.0.3'] }]);
    const message = await world.enqueue({
      recipients: ['bob@mixed.test', 'carol@mixed.test', 'dave@mixed.test'],
    });
    await world.waitForMessageDone(message.id);
    const [received] = await receiver.waitForMessages(1);
    assert.deepEqual(received!.to, ['bob@mixed.test', 'dave@mixed.test']);
    const bounces = await bounceOf(message.id);
    assert.equal(bounces.length, 1);
    assert.deepEqual(
      bounces[0]!.recipients.map((entry) => [
        entry.address,
        entry.status,
        entry.enhancedStatus,
        entry.category,
        entry.diagnostic,
      ]),
      [
        [
          'carol@mixed.test',
          'bounced',
          '5.3.2',
          'no_such_user',
          '553 5.3.2 <carol@mixed.test>... No such user here',
        ],
      ],
    );
    assert.equal(bounces[0]!.recipients[0]!.remoteHost, 'mx.mixed.test');
    assert.match(bounces[0]!.originalHeaders, /^Received: /);
  });

  test('554 after DATA bounces the message for its recipients', async () => {
    await world.receiver('127.0.0.4', { data: '554 5.7.1 Message rejected as spam' });
    world.mx('spamfilter.test', [{ name: 'mx.spamfilter.test', priority: 10, a: ['127.0.0.4'] }]);
    const message = await world.enqueue({ recipients: ['bob@spamfilter.test'] });
    await world.waitForMessageDone(message.id);
    const [bounce] = await bounceOf(message.id);
    assert.equal(bounce?.recipients[0]?.category, 'content_rejected');
  });

  test('421 at the greeting of the only MX: deferred and retried until it accepts', async () => {
    const receiver = await world.receiver('127.0.0.5', {
      connect: (ctx) => (ctx.attempt <= 2 ? '421 4.3.2 Too busy' : undefined),
    });
    world.mx('closing.test', [{ name: 'mx.closing.test', priority: 10, a: ['127.0.0.5'] }]);
    const message = await world.enqueue({ recipients: ['bob@closing.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal((await receiver.waitForMessages(1)).length, 1);
    assert.ok(receiver.sessions >= 3);
  });

  test('connection reset in the middle of DATA: retried and delivered once', async () => {
    const receiver = await world.receiver('127.0.0.6', {
      data: (ctx) => (ctx.attempt === 1 ? { action: 'disconnect' } : undefined),
    });
    world.mx('reset.test', [{ name: 'mx.reset.test', priority: 10, a: ['127.0.0.6'] }]);
    const message = await world.enqueue({ recipients: ['bob@reset.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal(receiver.messages.filter((entry) => entry.acknowledged).length, 1);
  });

  test('tarpit after DATA (no final reply within the timeout): retried; the duplicate is counted', async () => {
    const receiver = await world.receiver('127.0.0.7', {
      data: (ctx) => (ctx.attempt === 1 ? { action: 'hang' } : undefined),
    });
    world.mx('tarpit.test', [{ name: 'mx.tarpit.test', priority: 10, a: ['127.0.0.7'] }]);
    const counter = world.redis.client();
    const before = Number((await counter.get('{outpost}:stats:possible-duplicates')) ?? 0);
    const message = await world.enqueue({ recipients: ['bob@tarpit.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal(
      receiver.events.filter((event) => event.stage === 'data' && event.outcome === 'hang').length,
      1,
      'the first copy was taken and never answered',
    );
    assert.equal(receiver.messages.filter((entry) => entry.acknowledged).length, 1, 'then acknowledged once');
    assert.equal(Number(await counter.get('{outpost}:stats:possible-duplicates')), before + 1);
  });

  test('dot sent, no reply (store, then reset): retried, and counted as a possible duplicate', async () => {
    const receiver = await world.receiver('127.0.0.8', {
      data: (ctx) => (ctx.attempt === 1 ? { action: 'accept-then-disconnect' } : undefined),
    });
    world.mx('storereset.test', [{ name: 'mx.storereset.test', priority: 10, a: ['127.0.0.8'] }]);
    const counter = world.redis.client();
    const before = Number((await counter.get('{outpost}:stats:possible-duplicates')) ?? 0);
    const message = await world.enqueue({ recipients: ['bob@storereset.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal(receiver.messages.length, 2);
    assert.equal(Number(await counter.get('{outpost}:stats:possible-duplicates')), before + 1);
  });

  test('452 on RCPT defers only the recipients it covers; they are delivered in a later transaction', async () => {
    const receiver = await world.receiver('127.0.0.9', {
      rcpt: (ctx) => (ctx.recipients.length >= 2 ? '452 4.5.3 Too many recipients' : undefined),
    });
    world.mx('split.test', [{ name: 'mx.split.test', priority: 10, a: ['127.0.0.9'] }]);
    const recipients = ['a@split.test', 'b@split.test', 'c@split.test', 'd@split.test', 'e@split.test'];
    const message = await world.enqueue({ recipients });
    await world.waitForMessageDone(message.id, 30_000);
    const delivered = receiver.messages.flatMap((entry) => entry.to).sort();
    assert.deepEqual(delivered, recipients, 'each recipient exactly once');
    assert.ok(receiver.messages.every((entry) => entry.to.length <= 2));
    assert.deepEqual(await bounceOf(message.id), []);
  });

  test('the lifetime runs out while the receiver keeps deferring: expired with 4.4.7 and the last reply', async () => {
    await world.receiver('127.0.0.10', { rcpt: '451 4.7.1 Greylisted, try again in 5 minutes' });
    world.mx('greylist.test', [{ name: 'mx.greylist.test', priority: 10, a: ['127.0.0.10'] }]);
    const message = await world.enqueue({ recipients: ['bob@greylist.test'], expiresInMs: 1_500 });
    await world.waitForMessageDone(message.id, 10_000);
    const [bounce] = await bounceOf(message.id);
    assert.equal(bounce?.recipients[0]?.status, 'expired');
    assert.equal(bounce?.recipients[0]?.enhancedStatus, '4.4.7');
    assert.equal(bounce?.recipients[0]?.category, 'greylisted');
    assert.match(bounce?.recipients[0]?.diagnostic ?? '', /^451 4\.7\.1 Greylisted/);
  });

  test('more than 30 Received: headers is a loop: bounced with 5.4.6, nothing sent', async () => {
    const receiver = await world.receiver('127.0.0.11');
    world.mx('loop.test', [{ name: 'mx.loop.test', priority: 10, a: ['127.0.0.11'] }]);
    const hops = Array.from(
      { length: 31 },
      (_, i) => `Received: from hop${i}.example by hop${i + 1}.example; Fri, 27 Nov 2026 00:00:00 +0000\r\n`,
    ).join('');
    const message = await world.enqueue({
      recipients: ['bob@loop.test'],
      body: `${hops}Subject: loop\r\n\r\nx\r\n`,
    });
    await world.waitForMessageDone(message.id);
    assert.equal(receiver.sessions, 0);
    const [bounce] = await bounceOf(message.id);
    assert.equal(bounce?.recipients[0]?.enhancedStatus, '5.4.6');
  });

  test('an MX that is this server itself is a loop: bounced with 5.4.6', async () => {
    world.mx('self.test', [{ name: 'outpost.test', priority: 10, a: ['127.0.0.12'] }]);
    const message = await world.enqueue({ recipients: ['bob@self.test'] });
    await world.waitForMessageDone(message.id);
    const [bounce] = await bounceOf(message.id);
    assert.equal(bounce?.recipients[0]?.category, 'mail_loop');
  });

  test('as a backup MX this server relays to the better MX instead of calling it a loop', async () => {
    const primary = await world.receiver('127.0.0.14');
    world.mx('backup.test', [
      { name: 'mx1.backup.test', priority: 10, a: ['127.0.0.14'] },
      { name: 'outpost.test', priority: 20, a: ['127.0.0.12'] },
    ]);
    const message = await world.enqueue({ recipients: ['bob@backup.test'] });
    await world.waitForMessageDone(message.id);
    const [received] = await primary.waitForMessages(1);
    assert.deepEqual(received!.to, ['bob@backup.test']);
    assert.deepEqual(await bounceOf(message.id), [], 'no bounce');
  });

  test('mail from the null sender is delivered with MAIL FROM:<>', async () => {
    const receiver = await world.receiver('127.0.0.13');
    world.mx('nullsender.test', [{ name: 'mx.nullsender.test', priority: 10, a: ['127.0.0.13'] }]);
    const message = await world.enqueue({ sender: '', recipients: ['bob@nullsender.test'] });
    await world.waitForMessageDone(message.id);
    const [received] = await receiver.waitForMessages(1);
    assert.equal(received!.from, '');
  });
});
