import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import type { Message } from '@outpost/core';
import { type OutpostProcess, spawnOutpost } from '@outpost/testing';
import { createDestinationLimiter } from '../src/destination-limiter.ts';
import { createOperatorControls } from '../src/operator-controls.ts';
import { DeliveryWorld, waitFor } from './helpers.ts';

let world: DeliveryWorld;
const workers: OutpostProcess[] = [];
before(async () => {
  world = await DeliveryWorld.start();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.kill('SIGKILL')));
});
after(async () => {
  await world.stop();
});

/**
 * Enqueues `count` messages to `domain` one after the other, each deferred before the next (a
 * window of one), until the worker logs that the destination is paused: the messages and that line.
 */
async function deferUntilPaused(worker: OutpostProcess, domain: string, count: number) {
  const first: Message[] = [];
  for (let i = 0; i < count; i++) {
    first.push(await world.enqueue({ recipients: [`user${i}@${domain}`] }));
    await worker.waitForLog((line) => line.msg === 'deferred' && line.messageId === first[i]!.id);
  }
  const paused = await worker.waitForLog((line) =>
    String(line.msg).startsWith('destination deferred every recipient'),
  );
  return { first, paused };
}

/** The most connections the receiver had open at once, from its connect/close events. */
function maxConcurrent(events: ReadonlyArray<{ stage: string; outcome: string }>): number {
  let open = 0;
  let max = 0;
  for (const event of events) {
    if (event.stage === 'connect' && event.outcome === 'accept') max = Math.max(max, ++open);
    else if (event.stage === 'close') open--;
  }
  return max;
}

test('three worker processes, a destination limit of 5: never more than 5 connections to it at once', async () => {
  // Slow answers keep sessions open long enough for the workers to compete.
  const receiver = await world.receiver('127.0.0.2', { data: { delayMs: 150 } });
  // Two domains on the same MX host share its limit.
  world.mx('shared-a.test', [{ name: 'mx.shared.test', priority: 10, a: ['127.0.0.2'] }]);
  world.mx('shared-b.test', [{ name: 'mx.shared.test', priority: 10, a: ['127.0.0.2'] }]);
  const env = {
    LOG_LEVEL: 'warn',
    OUTPOST_DESTINATION_WINDOW_START: '5',
    OUTPOST_DESTINATION_WINDOW_MAX: '5',
  };
  for (let i = 0; i < 3; i++) {
    const worker = spawnOutpost('delivery', world.env({ ...env, LOG_LEVEL: 'info' }));
    workers.push(worker);
    await worker.waitForLog((line) => line.msg === 'delivery running');
  }
  const messages = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      world.enqueue({ recipients: [`user${i}@shared-${i % 2 ? 'a' : 'b'}.test`] }),
    ),
  );
  for (const message of messages) await world.waitForMessageDone(message.id, 30_000);
  assert.equal(receiver.messages.filter((entry) => entry.acknowledged).length, 40, 'all delivered');
  const peak = maxConcurrent(receiver.events);
  assert.ok(peak <= 5, `peak of ${peak} concurrent connections`);
  assert.ok(peak >= 3, `the limit was actually used in parallel (peak ${peak})`);
});

test('refused connections halve the window and pause the destination; success widens it again', async () => {
  const limiter = createDestinationLimiter(world.redis.client(), {
    initialWindow: 8,
    maxWindow: 10,
    leaseMs: 5_000,
  });
  assert.equal((await limiter.adapt('mx.dead.test:25', 'trouble', 'connect ECONNREFUSED')).window, 4);
  assert.equal((await limiter.adapt('mx.dead.test:25', 'trouble', 'connect ECONNREFUSED')).window, 2);
  assert.equal((await limiter.adapt('mx.dead.test:25', 'ok')).window, 3);
  await limiter.pause('mx.dead.test:25', Date.now() + 60_000, 'whole cohort failed');
  const answer = await limiter.acquire('mx.dead.test:25');
  assert.equal(answer.granted, false);
  assert.equal(!answer.granted && answer.reason, 'paused');
  const [state] = (await limiter.list()).filter((entry) => entry.destination === 'mx.dead.test:25');
  assert.equal(state?.window, 3);
  assert.equal(state?.lastError, 'whole cohort failed');
  assert.equal(state?.pauseCause, 'unreachable');
  await limiter.resume('mx.dead.test:25');
  const granted = await limiter.acquire('mx.dead.test:25');
  assert.equal(granted.granted, true);
  if (granted.granted) await granted.lease.release();
});

test('a lease held past twice its length (a kept connection) still counts: the full window is not granted again', async () => {
  const limiter = createDestinationLimiter(world.redis.client(), {
    initialWindow: 1,
    maxWindow: 1,
    leaseMs: 300,
  });
  const held = await limiter.acquire('mx.kept.test:25');
  assert.equal(held.granted, true);
  try {
    // No other grant renews the set's expiry meanwhile: only the holder's renewals keep it.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const second = await limiter.acquire('mx.kept.test:25');
    assert.equal(second.granted, false, 'the one slot is still taken');
    assert.equal(!second.granted && second.reason, 'busy');
  } finally {
    if (held.granted) await held.lease.release();
  }
  const again = await limiter.acquire('mx.kept.test:25');
  assert.equal(again.granted, true, 'free once released');
  if (again.granted) await again.lease.release();
});

test('successes at the maximum window reach Redis about once a second; trouble always does', async () => {
  let now = 1_000_000;
  const limiter = createDestinationLimiter(
    world.redis.client(),
    { initialWindow: 2, maxWindow: 3, leaseMs: 5_000 },
    () => now,
  );
  const destination = 'mx.busy.test:25';
  const sessionMs = async () =>
    Number(await world.redis.client().hget('{outpost}:dest:mx.busy.test:25:state', 'sessionMs'));
  assert.equal((await limiter.adapt(destination, 'ok', '', 100)).window, 3);
  assert.equal(await sessionMs(), 100);
  // At the maximum, within the second: nothing written (a 5 s session would move the average).
  assert.equal((await limiter.adapt(destination, 'ok', '', 5_000)).window, 3);
  assert.equal(await sessionMs(), 100);
  now += 1_001;
  assert.equal((await limiter.adapt(destination, 'ok', '', 5_000)).window, 3);
  assert.equal(await sessionMs(), Math.floor(100 * 0.8 + 5_000 * 0.2), 'sampled again after a second');
  // Trouble is never skipped, and a success after it is counted again.
  assert.equal((await limiter.adapt(destination, 'trouble', 'connect ECONNREFUSED')).window, 1);
  assert.equal((await limiter.adapt(destination, 'ok')).window, 2);
});

test('a dead destination is paused: a second message to it waits instead of hitting it again', async () => {
  world.mx('dead.test', [{ name: 'mx.dead2.test', priority: 10, a: ['127.0.0.99'] }]);
  const env = { OUTPOST_RETRY_FIRST: '30s', OUTPOST_RETRY_MAX: '60s' };
  const worker = spawnOutpost('delivery', world.env({ ...env, LOG_LEVEL: 'debug' }));
  workers.push(worker);
  await worker.waitForLog((line) => line.msg === 'delivery running');
  await world.enqueue({ recipients: ['a@dead.test'] });
  await worker.waitForLog((line) => line.msg === 'deferred' && line.domain === 'dead.test');
  await world.enqueue({ recipients: ['b@dead.test'] });
  const waited = await worker.waitForLog((line) => line.msg === 'no slot' && line.domain === 'dead.test');
  assert.equal(waited.reason, 'paused');
  const attempts = worker.logs.filter(
    (line) => line.msg === 'delivery attempt' && line.domain === 'dead.test',
  );
  assert.equal(attempts.length, 1, 'only the first message tried the dead server');
});

test('a kept connection carries the next job to the same destination, holding its slot while idle', async () => {
  const receiver = await world.receiver('127.0.0.5');
  world.mx('reuse.test', [{ name: 'mx.reuse.test', priority: 10, a: ['127.0.0.5'] }]);
  const delivery = await world.startDelivery({ OUTPOST_CONNECTION_IDLE: '1500ms' });
  try {
    const first = await world.enqueue({ recipients: ['a@reuse.test'] });
    await world.waitForMessageDone(first.id);
    const limiter = createDestinationLimiter(world.redis.client());
    const busy = (await limiter.list()).find((state) => state.destination.startsWith('mx.reuse.test:'));
    assert.equal(busy?.inFlight, 1, 'the idle connection keeps its slot');
    const second = await world.enqueue({ recipients: ['b@reuse.test'] });
    await world.waitForMessageDone(second.id);
    assert.equal(receiver.messages.length, 2);
    assert.equal(receiver.sessions, 1, 'one connection for both messages');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const idle = (await limiter.list()).find((state) => state.destination.startsWith('mx.reuse.test:'));
    assert.equal(idle?.inFlight, 0, 'closed after the idle time, slot freed');
    assert.equal(receiver.events.filter((event) => event.stage === 'close').length, 1);
  } finally {
    await delivery.stop();
    world.delivery = undefined;
  }
});

test('stopping delivery closes its idle connections and gives their slots back at once', async () => {
  const receiver = await world.receiver('127.0.0.6');
  world.mx('shutdown.test', [{ name: 'mx.shutdown.test', priority: 10, a: ['127.0.0.6'] }]);
  // Idle for a minute: only the shutdown can give the slot back within this test.
  const delivery = await world.startDelivery({ OUTPOST_CONNECTION_IDLE: '60s' });
  const limiter = createDestinationLimiter(world.redis.client());
  const inFlight = async () =>
    (await limiter.list()).find((state) => state.destination.startsWith('mx.shutdown.test:'))?.inFlight;
  try {
    const message = await world.enqueue({ recipients: ['a@shutdown.test'] });
    await world.waitForMessageDone(message.id);
    assert.equal(await inFlight(), 1, 'the idle connection holds its slot');
  } finally {
    await delivery.stop();
    world.delivery = undefined;
  }
  assert.equal(await inFlight(), 0, 'given back by the shutdown, not left to lapse');
  await waitFor(
    async () => receiver.events.some((event) => event.stage === 'close'),
    5_000,
    'the connection closed',
  );
});

test('attempts deferred at every recipient pause the destination once the streak is reached', async () => {
  const now = 5_000_000;
  const limiter = createDestinationLimiter(world.redis.client(), { backoffAfter: 3 }, () => now);
  const destination = 'mx.streak.test:25';
  const pauseUntil = () => now + 60_000;
  const busy = '450 4.5.0 Mail system is Busy';
  assert.equal(
    (await limiter.adapt(destination, 'deferred-all', busy, 10, pauseUntil())).pausedUntil,
    undefined,
  );
  assert.equal(
    (await limiter.adapt(destination, 'deferred-all', busy, 10, pauseUntil())).pausedUntil,
    undefined,
  );
  assert.equal((await limiter.acquire(destination, now)).granted, true, 'not paused before the streak');
  const third = await limiter.adapt(destination, 'deferred-all', busy, 10, pauseUntil());
  assert.equal(third.pausedUntil, now + 60_000);
  const answer = await limiter.acquire(destination, now);
  assert.equal(!answer.granted && answer.reason, 'paused');
  assert.equal(await limiter.pausedUntil(destination), now + 60_000);
  const [state] = (await limiter.list(now)).filter((entry) => entry.destination === destination);
  assert.equal(state?.lastError, busy);
  assert.equal(state?.pausedUntil, now + 60_000);
  // A blanket deferral does not shrink the window: the server answered, it was not overloaded by us.
  assert.equal(state?.window, 5);
});

test('a definite answer ends the streak, and a deferral within a second of one does not count', async () => {
  // The guard uses Redis's clock (workers' clocks may differ): real time, not a test clock.
  const limiter = createDestinationLimiter(world.redis.client(), { backoffAfter: 2 });
  const destination = 'mx.mixed-streak.test:25';
  const deferAll = () =>
    limiter.adapt(destination, 'deferred-all', '451 4.7.1 later', 10, Date.now() + 30_000);
  assert.equal((await deferAll()).pausedUntil, undefined, 'streak 1');
  await limiter.adapt(destination, 'ok', '', 10);
  // Within a second of a written success: a process at the maximum window may be skipping its
  // later successes (AT_MAX_RESAMPLE_MS), so these deferrals prove nothing and do not count.
  assert.equal((await deferAll()).pausedUntil, undefined);
  assert.equal((await deferAll()).pausedUntil, undefined);
  assert.equal((await deferAll()).pausedUntil, undefined);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  assert.equal((await deferAll()).pausedUntil, undefined, 'streak 1 again: the success had reset it');
  const paused = await deferAll();
  assert.ok(paused.pausedUntil && paused.started, 'streak 2: paused, and this call began the pause');
  const again = await deferAll();
  assert.equal(again.started, false, 'a deferral during the pause renews it but did not begin it');
  // A session still in flight when the pause began delivers: the backoff ends at once.
  await limiter.adapt(destination, 'ok', '', 10);
  assert.equal(await limiter.pausedUntil(destination), 0);
});

test('a pause for unreachability is not ended by a success; resume ends either kind with its streak', async () => {
  const limiter = createDestinationLimiter(world.redis.client(), { backoffAfter: 2 });
  const destination = 'mx.resume-streak.test:25';
  const until = Date.now() + 60_000;
  await limiter.pause(destination, until, 'connect ECONNREFUSED');
  await limiter.adapt(destination, 'ok', '', 10);
  assert.equal(await limiter.pausedUntil(destination), until);
  await limiter.resume(destination);
  assert.equal(await limiter.pausedUntil(destination), 0);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const deferAll = () => limiter.adapt(destination, 'deferred-all', '450 busy', 10, Date.now() + 30_000);
  await deferAll();
  assert.ok((await deferAll()).started);
  await limiter.resume(destination);
  assert.equal((await deferAll()).pausedUntil, undefined, 'the streak went with the pause');
});

test('behind a pause the first job probes and the others are parked, until a definite answer releases them', async () => {
  const limiter = createDestinationLimiter(world.redis.client(), { backoffAfter: 1 });
  const destination = 'mx.parked.test:25';
  assert.deepEqual(await limiter.holdBack(destination, 'before'), { pausedUntil: 0, probe: false });
  const until = Date.now() + 60_000;
  await limiter.pause(destination, until, 'connect ECONNREFUSED');
  assert.deepEqual(await limiter.holdBack(destination, 'j1'), { pausedUntil: until, probe: true });
  assert.deepEqual(await limiter.holdBack(destination, 'j2'), { pausedUntil: until, probe: false });
  assert.deepEqual(await limiter.holdBack(destination, 'j3'), { pausedUntil: until, probe: false });
  // A later pause (renewed, or a new one) has a probe of its own.
  await limiter.pause(destination, until + 1_000, 'connect ECONNREFUSED');
  assert.equal((await limiter.holdBack(destination, 'j4')).probe, true);
  assert.equal((await limiter.holdBack(destination, 'j5')).probe, false);
  // A deferral releases nothing; a definite answer says the parked jobs may come back.
  assert.equal(
    (await limiter.adapt(destination, 'deferred-all', '450 busy', 10, until)).releaseParked,
    undefined,
  );
  assert.equal((await limiter.adapt(destination, 'ok', '', 10)).releaseParked, true);
  assert.deepEqual((await limiter.takeParked(destination)).sort(), ['j2', 'j3', 'j5']);
  assert.deepEqual(await limiter.takeParked(destination), [], 'taken once');
  assert.equal((await limiter.adapt(destination, 'ok', '', 10)).releaseParked, undefined);
});

test('a backoff that outlasts a pause for unreachability takes it over: a success then ends it', async () => {
  const limiter = createDestinationLimiter(world.redis.client(), { backoffAfter: 1 });
  const destination = 'mx.both-pauses.test:25';
  await limiter.pause(destination, Date.now() + 10_000, 'connect ECONNREFUSED');
  // A session that started before the pause comes back deferred at every recipient.
  await limiter.adapt(destination, 'deferred-all', '450 busy', 10, Date.now() + 60_000);
  const [state] = (await limiter.list()).filter((entry) => entry.destination === destination);
  assert.equal(state?.pauseCause, 'deferred-all');
  await limiter.adapt(destination, 'ok', '', 10);
  assert.equal(await limiter.pausedUntil(destination), 0);
});

test('OUTPOST_DESTINATION_BACKOFF_AFTER=0: never paused for deferrals', async () => {
  const limiter = createDestinationLimiter(world.redis.client(), { backoffAfter: 0 });
  const destination = 'mx.no-backoff.test:25';
  for (let i = 0; i < 20; i++) {
    const adapted = await limiter.adapt(destination, 'deferred-all', '450 busy', 10, Date.now() + 60_000);
    assert.equal(adapted.pausedUntil, undefined);
  }
  assert.equal(await limiter.pausedUntil(destination), 0);
});

test('a receiver that defers every recipient: after 3 attempts its other messages wait without a session; flush ends it', async () => {
  let refusing = true;
  const receiver = await world.receiver('127.0.0.7', {
    rcpt: () => (refusing ? '450 4.7.1 Rate limited, try again later' : undefined),
  });
  world.mx('backoff.test', [{ name: 'mx.backoff.test', priority: 10, a: ['127.0.0.7'] }]);
  const worker = spawnOutpost(
    'delivery',
    world.env({
      LOG_LEVEL: 'debug',
      OUTPOST_DESTINATION_BACKOFF_AFTER: '3',
      // One connection at a time: exactly three attempts come before the pause.
      OUTPOST_DESTINATION_WINDOW_START: '1',
      OUTPOST_DESTINATION_WINDOW_MAX: '1',
      OUTPOST_RETRY_FIRST: '60s',
      OUTPOST_RETRY_MAX: '60s',
    }),
  );
  workers.push(worker);
  await worker.waitForLog((line) => line.msg === 'delivery running');
  const { first, paused } = await deferUntilPaused(worker, 'backoff.test', 3);
  assert.equal(paused.cause, 'deferred-all');
  assert.equal(paused.lastProblem, '450 4.7.1 Rate limited, try again later');

  const later: Message[] = [];
  for (let i = 3; i < 8; i++) later.push(await world.enqueue({ recipients: [`user${i}@backoff.test`] }));
  await waitFor(
    () =>
      later.every((message) =>
        worker.logs.some(
          (line) => line.msg === 'no slot' && line.messageId === message.id && line.reason === 'paused',
        ),
      ),
    10_000,
    'every later message waits for the pause',
  );
  // Each waited on the process's own memory of the pause (one field read), not on the limiter's
  // answer after loading the message.
  const waits = worker.logs.filter(
    (line) => line.msg === 'no slot' && later.some((message) => message.id === line.messageId),
  );
  assert.ok(
    waits.every((line) => line.known === true),
    JSON.stringify(waits),
  );
  // One of them probes the pause's end; the others are parked behind it.
  assert.equal(waits.filter((line) => line.parked === true).length, later.length - 1, JSON.stringify(waits));
  const rcpts = receiver.events.filter((event) => event.stage === 'rcpt');
  assert.equal(rcpts.length, 3, 'only the first three messages met the receiver');
  assert.equal(
    worker.logs.filter((line) => line.msg === 'delivery attempt' && line.domain === 'backoff.test').length,
    3,
  );
  const limiter = createDestinationLimiter(world.redis.client());
  const [state] = (await limiter.list()).filter((entry) => entry.destination.startsWith('mx.backoff.test:'));
  assert.ok(state?.pausedUntil && state.pausedUntil > Date.now() + 30_000, 'paused for a retry interval');
  assert.equal(state?.lastError, '450 4.7.1 Rate limited, try again later');
  assert.equal(state?.pauseCause, 'deferred-all');

  // The receiver recovers and the operator flushes: the pause ends in Redis, and the worker, which
  // remembers the domain as paused for another minute, asks Redis again and delivers all eight.
  refusing = false;
  const controls = createOperatorControls(world.redis.client());
  try {
    assert.equal(await controls.flushDomain('backoff.test'), 8);
  } finally {
    await controls.close();
  }
  for (const message of [...first, ...later]) await world.waitForMessageDone(message.id, 20_000);
  assert.equal(receiver.messages.filter((entry) => entry.acknowledged).length, 8);
});

test('jobs parked behind a backoff come back as soon as the destination delivers again, not at their own time', async () => {
  let refusing = true;
  const receiver = await world.receiver('127.0.0.8', {
    rcpt: () => (refusing ? '450 4.7.1 Rate limited, try again later' : undefined),
  });
  world.mx('parked.test', [{ name: 'mx.parked.test', priority: 10, a: ['127.0.0.8'] }]);
  const pauseMs = 3_000;
  const worker = spawnOutpost(
    'delivery',
    world.env({
      LOG_LEVEL: 'debug',
      OUTPOST_DESTINATION_BACKOFF_AFTER: '2',
      OUTPOST_DESTINATION_WINDOW_START: '1',
      OUTPOST_DESTINATION_WINDOW_MAX: '1',
      OUTPOST_RETRY_FIRST: `${pauseMs / 1_000}s`,
      OUTPOST_RETRY_MAX: `${pauseMs / 1_000}s`,
    }),
  );
  workers.push(worker);
  await worker.waitForLog((line) => line.msg === 'delivery running');
  const { first } = await deferUntilPaused(worker, 'parked.test', 2);
  const pausedAt = Date.now();
  const later: Message[] = [];
  for (let i = 2; i < 8; i++) later.push(await world.enqueue({ recipients: [`user${i}@parked.test`] }));
  const waitsOf = () =>
    worker.logs.filter(
      (line) => line.msg === 'no slot' && later.some((message) => message.id === line.messageId),
    );
  await waitFor(() => waitsOf().length >= later.length, 10_000, 'every later message waits for the pause');
  assert.equal(waitsOf().filter((line) => line.parked === true).length, later.length - 1);

  // The receiver recovers. The first two messages are retried at the pause's end, get a 250, and
  // that definite answer brings the parked jobs back at once: they were due only three pause
  // lengths after its end.
  refusing = false;
  for (const message of [...first, ...later]) await world.waitForMessageDone(message.id, 20_000);
  const tookMs = Date.now() - pausedAt;
  assert.ok(tookMs < 3 * pauseMs, `all delivered ${tookMs} ms after the pause began`);
  assert.equal(receiver.messages.filter((entry) => entry.acknowledged).length, 8);
});
