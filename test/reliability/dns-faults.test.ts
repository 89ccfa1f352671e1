import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDeliveryLog } from '@outpost/store';
import { assertNoViolations, ReliabilityWorld, waitFor } from './support/world.ts';

// DNS faults not covered elsewhere: a resolver that never answers, an MX that is an alias, and (in
// production mode) an MX naming an IP literal or a loopback name. Already covered elsewhere
// (services/delivery/test/routing.integration.test.ts): SERVFAIL, NXDOMAIN, null MX, A only
// (implicit MX), AAAA only, MX preferences with the first dead, an MX resolving to loopback.

test('the DNS server never answers: deferred as a temporary DNS failure, delivered once it answers', async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  const receiver = await world.receiver('127.0.0.2');
  world.dns.silence('mute.test');
  await world.startDelivery();
  const [message] = await world.enqueue([{ recipients: ['bob@mute.test'] }]);
  const log = createDeliveryLog(world.admin);
  await waitFor(
    async () => ((await log.message(message!.id))?.attempts.length ?? 0) >= 1,
    10_000,
    'a first attempt',
  );
  const [first] = (await log.message(message!.id))!.attempts;
  assert.equal(first!.recipients[0]!.status, 'deferred');
  assert.equal(first!.recipients[0]!.category, 'dns_temporary');
  assert.equal(receiver.sessions, 0);

  world.dns.clear('mute.test');
  world.mx('mute.test', '127.0.0.2');
  await world.settled(15_000);
  assertNoViolations(await world.check({ spansComplete: true }));
  assert.equal(receiver.messages.length, 1);
});

test('an MX that names an alias (CNAME) is followed to its address, as MTAs do despite RFC 2181 §10.3', async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  const receiver = await world.receiver('127.0.0.3');
  world.dns.set('aliased.test', [{ type: 'MX', exchange: 'mail.aliased.test', priority: 10 }]);
  world.dns.set('mail.aliased.test', [{ type: 'CNAME', target: 'real-mx.hosting.test' }]);
  world.dns.set('real-mx.hosting.test', [{ type: 'A', address: '127.0.0.3' }]);
  await world.startDelivery();
  await world.enqueue([{ recipients: ['bob@aliased.test'] }]);
  await world.settled(15_000);
  assertNoViolations(await world.check({ spansComplete: true }));
  assert.equal(receiver.messages.length, 1);
});

test('production mode: an MX naming an IP literal or a loopback name is not connected to; bounced, and the sender told', async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  const victim = await world.receiver('127.0.0.4');
  const senderServer = await world.receiver('127.0.0.5');
  world.dns.set('literal.test', [{ type: 'MX', exchange: '127.0.0.4', priority: 10 }]);
  world.dns.set('loopname.test', [{ type: 'MX', exchange: 'localhost', priority: 10 }]);
  world.dns.set('localhost', [{ type: 'A', address: '127.0.0.4' }]);
  // The sender's own server is reached through a configured route (which may be private).
  const env = {
    OUTPOST_ALLOW_PRIVATE_DESTINATIONS: 'false',
    OUTPOST_TRANSPORT_MAP: `origin.test=smtp://[127.0.0.5]:${world.port}`,
  };
  await world.startBounce(env);
  await world.startDelivery(env);
  await world.enqueue([{ recipients: ['bob@literal.test'] }, { recipients: ['bob@loopname.test'] }]);
  await world.settled(15_000);
  const report = await world.check({ spansComplete: true });
  assertNoViolations(report);
  assert.equal(victim.sessions, 0, 'nothing connected to the loopback receiver');
  assert.equal(report.summary.dsns, 2, 'one DSN per message, from <>, to the sender');
  for (const message of world.accepted) {
    const [state] = await createDeliveryLog(world.admin).recipientStates(message.id);
    assert.equal(state?.status, 'bounced');
    assert.equal(state?.enhancedStatus, '5.4.4');
  }
  assert.equal(senderServer.messages.length, 2);
});
