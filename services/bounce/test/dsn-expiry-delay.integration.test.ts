import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { formatRfc5322Date } from '@outpost/core';
import { findSuppressed, type WebhookEvent } from '@outpost/queue';
import { BounceWorld } from './helpers.ts';

/**
 * Shrunken time: retries after 0.3 s, 0.6 s, then every 1 s (each ±20%); the delay warning after
 * 0.5 s, so a recipient that keeps answering 4xx is warned about at the third attempt (0.7-1.1 s).
 */
describe('expiry and delay warnings', () => {
  let world: BounceWorld;
  before(async () => {
    world = await BounceWorld.start();
    // Webhooks on: a sent delay warning is an event for them too.
    await world.startServices({ OUTPOST_DELAY_WARNING: '500ms' }, { webhooks: true });
  });
  after(async () => {
    await world.stop();
  });

  const busy = '451 4.3.0 Mail system is busy, try again later';

  test('expiry after a shrunken lifetime: Action failed, Status 4.4.7, and no suppression', async () => {
    const senderServer = await world.domain('expiry-sender.test', '127.0.0.20');
    await world.domain('busy.test', '127.0.0.21', { rcpt: busy });
    const original = await world.enqueue({
      sender: 'alice@expiry-sender.test',
      // NOTIFY=FAILURE: no delay warning, only the final failure.
      recipients: [{ address: 'bob@busy.test', notify: ['FAILURE'] }],
      expiresInMs: 1_500,
    });
    await world.settled();
    const dsns = await world.dsnsAbout(senderServer, original);
    assert.equal(dsns.length, 1, 'one DSN: the failure, no delay warning');
    const [bob] = dsns[0]!.perRecipient;
    assert.equal(bob?.get('action'), 'failed');
    assert.equal(bob?.get('status'), '4.4.7');
    assert.match(bob?.get('diagnostic-code') ?? '', /^smtp; 451 4\.3\.0 Mail system is busy/);
    assert.equal(dsns[0]!.mail.subject, 'Undelivered Mail Returned to Sender');
    assert.match(dsns[0]!.humanText, /gave up after \d seconds?/);
    assert.match(dsns[0]!.humanText, /busy or\s+temporarily unable/);
    const suppressed = await findSuppressed(world.world.redis.client(), ['bob@busy.test']);
    assert.equal(suppressed.size, 0, 'an expiry says nothing about the address');
  });

  test('a message that stays late: exactly one delay warning, then the failure', async () => {
    const senderServer = await world.domain('late-sender.test', '127.0.0.22');
    await world.domain('late.test', '127.0.0.23', { rcpt: busy });
    const original = await world.enqueue({
      sender: 'alice@late-sender.test',
      recipients: ['carol@late.test'],
      expiresInMs: 3_000,
    });
    await world.settled();
    const dsns = await world.dsnsAbout(senderServer, original);
    const subjects = dsns.map((dsn) => dsn.mail.subject);
    assert.deepEqual(subjects, [
      'Delivery Status Notification (Delay)',
      'Undelivered Mail Returned to Sender',
    ]);
    const [delay, failure] = dsns;
    const [carol] = delay!.perRecipient;
    assert.equal(carol?.get('action'), 'delayed');
    assert.match(carol?.get('status') ?? '', /^4\.3\.0$/);
    assert.equal(carol?.get('will-retry-until'), formatRfc5322Date(original.expiresAt));
    assert.match(carol?.get('diagnostic-code') ?? '', /^smtp; 451 /);
    assert.match(delay!.humanText, /not delivered yet, still trying/);
    assert.match(delay!.humanText, /do not need to send the message\s+again/);
    assert.equal(failure!.perRecipient[0]?.get('action'), 'failed');
    assert.equal(failure!.perRecipient[0]?.get('status'), '4.4.7');
    const events = (await world.world.queue('webhook').getJobs(['waiting', 'delayed', 'active']))
      .map((job) => job.data as WebhookEvent)
      .filter((event) => event.messageId === original.id && event.event === 'delayed_dsn_sent');
    assert.deepEqual(
      events.map((event) => [event.recipient, event.status]),
      [['carol@late.test', 'deferred']],
    );
  });

  test('late, then delivered: the delay warning and nothing more', async () => {
    const senderServer = await world.domain('slow-sender.test', '127.0.0.24');
    const slow = await world.domain('slow.test', '127.0.0.25', {
      rcpt: (ctx) => (ctx.attempt <= 3 ? busy : undefined),
    });
    const original = await world.enqueue({ sender: 'alice@slow-sender.test', recipients: ['dan@slow.test'] });
    await world.settled();
    assert.equal(slow.messages.length, 1, 'delivered in the end');
    const dsns = await world.dsnsAbout(senderServer, original);
    assert.deepEqual(
      dsns.map((dsn) => dsn.perRecipient.map((fields) => fields.get('action'))),
      [['delayed']],
    );
  });

  test('several late domains of one message: one delay warning, listing every late recipient', async () => {
    const senderServer = await world.domain('many-sender.test', '127.0.0.26');
    const script = { rcpt: (ctx: { attempt: number }) => (ctx.attempt <= 3 ? busy : undefined) };
    await world.domain('late-a.test', '127.0.0.27', script);
    await world.domain('late-b.test', '127.0.0.28', script);
    await world.domain('late-c.test', '127.0.0.29', script);
    const original = await world.enqueue({
      sender: 'alice@many-sender.test',
      recipients: ['x@late-a.test', 'y@late-b.test', 'z@late-c.test'],
    });
    await world.settled();
    const dsns = await world.dsnsAbout(senderServer, original);
    assert.equal(dsns.length, 1, 'one delay warning per message');
    assert.equal(dsns[0]!.mail.subject, 'Delivery Status Notification (Delay)');
    assert.deepEqual(
      dsns[0]!.perRecipient.map((fields) => [fields.get('final-recipient'), fields.get('action')]).sort(),
      [
        ['rfc822; x@late-a.test', 'delayed'],
        ['rfc822; y@late-b.test', 'delayed'],
        ['rfc822; z@late-c.test', 'delayed'],
      ],
    );
  });
});
