import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SmtpReceiver } from '@outpost/testing';
import { readBounceStatus } from '../src/index.ts';
import { BounceWorld } from './helpers.ts';

describe('who gets a DSN: NOTIFY, the null sender, the backscatter guard, suppression', () => {
  let world: BounceWorld;
  let postmaster: SmtpReceiver;
  before(async () => {
    world = await BounceWorld.start();
    await world.startServices({ OUTPOST_POSTMASTER: 'postmaster@ops.test', OUTPOST_BACKSCATTER_LIMIT: '2' });
    postmaster = await world.domain('ops.test', '127.0.0.34');
  });
  after(async () => {
    await world.stop();
  });
  const status = () => readBounceStatus(world.world.redis.client(), 100);

  test('NOTIFY=NEVER: no DSN at all', async () => {
    const senderServer = await world.domain('never-sender.test', '127.0.0.30');
    await world.refusing('never.test', '127.0.0.31');
    const original = await world.enqueue({
      sender: 'alice@never-sender.test',
      recipients: [{ address: 'bob@never.test', notify: ['NEVER'] }],
    });
    await world.settled();
    assert.equal(senderServer.messages.length, 0);
    assert.deepEqual(await world.dsnsAbout(senderServer, original), []);
  });

  test('NOTIFY=SUCCESS: a "delivered" DSN for that recipient only', async () => {
    const senderServer = await world.domain('success-sender.test', '127.0.0.32');
    const destination = await world.domain('success.test', '127.0.0.33');
    const original = await world.enqueue({
      sender: 'alice@success-sender.test',
      recipients: [{ address: 'bob@success.test', notify: ['SUCCESS'] }, 'carol@success.test'],
    });
    await world.settled();
    assert.equal(destination.messages.length, 1);
    const dsns = await world.dsnsAbout(senderServer, original);
    assert.equal(dsns.length, 1);
    const [dsn] = dsns;
    assert.equal(dsn?.mail.subject, 'Delivery Status Notification (Success)');
    assert.deepEqual(
      dsn?.perRecipient.map((fields) => fields.get('final-recipient')),
      ['rfc822; bob@success.test'],
    );
    const [bob] = dsn!.perRecipient;
    assert.equal(bob?.get('action'), 'delivered');
    assert.match(bob?.get('status') ?? '', /^2\.\d+\.\d+$/);
    assert.equal(bob?.get('remote-mta'), 'dns; mx.success.test');
    assert.match(bob?.get('diagnostic-code') ?? '', /^smtp; 250 /);
    assert.match(dsn!.humanText, /<bob@success\.test>: delivered/);
  });

  test('the bounce service answers /healthz, /readyz and /metrics with the cluster-wide DSN counts', async () => {
    const base = `http://127.0.0.1:${world.bounce!.httpAddress.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const sent = (await status()).stats['sent:delivered'];
    assert.ok(sent && sent >= 1, 'the NOTIFY=SUCCESS test sent one');
    assert.match(metrics, new RegExp(`^outpost_bounce_dsns\\{outcome="sent:delivered"\\} ${sent}$`, 'm'));
    assert.match(metrics, /^outpost_queue_jobs\{queue="bounce",state="failed"\} 0$/m);
  });

  test('a failed message from <>: no DSN to anyone, recorded, a copy to the postmaster', async () => {
    await world.refusing('double.test', '127.0.0.35');
    const before = (await status()).stats['double-bounce'] ?? 0;
    const original = await world.enqueue({ sender: '', recipients: ['gone@double.test'] });
    await world.settled();

    const recorded = (await status()).doubleBounces.find((entry) => entry.messageId === original.id);
    assert.ok(recorded, 'recorded as a double bounce');
    assert.deepEqual(
      recorded.recipients.map((recipient) => [recipient.address, recipient.enhancedStatus]),
      [['gone@double.test', '5.1.1']],
    );
    assert.equal((await status()).stats['double-bounce'], before + 1);
    const countersOnly = await readBounceStatus(world.world.redis.client(), 0);
    assert.deepEqual(countersOnly.doubleBounces, [], 'a limit of 0 reads none of the list (metrics)');
    assert.equal(countersOnly.stats['double-bounce'], before + 1);

    const copies = await world.dsnsAbout(postmaster, original);
    assert.equal(copies.length, 1);
    assert.equal(copies[0]?.envelopeFrom, '');
    assert.deepEqual(copies[0]?.envelopeTo, ['postmaster@ops.test']);
    assert.equal(copies[0]?.mail.subject, 'Postmaster Copy: Undelivered Mail Returned to Sender');
    assert.equal(copies[0]?.perRecipient[0]?.get('final-recipient'), 'rfc822; gone@double.test');
    assert.match(copies[0]!.humanText, /copy for the postmaster/);
    assert.equal(copies[0]?.mail.messageId, `<${recorded.postmasterCopy}.postmaster@outpost.test>`);
  });

  test('a failed postmaster copy is recorded, not copied again (no loop)', async () => {
    await world.refusing('loop.test', '127.0.0.36');
    const copiesBefore = postmaster.messages.length;
    const original = await world.enqueue({
      sender: '',
      recipients: ['postmaster@loop.test'],
      body:
        'From: Mail Delivery System <MAILER-DAEMON@outpost.test>\r\n' +
        'Message-ID: <01a00000-0000-7000-8000-000000000000.postmaster@outpost.test>\r\n' +
        'Subject: Postmaster Copy: Undelivered Mail Returned to Sender\r\n\r\nreport\r\n',
    });
    await world.settled();
    const recorded = (await status()).doubleBounces.find((entry) => entry.messageId === original.id);
    assert.ok(recorded, 'recorded');
    assert.equal(recorded.postmasterCopy, undefined);
    assert.equal(postmaster.messages.length, copiesBefore, 'no copy of a copy');
  });

  test('backscatter guard: at most N DSNs per sender per hour, the rest recorded', async () => {
    const senderServer = await world.domain('victim.test', '127.0.0.37');
    await world.refusing('spamtrap.test', '127.0.0.38');
    const cappedBefore = (await status()).stats['backscatter-capped'] ?? 0;
    const originals = [];
    for (const name of ['one', 'two', 'three']) {
      originals.push(
        await world.enqueue({ sender: 'forged@victim.test', recipients: [`${name}@spamtrap.test`] }),
      );
      await world.settled();
    }
    assert.equal(senderServer.messages.length, 2, 'the limit is 2 per hour');
    assert.equal((await world.dsnsAbout(senderServer, originals[2]!)).length, 0, 'the third is not sent');
    const { stats, backscatterCapped } = await status();
    assert.equal(stats['backscatter-capped'], cappedBefore + 1);
    assert.equal(backscatterCapped[0]?.messageId, originals[2]!.id);
    assert.equal(backscatterCapped[0]?.sender, 'forged@victim.test');
  });

  test('suppression: the second message to a no-such-user address is not attempted, and its DSN says so', async () => {
    const senderServer = await world.domain('suppress-sender.test', '127.0.0.39');
    const destination = await world.refusing('vanished.test', '127.0.0.40', '550 5.1.1 User unknown');
    const first = await world.enqueue({
      sender: 'alice@suppress-sender.test',
      recipients: ['gone@vanished.test'],
    });
    await world.settled();
    const second = await world.enqueue({
      sender: 'alice@suppress-sender.test',
      recipients: ['gone@vanished.test'],
    });
    await world.settled();

    const attempts = destination.events.filter(
      (event) => event.stage === 'rcpt' && event.address === 'gone@vanished.test',
    );
    assert.equal(attempts.length, 1, 'only the first message was attempted');
    assert.equal((await world.dsnsAbout(senderServer, first)).length, 1);
    const [dsn] = await world.dsnsAbout(senderServer, second);
    const [gone] = dsn!.perRecipient;
    assert.equal(gone?.get('action'), 'failed');
    assert.equal(gone?.get('status'), '5.1.1');
    assert.match(gone?.get('diagnostic-code') ?? '', /^X-Outpost; suppressed: /);
    assert.equal(gone?.has('last-attempt-date'), false, 'not attempted');
    assert.match(dsn!.humanText, /not attempted: the address is suppressed/);
    assert.match(dsn!.humanText, /suppression\s+list/);
  });
});
