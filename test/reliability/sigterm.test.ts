import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SmtpReceiver } from '@outpost/testing';
import { OtlpCollector } from './support/spans.ts';
import { assertNoViolations, ReliabilityWorld, waitFor } from './support/world.ts';

// SIGTERM of a delivery worker with 20 sessions in flight. Already covered elsewhere
// (services/delivery/test/worker-lifecycle.integration.test.ts): SIGTERM with one session.
const SESSIONS = 20;
/** Timeouts long enough for a receiver that takes 3 s to answer the end of data. */
const PATIENT = { OUTPOST_SMTP_COMMAND_TIMEOUT: '10s', OUTPOST_SMTP_END_OF_DATA_TIMEOUT: '10s' };

/** SESSIONS domains, each its own destination (own MX name), all served by one receiver. */
async function destinations(world: ReliabilityWorld, host: string, delayMs: number): Promise<SmtpReceiver> {
  const receiver = await world.receiver(host, { data: { delayMs } });
  for (let i = 0; i < SESSIONS; i++) world.mx(`term${i}.test`, host);
  return receiver;
}

const enqueueOnePerDomain = (world: ReliabilityWorld) =>
  world.enqueue(Array.from({ length: SESSIONS }, (_, i) => ({ recipients: [`bob@term${i}.test`] })));

/** Every session is under way (its recipient accepted) and none has had its final reply yet. */
const allInFlight = (receiver: SmtpReceiver) =>
  waitFor(
    () =>
      new Set(receiver.events.filter((event) => event.stage === 'rcpt').map((event) => event.session)).size >=
        SESSIONS && !receiver.events.some((event) => event.stage === 'data'),
    10_000,
    `${SESSIONS} sessions in flight`,
  );

test(`SIGTERM with ${SESSIONS} sessions in flight: all of them finish, the worker exits 0, nothing is sent twice`, async (t) => {
  const world = await ReliabilityWorld.start();
  const collector = await OtlpCollector.start();
  t.after(async () => {
    await world.stop();
    await collector.close();
  });
  // The reply after the dot comes late (time for all sessions to start), yet within the timeouts.
  const receiver = await destinations(world, '127.0.0.2', 3_000);
  const worker = await world.spawn('delivery', {
    ...PATIENT,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
  });
  await enqueueOnePerDomain(world);
  await allInFlight(receiver);
  assert.equal(receiver.messages.length, 0, 'no session finished before the signal');

  const stopping = Date.now();
  assert.equal(await worker.kill('SIGTERM'), 0, 'a clean exit');
  const stopMs = Date.now() - stopping;
  assert.equal(
    receiver.messages.filter((copy) => copy.acknowledged).length,
    SESSIONS,
    'every session finished',
  );
  // The next worker only finishes the messages (their parent jobs): it sends nothing again.
  await world.startDelivery();
  await world.settled(10_000);
  const report = await world.check({ spansComplete: true }, collector.spans);
  assertNoViolations(report);
  assert.equal(receiver.messages.length, SESSIONS, 'nothing sent twice');
  t.diagnostic(`the worker exited ${stopMs} ms after SIGTERM`);
  assert.equal(report.summary.spans, SESSIONS, 'one attempt span per message, flushed at exit');
});

test('SIGTERM when the sessions outlast the shutdown grace: the jobs are abandoned to the next worker, not lost', async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  // Replies take 3 s, the grace is 300 ms.
  const receiver = await destinations(world, '127.0.0.3', 3_000);
  const worker = await world.spawn('delivery', {
    ...PATIENT,
    OUTPOST_SHUTDOWN_GRACE: '300ms',
    OUTPOST_JOB_LOCK_DURATION: '2s',
  });
  await enqueueOnePerDomain(world);
  await allInFlight(receiver);
  await worker.kill('SIGTERM');
  assert.equal(receiver.messages.length, 0, 'cut off before any reply');

  receiver.script = {};
  await world.startDelivery();
  await world.settled(20_000);
  const report = await world.check();
  assertNoViolations(report);
  assert.equal(receiver.messages.length, SESSIONS, 'each message delivered once by the next worker');
});
