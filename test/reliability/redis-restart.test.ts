import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OutpostProcess } from '@outpost/testing';
import { type Allowances, headerOf, type InvariantReport } from './invariants.ts';
import { size } from './support/scale.ts';
import { OtlpCollector } from './support/spans.ts';
import { assertNoViolations, ReliabilityWorld, sleep, waitFor } from './support/world.ts';

// Redis killed with -9 while two worker processes deliver MESSAGES messages, then restarted from
// its AOF: the workers resume on their own, every accepted recipient reaches a final state, and
// the DSNs of the few that bounce are sent exactly as without the crash. Already covered elsewhere
// (services/delivery/test/worker-lifecycle.integration.test.ts): Redis restarted with messages
// queued and no session in flight.
const MESSAGES = size(1_000, 1_000);
const CONCURRENCY = 20;
const WORKERS = 2;
/** Redis stays down longer than a job lock: the locks of the sessions in flight lapse meanwhile. */
const LOCK_MS = 2_000;
const OUTAGE_MS = LOCK_MS + 1_000;

describe(`Redis killed and restarted from its AOF with ${MESSAGES} messages in flight`, () => {
  let world: ReliabilityWorld;
  let collector: OtlpCollector;
  const workers: OutpostProcess[] = [];
  let report: InvariantReport;
  let allowances: Allowances;

  before(async () => {
    world = await ReliabilityWorld.start();
    collector = await OtlpCollector.start();
  });
  after(async () => {
    await world.stop();
    await collector.close();
  });

  test('the workers resume within 30 s, nothing accepted is lost, DSNs as usual', async (t) => {
    // Sessions take a little while, so that many are in flight when Redis dies.
    const slow = { data: { delayMs: 40 } };
    const receivers = [await world.receiver('127.0.0.2', slow), await world.receiver('127.0.0.3', slow)];
    world.mx('aof-a.test', '127.0.0.2');
    world.mx('aof-b.test', '127.0.0.3');
    await world.receiver('127.0.0.4', { rcpt: '550 5.1.1 No such user here' });
    world.mx('gone.test', '127.0.0.4');
    const senderServer = await world.receiver('127.0.0.5');
    world.mx('origin.test', '127.0.0.5');

    const env = {
      OUTPOST_DELIVERY_CONCURRENCY: String(CONCURRENCY),
      OUTPOST_JOB_LOCK_DURATION: `${LOCK_MS}ms`,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    };
    for (let i = 0; i < WORKERS; i++) workers.push(await world.spawn('delivery', env));
    const bounce = await world.spawn('bounce', env);
    workers.push(bounce);

    // One message in 50 has a recipient that bounces: its DSN goes back to origin.test.
    const started = Date.now();
    await world.enqueue(
      Array.from({ length: MESSAGES }, (_, i) => ({
        recipients: [
          `user${i}@${i % 2 ? 'aof-a.test' : 'aof-b.test'}`,
          ...(i % 50 === 0 ? [`gone${i}@gone.test`] : []),
        ],
      })),
    );
    const delivered = () => receivers.reduce((total, receiver) => total + receiver.messages.length, 0);
    await waitFor(() => delivered() >= MESSAGES * 0.3, 60_000, 'a third of the messages delivered');

    await world.redis.kill();
    const atKill = delivered();
    await sleep(OUTAGE_MS);
    await world.redis.start();
    const restarted = Date.now();
    // Sessions that were in flight finished meanwhile: count from the restart.
    const atRestart = delivered();
    await waitFor(() => delivered() > atRestart, 30_000, 'the first delivery after the restart');
    const resumedMs = Date.now() - restarted;

    await world.settled(size(90_000, 180_000));
    const drainedMs = Date.now() - started;
    // A clean stop flushes each process's spans to the collector.
    for (const worker of workers) assert.equal(await worker.kill('SIGTERM'), 0);
    // A session finished while Redis was down could not be recorded as done: its job runs again.
    const inFlight = WORKERS * CONCURRENCY;
    allowances = {
      duplicates: { window: 'Redis killed with sessions in flight', faults: inFlight },
      unrecordedAttempts: inFlight,
      postmaster: 'postmaster@outpost.test',
    };
    // No `uncounted` allowance: every copy sent twice must be flagged by the rerun's attempt record.
    report = await world.check(allowances, collector.spans);
    assertNoViolations(report);
    const bounced = Math.ceil(MESSAGES / 50);
    // DSNs by the message they report on. Two different DSNs about one message would be a bounce
    // bug; a second copy of the same DSN (same Message-ID) is a delivery duplicate of the crash
    // window, which I2 above already required the product to have counted.
    const dsnsAbout = new Map<string, Set<string>>();
    for (const copy of senderServer.messages) {
      const about = String(headerOf(copy.data, 'in-reply-to'));
      dsnsAbout.set(
        about,
        (dsnsAbout.get(about) ?? new Set()).add(String(headerOf(copy.data, 'message-id'))),
      );
    }
    const reportedTwice = [...dsnsAbout]
      .filter(([, ids]) => ids.size > 1)
      .map(([about, ids]) => `${about}: ${[...ids].join(', ')}`);
    assert.deepEqual(reportedTwice, [], 'no message reported in two different DSNs');
    assert.equal(dsnsAbout.size, bounced, 'one DSN per message with a bounced recipient');
    t.diagnostic(
      `${MESSAGES} messages; ${atKill} delivered when Redis was killed, ${atRestart} when it was back after ` +
        `${OUTAGE_MS} ms; first delivery ${resumedMs} ms after the restart; ` +
        `all done ${drainedMs} ms after queueing; ${report.summary.duplicates} repeated transaction(s)`,
    );
  });
});
