import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QUEUE_NAMES, QUEUE_PREFIX } from '@outpost/queue';
import { RawSmtpClient, startFaultProxy } from '@outpost/testing';
import { Queue } from 'bullmq';
import { headerOf, outpostIdOf } from './invariants.ts';
import { assertNoViolations, ReliabilityWorld, waitFor } from './support/world.ts';

// kill -9 of ingest after its Redis write but before the 250 (already covered elsewhere: the kill
// in the middle of DATA, services/ingest/test/crash-mid-data.integration.test.ts). Ingest talks to
// Redis through a fault proxy that holds every reply once the flow's EXEC went through: Redis has
// the message on disk (appendfsync always answers only after the fsync), ingest never hears so.

const MESSAGE =
  'From: alice@origin.test\r\nTo: bob@late250.test\r\nMessage-ID: <retry-1@origin.test>\r\n' +
  'Subject: sent twice\r\n\r\nThe client never got its 250, so it sends again.\r\n';

/** One SMTP transaction by hand; resolves with the final reply, or rejects when the connection drops. */
async function submitRaw(port: number): Promise<string> {
  const client = await RawSmtpClient.connect(port);
  try {
    assert.match(await client.reply(), /^220 /);
    await client.command('EHLO client.origin.test');
    assert.match(await client.command('MAIL FROM:<alice@origin.test>'), /^250 /);
    assert.match(await client.command('RCPT TO:<bob@late250.test>'), /^250 /);
    assert.match(await client.command('DATA'), /^354 /);
    client.write(`${MESSAGE}.\r\n`);
    return await client.reply(10_000);
  } finally {
    client.close();
  }
}

test('kill -9 of ingest between the Redis write and the 250: the client sends again, at most one duplicate, none lost', async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  const redisProxy = await startFaultProxy({
    upstream: { host: '127.0.0.1', port: world.redis.port },
    plan: { toClient: { trigger: { armedBy: /\$4\r\nexec\r\n/i }, action: { kind: 'hold' } } },
  });
  t.after(() => redisProxy.close());
  const receiver = await world.receiver('127.0.0.2');
  world.mx('late250.test', '127.0.0.2');

  // No rate limiting, so the only MULTI/EXEC ingest sends is the message's flow.
  const noLimits = { OUTPOST_RATE_LIMIT_PER_ADDRESS: 'off', OUTPOST_RATE_LIMIT_PER_USER: 'off' };
  const doomed = await world.spawn('ingest', {
    ...noLimits,
    REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
  });
  const firstTry = submitRaw(ReliabilityWorld.smtpPortOf(doomed));
  firstTry.catch(() => {}); // judged below, after the kill
  await redisProxy.waitForEvent((event) => event.kind === 'held', 10_000);
  // A one-domain message is stored as one solo delivery job (no delivery worker runs yet).
  const deliveries = new Queue(QUEUE_NAMES.delivery, { connection: world.admin, prefix: QUEUE_PREFIX });
  t.after(() => deliveries.close());
  await waitFor(
    async () => (await deliveries.getJobCountByTypes('waiting')) === 1,
    5_000,
    'the message in Redis',
  );
  await doomed.kill('SIGKILL');
  await assert.rejects(firstTry, /connection closed/, 'the client never gets a 250');

  // The client does what RFC 5321 §4.1.1.4 leaves it: it sends the message again, to a live ingest.
  const ingest = await world.spawn('ingest', noLimits);
  const reply = await submitRaw(ReliabilityWorld.smtpPortOf(ingest));
  const id = reply.match(/queued as ([0-9a-f-]{36})/)?.[1];
  assert.ok(id, reply);
  world.accepted.push({ id, sender: 'alice@origin.test', recipients: ['bob@late250.test'] });

  await world.startDelivery();
  await world.settled(20_000);
  const report = await world.check({}, []);
  assertNoViolations(report);

  // By Outpost id there is no duplicate: two messages were stored, one acknowledged. Seen from the
  // client, whose Message-ID both carry, the recipient got its message twice: the one duplicate
  // this window allows. SMTP offers no way to tell a resend from a new message with the same
  // Message-ID, so it is explained here rather than counted by the product.
  const copies = receiver.messages.filter(
    (copy) => headerOf(copy.data, 'message-id') === '<retry-1@origin.test>',
  );
  assert.equal(copies.length, 2, 'the unacknowledged message was kept and delivered too: nothing lost');
  const ids = copies.map((copy) => outpostIdOf(copy.data));
  assert.ok(ids.includes(id), 'the acknowledged one delivered');
  assert.equal(new Set(ids).size, 2, 'each stored once');
  t.diagnostic(`explained duplicate: ${ids.join(' and ')} carry the same client message`);
});
