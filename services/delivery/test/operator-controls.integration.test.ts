import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createDestinationLimiter } from '../src/destination-limiter.ts';
import { rememberDestination } from '../src/operator-controls.ts';
import { DeliveryWorld } from './helpers.ts';

const CLI = fileURLToPath(new URL('../../cli/bin/outpost.ts', import.meta.url));
const run = promisify(execFile);

let world: DeliveryWorld;
const outpost = async (...args: string[]) =>
  (await run(process.execPath, [CLI, ...args], { env: { ...process.env, REDIS_URL: world.redis.url } }))
    .stdout;

before(async () => {
  world = await DeliveryWorld.start();
  // No kept connections here: an idle kept connection would hold its slot (tested elsewhere).
  await world.startDelivery({ OUTPOST_CONNECTION_IDLE: '0' });
});
after(async () => {
  await world.stop();
});

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('outpost delivery pause switches delivery off cluster-wide; resume switches it back on', async () => {
  const receiver = await world.receiver('127.0.0.2');
  world.mx('switch.test', [{ name: 'mx.switch.test', priority: 10, a: ['127.0.0.2'] }]);
  await outpost('delivery', 'pause');
  assert.match(await outpost('delivery', 'status'), /PAUSED by an operator/);
  const message = await world.enqueue({ recipients: ['bob@switch.test'] });
  await settle(700);
  assert.equal(receiver.sessions, 0, 'nothing goes out while delivery is off');
  await outpost('delivery', 'resume');
  assert.match(await outpost('delivery', 'status'), /^delivery: running/);
  await world.waitForMessageDone(message.id);
  assert.equal(receiver.messages.length, 1);
});

test('outpost destination pause holds a domain; flush releases it and retries at once', async () => {
  const receiver = await world.receiver('127.0.0.3');
  world.mx('hold.test', [{ name: 'mx.hold.test', priority: 10, a: ['127.0.0.3'] }]);
  await outpost('destination', 'pause', 'hold.test');
  const message = await world.enqueue({ recipients: ['bob@hold.test'] });
  const deliveryQueue = world.queue('delivery');
  await settle(700);
  assert.equal(receiver.sessions, 0);
  const job = await deliveryQueue.getJob(`${message.id}.d0`);
  assert.equal(await job?.getState(), 'delayed', 'held, waiting');
  assert.equal(job?.data.attempts, 0, 'a hold is not an attempt');
  assert.match(await outpost('destination', 'flush', 'hold.test'), /1 job\(s\) retried now/);
  await world.waitForMessageDone(message.id);
  assert.equal(receiver.messages.length, 1);
});

test('outpost destination pause takes a domain in its Unicode form: the hold is on the A-label jobs carry', async () => {
  const receiver = await world.receiver('127.0.0.6');
  world.mx('xn--bcher-kva.test', [{ name: 'mx.xn--bcher-kva.test', priority: 10, a: ['127.0.0.6'] }]);
  await outpost('destination', 'pause', 'Bücher.test');
  const message = await world.enqueue({ recipients: ['bob@xn--bcher-kva.test'] });
  await settle(700);
  assert.equal(receiver.sessions, 0, 'held');
  assert.match(await outpost('destination', 'flush', 'bücher.test'), /1 job\(s\) retried now/);
  await world.waitForMessageDone(message.id);
  assert.equal(receiver.messages.length, 1);
});

test('outpost destinations lists each destination with its window and connections in flight', async () => {
  const lines = (await outpost('destinations', '--json'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const hold = lines.find((state: { destination: string }) => state.destination.startsWith('mx.hold.test:'));
  assert.ok(hold, JSON.stringify(lines));
  assert.equal(hold.window, 6, 'one success widened the default window of 5');
  assert.equal(hold.inFlight, 0);
});

test('outpost destinations says why a destination is paused', async () => {
  const limiter = createDestinationLimiter(world.redis.client());
  await limiter.pause('mx.table.test:25', Date.now() + 60_000, 'connect ECONNREFUSED 127.0.0.99:25');
  const table = await outpost('destinations');
  assert.match(table, /^DESTINATION\tWINDOW\tIN FLIGHT\tPAUSED UNTIL\tLAST ERROR$/m);
  assert.match(
    table,
    /^mx\.table\.test:25\t5\t0\t\S+ \(unreachable\)\tconnect ECONNREFUSED 127\.0\.0\.99:25$/m,
  );
  await limiter.resume('mx.table.test:25');
  assert.match(await outpost('destinations'), /^mx\.table\.test:25\t5\t0\t-\t/m);
});

test('the domain -> destination note is written once per process and hour, and again when it changes', async () => {
  const redis = world.redis.client();
  const key = '{outpost}:dest-of:noted.test';
  const t0 = 1_800_000_000_000;
  await Promise.all([1, 2, 3].map(() => rememberDestination(redis, 'Noted.test', 'mx.a:25', t0)));
  assert.equal(await redis.get(key), 'mx.a:25');
  // Written already by this process within the hour: not sent again (the key is gone only here).
  await redis.del(key);
  await rememberDestination(redis, 'noted.test', 'mx.a:25', t0 + 60_000);
  assert.equal(await redis.get(key), null, 'the same note within the hour is not written again');
  await rememberDestination(redis, 'noted.test', 'mx.b:25', t0 + 60_000);
  assert.equal(await redis.get(key), 'mx.b:25', 'a new destination is written at once');
  await redis.del(key);
  await rememberDestination(redis, 'noted.test', 'mx.b:25', t0 + 60_000 + 3_600_000);
  assert.equal(await redis.get(key), 'mx.b:25', 'after an hour it is written again');
  assert.ok((await redis.ttl(key)) > 6 * 86_400, 'kept a week');
});
