import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { POSSIBLE_DUPLICATES_KEY } from '@outpost/delivery';
import type { InvariantReport } from './invariants.ts';
import { FINAL_DOT, firstConnection, proxiedReceiver } from './support/proxied-receiver.ts';
import { OtlpCollector } from './support/spans.ts';
import { assertNoViolations, ReliabilityWorld, waitFor } from './support/world.ts';

// Delivery workers as processes, killed with -9 at the moments that matter: in the middle of DATA,
// right after the receiver's 250 (the store-then-crash duplicate window), and twice on one job
// (past BullMQ's stall limit). Already covered elsewhere (services/delivery/test/
// worker-lifecycle.integration.test.ts): a kill at RCPT, SIGTERM with one session, the failed-job
// sweeper on its own.

/** Short locks, so that a killed worker's job is picked up again within seconds. */
const WORKER_ENV = { OUTPOST_JOB_LOCK_DURATION: '2s', OUTPOST_JOB_STALLED_INTERVAL: '500ms' };

interface Scenario {
  world: ReliabilityWorld;
  collector: OtlpCollector;
  /** Worker settings, spans sent to the collector. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function setUp(): Promise<Scenario> {
  const world = await ReliabilityWorld.start();
  const collector = await OtlpCollector.start();
  return {
    world,
    collector,
    env: { ...WORKER_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint },
    async stop() {
      await world.stop();
      await collector.close();
    },
  };
}

/** Ends a scenario: the last worker stops cleanly (its spans flushed), then the invariants. */
async function finish(
  scenario: Scenario,
  last: { kill(signal?: NodeJS.Signals): Promise<number | null> },
  allowances: Parameters<ReliabilityWorld['check']>[0],
): Promise<InvariantReport> {
  await scenario.world.settled(30_000);
  await last.kill('SIGTERM');
  return scenario.world.check(allowances, scenario.collector.spans);
}

test('kill -9 of a worker in the middle of DATA: nothing reached the receiver, delivered once by the next worker', async (t) => {
  const scenario = await setUp();
  t.after(() => scenario.stop());
  const { world: w, env } = scenario;
  // Forward the first 30 bytes of the message, then hold the rest: the worker sits mid-DATA.
  const { receiver, proxy } = await proxiedReceiver(w, {
    domain: 'middata.test',
    host: '127.0.0.2',
    proxyHost: '127.0.0.12',
    plan: firstConnection({
      toServer: { trigger: { armedBy: /^354 /m, afterBytes: 30 }, action: { kind: 'hold' } },
    }),
  });
  const victim = await w.spawn('delivery', env);
  await w.enqueue([{ recipients: ['bob@middata.test'] }]);
  await proxy.waitForEvent((event) => event.kind === 'held', 10_000);
  await victim.kill('SIGKILL');
  await proxy.waitForEvent((event) => event.kind === 'closed' && event.connection === 1);
  assert.equal(receiver.messages.length, 0, 'a message cut mid-DATA is not taken');

  const next = await w.spawn('delivery', env);
  await waitFor(() => receiver.messages.length === 1, 15_000, 'the next worker to deliver');
  const report = await finish(scenario, next, {});
  assertNoViolations(report);
  assert.equal(report.summary.duplicates, 0);
});

describe('kill -9 of a worker right after the receiver answered 250 (store-then-crash)', () => {
  // The receiver stores the message and answers 250; the proxy holds that 250, the worker is killed
  // before it can learn of it. Its job is still active: once the lock lapses another worker sends
  // the message again. That second copy is the window RFC 5321 §6.1 leaves to the sender.
  let scenario: Scenario | undefined;
  after(() => scenario?.stop());

  test('no loss, at most one extra copy, everything recorded by the next worker', async () => {
    scenario = await setUp();
    const { world: w, env } = scenario;
    const { receiver, proxy } = await proxiedReceiver(w, {
      domain: 'after250.test',
      host: '127.0.0.3',
      proxyHost: '127.0.0.13',
      plan: firstConnection({ toClient: { trigger: { armedBy: FINAL_DOT }, action: { kind: 'hold' } } }),
    });
    const victim = await w.spawn('delivery', env);
    await w.enqueue([{ recipients: ['bob@after250.test', 'carol@after250.test'] }]);
    await proxy.waitForEvent((event) => event.kind === 'held', 10_000);
    assert.equal(receiver.messages.length, 1, 'the receiver has the message');
    await victim.kill('SIGKILL');

    const next = await w.spawn('delivery', env);
    await waitFor(() => receiver.messages.length === 2, 15_000, 'the job to run again');
    const report = await finish(scenario, next, {
      duplicates: { window: 'worker killed after the remote 250', faults: 1 },
      unrecordedAttempts: 1,
    });
    // No `uncounted` allowance: the invariant fails unless an attempt record flags the copy.
    assertNoViolations(report);
    assert.equal(receiver.messages.length, 2, 'one copy from each worker: the duplicate window happened');
    assert.equal(report.summary.duplicates, 1, 'one repeated transaction');
    const flagged = report.explained.filter((line) => line.includes('duplicate counted by the product'));
    assert.equal(flagged.length, 2, `both recipients flagged: ${report.explained.join('; ')}`);
    assert.equal(
      await w.admin.get(POSSIBLE_DUPLICATES_KEY),
      '2',
      'the cluster-wide counter has one possible duplicate per recipient sent twice',
    );
    assert.deepEqual(await w.admin.keys('{outpost}:sent:*'), [], 'no send mark left once the job completed');
  });
});

test('a worker killed twice on the same job (past maxStalledCount): the job is recovered, never silently failed', async (t) => {
  const scenario = await setUp();
  t.after(() => scenario.stop());
  const { world: w, env } = scenario;
  // The first two sessions stall at RCPT (no reply within the test), the third is answered.
  const receiver = await w.receiver('127.0.0.4', {
    rcpt: (ctx) => (ctx.session <= 2 ? { delayMs: 30_000 } : undefined),
  });
  w.mx('twice.test', '127.0.0.4');
  const first = await w.spawn('delivery', env);
  await w.enqueue([{ recipients: ['bob@twice.test'] }]);
  await waitFor(
    () => receiver.events.some((e) => e.session === 1 && e.stage === 'mail'),
    10_000,
    'session 1',
  );
  await first.kill('SIGKILL');

  const second = await w.spawn('delivery', env);
  await waitFor(
    () => receiver.events.some((e) => e.session === 2 && e.stage === 'mail'),
    15_000,
    'session 2',
  );
  await second.kill('SIGKILL');

  const third = await w.spawn('delivery', env);
  // BullMQ moves the job to failed (stalled twice, maxStalledCount 1); the sweeper puts it back.
  const recovered = await third.waitForLog((line) => line.msg === 'recovering failed job', 15_000);
  assert.match(String(recovered.reason), /stalled/);
  await waitFor(() => receiver.messages.length === 1, 15_000, 'the recovered job to deliver');
  const report = await finish(scenario, third, {});
  assertNoViolations(report);
  assert.equal(report.summary.duplicates, 0);
});
