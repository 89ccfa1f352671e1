import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type OutpostProcess, spawnOutpost, submitMessage } from '@outpost/testing';
import { DeliveryWorld } from '../../delivery/test/helpers.ts';
import { deliverThroughAllInOne } from './all-in-one.ts';

// The pipeline as deployed: `outpost ingest` and `outpost delivery` as separate processes against
// one Redis, a DNS server and the destination's mail server on loopback.
let world: DeliveryWorld;
const processes: OutpostProcess[] = [];

before(async () => {
  world = await DeliveryWorld.start();
});
after(async () => {
  await Promise.all(processes.map((process) => process.kill('SIGTERM')));
  await world.stop();
});

test('a message submitted over SMTP reaches the recipient server through separate ingest and delivery processes', async () => {
  const receiver = await world.receiver('127.0.0.2');
  world.mx('pipeline.test', [{ name: 'mx.pipeline.test', priority: 10, a: ['127.0.0.2'] }]);
  const env = world.env({
    LOG_LEVEL: 'info',
    OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
    OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
  });
  const ingest = spawnOutpost('ingest', env);
  const delivery = spawnOutpost('delivery', env);
  processes.push(ingest, delivery);
  const ready = await ingest.waitForLog((line) => line.msg === 'ingest listening');
  await delivery.waitForLog((line) => line.msg === 'delivery running');
  const port = (ready.smtp as { port: number }).port;
  const result = await submitMessage({
    port,
    from: 'alice@example.com',
    to: ['bob@pipeline.test', 'carol@pipeline.test'],
    message: 'From: alice@example.com\r\nTo: bob@pipeline.test\r\nSubject: end to end\r\n\r\nHello Bob.\r\n',
  });
  assert.match(result.response, /^250 2\.0\.0 Ok: queued as /);
  const [received] = await receiver.waitForMessages(1, 15_000);
  assert.deepEqual(received!.to, ['bob@pipeline.test', 'carol@pipeline.test']);
  assert.equal(received!.from, 'alice@example.com');
  const text = received!.data.toString();
  assert.match(text, /^Received: from [^\r]+\r\n\tby outpost\.test \(Outpost\) with ESMTPS id /);
  assert.match(text, /\r\nSubject: end to end\r\n/);
  assert.match(text, /\r\n\r\nHello Bob\.\r\n$/);
  const attempt = await delivery.waitForLog(
    (line) => line.msg === 'delivery attempt' && line.recipient === 'bob@pipeline.test',
  );
  assert.equal(attempt.verdict, 'delivered');
});

test('outpost all: every service in one process delivers a message too', async () => {
  await deliverThroughAllInOne(world, processes, { receiverAddress: '127.0.0.3', domain: 'all.test' });
});
