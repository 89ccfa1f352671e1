import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { formatRfc5322Date } from '@outpost/core';
import { findSuppressed } from '@outpost/queue';
import { BounceWorld } from './helpers.ts';

describe('a permanent failure is reported to the sender with one standard DSN', () => {
  let world: BounceWorld;
  before(async () => {
    world = await BounceWorld.start();
    await world.startServices();
  });
  after(async () => {
    await world.stop();
  });

  test('550 5.1.1: the sender’s server receives one DSN from <> with every required field', async () => {
    const senderServer = await world.domain('sender.test', '127.0.0.10');
    await world.refusing('refuses.test', '127.0.0.11', '550 5.1.1 <bob@refuses.test>: no such user here');
    const original = await world.enqueue({
      sender: 'alice@sender.test',
      recipients: ['bob@refuses.test'],
      body:
        'From: Alice <alice@sender.test>\r\nTo: bob@refuses.test\r\nSubject: Quarterly report\r\n' +
        'Message-ID: <quarterly-1@sender.test>\r\nX-Custom: kept\r\n\r\nThe numbers.\r\n',
    });
    const [dsn] = await world.waitForDsns(senderServer, original);
    assert.ok(dsn);

    // The envelope: from the null sender (RFC 3461 §6.2), to the original envelope sender.
    assert.equal(dsn.envelopeFrom, '');
    assert.deepEqual(dsn.envelopeTo, ['alice@sender.test']);

    // The header.
    const { mail } = dsn;
    assert.equal(mail.from?.value[0]?.address, 'MAILER-DAEMON@outpost.test');
    assert.equal(mail.from?.value[0]?.name, 'Mail Delivery System');
    assert.deepEqual(
      (Array.isArray(mail.to) ? mail.to : [mail.to]).flatMap((to) => to?.value.map((entry) => entry.address)),
      ['alice@sender.test'],
    );
    assert.equal(mail.subject, 'Undelivered Mail Returned to Sender');
    assert.equal(mail.headers.get('auto-submitted'), 'auto-replied');
    assert.equal(mail.inReplyTo, '<quarterly-1@sender.test>');
    assert.equal(mail.references, '<quarterly-1@sender.test>');
    assert.match(mail.messageId ?? '', /^<[0-9a-f-]{36}@outpost\.test>$/);
    assert.ok(mail.date && Math.abs(mail.date.getTime() - Date.now()) < 60_000, 'dated now');
    assert.equal(dsn.contentType.value, 'multipart/report');
    assert.equal(dsn.contentType.params['report-type'], 'delivery-status');

    // RFC 6522: human part, then the machine-readable status, then what is returned.
    assert.deepEqual(
      dsn.parts.map((part) => part.type),
      ['text/plain', 'message/delivery-status', 'text/rfc822-headers'],
    );

    // RFC 3464 per-message fields.
    assert.equal(dsn.perMessage.get('reporting-mta'), 'dns; outpost.test');
    assert.equal(dsn.perMessage.get('arrival-date'), formatRfc5322Date(original.arrivalTime));
    assert.equal(dsn.perMessage.get('x-outpost-message-id'), original.id);
    assert.equal(dsn.perMessage.has('original-envelope-id'), false, 'no ENVID was given');

    // RFC 3464 per-recipient fields.
    assert.equal(dsn.perRecipient.length, 1);
    const [bob] = dsn.perRecipient;
    assert.equal(bob?.get('final-recipient'), 'rfc822; bob@refuses.test');
    assert.equal(bob?.has('original-recipient'), false, 'no ORCPT was given');
    assert.equal(bob?.get('action'), 'failed');
    assert.equal(bob?.get('status'), '5.1.1');
    assert.equal(bob?.get('remote-mta'), 'dns; mx.refuses.test');
    assert.match(
      bob?.get('diagnostic-code') ?? '',
      /^smtp; 550 5\.1\.1 <bob@refuses\.test>: no such user here$/,
    );
    const lastAttempt = Date.parse(bob?.get('last-attempt-date') ?? '');
    assert.ok(lastAttempt >= original.arrivalTime - 1_000 && lastAttempt <= Date.now());
    assert.equal(bob?.has('will-retry-until'), false);

    // The human part: who, what the server said, what it means, what to do.
    assert.match(dsn.humanText, /<bob@refuses\.test>: not delivered/);
    assert.match(dsn.humanText, /550 5\.1\.1 <bob@refuses\.test>: no such user here/);
    assert.match(dsn.humanText, /mailbox does not\s+exist/);
    assert.match(dsn.humanText, /Check the address for typing mistakes/);
    assert.match(dsn.humanText, /Subject: +Quarterly report/);

    // The original header block, our Received: on top; no body (RET was not FULL).
    const returned = dsn.parts[2]!.body.toString('latin1');
    assert.match(returned, /^Received: from /);
    for (const field of [
      'Subject: Quarterly report',
      'Message-ID: <quarterly-1@sender.test>',
      'X-Custom: kept',
    ]) {
      assert.ok(returned.includes(field), field);
    }
    assert.ok(!returned.includes('The numbers.'), 'headers only');

    // One DSN, and a no-such-user address is now suppressed (30 days by default).
    await world.settled();
    assert.equal((await world.dsnsAbout(senderServer, original)).length, 1);
    const entry = (await findSuppressed(world.world.redis.client(), ['bob@refuses.test'])).get(
      'bob@refuses.test',
    );
    assert.equal(entry?.category, 'no_such_user');
    assert.ok(entry && Math.abs(entry.until - entry.at - 30 * 86_400_000) < 1_000);
  });

  test('three recipients at three domains failing within the window: one DSN lists all three', async () => {
    const senderServer = await world.domain('three.test', '127.0.0.12');
    await world.refusing('one.test', '127.0.0.13', '550 5.1.1 unknown user');
    await world.refusing('two.test', '127.0.0.14', '552 5.2.2 Mailbox full');
    await world.refusing('tri.test', '127.0.0.15', '554 5.7.1 Message rejected as spam');
    const original = await world.enqueue({
      sender: 'carol@three.test',
      recipients: ['a@one.test', 'b@two.test', 'c@tri.test'],
    });
    await world.settled();
    const dsns = await world.dsnsAbout(senderServer, original);
    assert.equal(dsns.length, 1, 'one DSN for the message');
    const byAddress = new Map(dsns[0]!.perRecipient.map((fields) => [fields.get('final-recipient'), fields]));
    assert.deepEqual([...byAddress.keys()].sort(), [
      'rfc822; a@one.test',
      'rfc822; b@two.test',
      'rfc822; c@tri.test',
    ]);
    assert.equal(byAddress.get('rfc822; b@two.test')?.get('status'), '5.2.2');
    assert.equal(byAddress.get('rfc822; c@tri.test')?.get('remote-mta'), 'dns; mx.tri.test');
    assert.match(dsns[0]!.humanText, /mailbox is full/);
    assert.match(dsns[0]!.humanText, /looked like spam/);
    // Only no_such_user (the default list) suppresses.
    const suppressed = await findSuppressed(world.world.redis.client(), [
      'a@one.test',
      'b@two.test',
      'c@tri.test',
    ]);
    assert.deepEqual([...suppressed.keys()], ['a@one.test']);
  });

  test('ENVID and ORCPT come back; RET=FULL returns the whole message', async () => {
    const senderServer = await world.domain('envid.test', '127.0.0.16');
    await world.refusing('orcpt.test', '127.0.0.17');
    const original = await world.enqueue({
      sender: 'dave@envid.test',
      recipients: [
        { address: 'eve@orcpt.test', orcpt: 'rfc822;Eve.Original@Alias.Example', notify: ['FAILURE'] },
        'frank@orcpt.test',
      ],
      dsn: { envid: 'QQ314159+x', ret: 'FULL' },
      body: 'From: dave@envid.test\r\nSubject: full copy\r\n\r\nThe whole body.\r\n',
    });
    const [dsn] = await world.waitForDsns(senderServer, original);
    assert.equal(dsn?.perMessage.get('original-envelope-id'), 'QQ314159+x');
    const [eve, frank] = dsn!.perRecipient;
    assert.equal(eve?.get('original-recipient'), 'rfc822; Eve.Original@Alias.Example');
    assert.equal(eve?.get('final-recipient'), 'rfc822; eve@orcpt.test');
    assert.equal(frank?.has('original-recipient'), false);
    assert.equal(dsn?.parts[2]?.type, 'message/rfc822');
    assert.equal(
      dsn?.parts[2]?.body.toString('latin1').trimEnd(),
      original.body.toString('latin1').trimEnd(),
    );
  });
});
