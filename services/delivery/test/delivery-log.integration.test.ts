import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDeliveryLog } from '@outpost/store';
import { DeliveryWorld } from './helpers.ts';

let world: DeliveryWorld;
before(async () => {
  world = await DeliveryWorld.start();
  await world.startDelivery();
});
after(async () => {
  await world.stop();
});

test('every attempt is in the delivery log with verdicts, statuses and the transcript of what failed', async () => {
  await world.receiver('127.0.0.2', {
    rcpt: (ctx) =>
      ctx.address === 'nobody@logged.test'
        ? '550 5.1.1 <nobody@logged.test>: Recipient address rejected: User unknown'
        : ctx.address === 'later@logged.test' && ctx.attempt === 1
          ? '450 4.2.0 Greylisted, try again later'
          : undefined,
  });
  world.mx('logged.test', [{ name: 'mx.logged.test', priority: 10, a: ['127.0.0.2'] }]);
  const message = await world.enqueue({
    recipients: ['bob@logged.test', 'nobody@logged.test', 'later@logged.test'],
  });
  await world.waitForMessageDone(message.id);

  const log = createDeliveryLog(world.redis.client());
  const view = await log.message(message.id);
  assert.ok(view, 'the message is in the log');
  assert.equal(view.attempts.length, 2, 'two attempts: the second for the greylisted recipient');
  const [first, second] = view.attempts;
  assert.deepEqual(
    first!.recipients.map((entry) => [
      entry.address,
      entry.verdict,
      entry.status,
      entry.category,
      entry.replyCode,
    ]),
    [
      ['bob@logged.test', 'delivered', 'delivered', 'delivered', 250],
      ['nobody@logged.test', 'bounced', 'bounced', 'no_such_user', 550],
      ['later@logged.test', 'deferred', 'deferred', 'greylisted', 450],
    ],
  );
  assert.equal(first!.mxHost, 'mx.logged.test');
  const transcript = first!.sessions[0]!.transcript!.map((line) => `${line.direction} ${line.text}`).join(
    '\n',
  );
  assert.match(transcript, /^S 550 5\.1\.1 <nobody@logged\.test>: Recipient address rejected/m);
  assert.match(transcript, /^C RCPT TO:<later@logged\.test>/m);
  assert.doesNotMatch(transcript, /Hello\./, 'no body in the transcript');
  assert.deepEqual(
    second!.recipients.map((entry) => [entry.address, entry.status]),
    [['later@logged.test', 'delivered']],
  );
  assert.equal(second!.sessions[0]!.transcript, undefined, 'a fully delivered session keeps no transcript');
  assert.deepEqual(Object.fromEntries(view.recipients.map((state) => [state.address, state.status])), {
    'bob@logged.test': 'delivered',
    'nobody@logged.test': 'bounced',
    'later@logged.test': 'delivered',
  });
  assert.equal((view.meta as { sender: string }).sender, 'alice@example.com');

  const failed = await log.deliveries({ status: 'failed', domain: 'logged.test' });
  assert.deepEqual(
    failed.entries.map((entry) => entry.address),
    ['nobody@logged.test'],
  );
});
