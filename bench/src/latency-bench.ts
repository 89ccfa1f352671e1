/**
 * Latency at a steady offered load: the project's injector sends `rate` messages per second (100,
 * about half of what Postfix delivers here) into ingest, one delivery worker delivers them to the
 * project's receivers (they note when each X-Bench-Seq message's 250 goes out). Per message: the
 * receiver's 250 minus the moment ingest answered 250 to the injector (enqueued, durably).
 */
import { join } from 'node:path';
import { type LoadAverage, loadAverage } from './loadavg.ts';
import { startOutpost } from './outpost-stack.ts';
import { MX_ADDRESSES } from './peers/zone.ts';
import { spawnNode, waitForQuietMachine } from './processes.ts';
import { type Latency, latencyOf } from './stats.ts';
import type { WorldDns } from './world.ts';
import { startWorldReceivers } from './world.ts';
import type { WorldLoadResult } from './world-load.ts';

const WORLD_LOAD_SCRIPT = join('bench', 'src', 'world-load.ts');
/** The target's bound (issue 9: p99 enqueue-to-delivered <= 50 ms); slower messages are located. */
const SLOW_MS = 50;
/** Messages the injector sends straight to the receivers before the measured load (~1 s). */
const INSTRUMENT_WARM_UP_MESSAGES = 1_000;

export interface LatencyRunResult {
  run: number;
  rate: number;
  messages: number;
  delivered: number;
  /** Enqueued (ingest's 250) to delivered (the receiver's 250), every message. */
  latencyMs: Latency;
  /** The same without the first 10% of the messages (cold JIT, first connections). */
  steadyLatencyMs: Latency;
  /**
   * Where the tail is: per second of the run (counted from the first acceptance), the messages that
   * took longer than 50 ms (the target) and the slowest of them. A cold start shows as second 0.
   */
  slowSeconds: Array<{ second: number; count: number; maxMs: number }>;
  /** Ingest's answer to the final dot, as the injector saw it. */
  acceptMs: Latency;
  /** Messages accepted per second, as offered (checks that the injector kept the pace). */
  offeredPerSecond: number;
  workerRssPeakBytes: number;
  loadavg: { start: LoadAverage; end: LoadAverage };
  busyBeforeCores: number;
  problems: string[];
}

export async function runLatencyOnce(settings: {
  run: number;
  rate: number;
  seconds: number;
  size: number;
  dns: WorldDns;
  codeRoot: string;
  quietWaitMs?: number;
  cpuProfileDir?: string;
  notice?: (text: string) => void;
}): Promise<LatencyRunResult> {
  const busyBeforeCores = await waitForQuietMachine(0.3, settings.quietWaitMs ?? 10_000, (cores) =>
    settings.notice?.(`machine busy: ${cores.toFixed(2)} cores used by others`),
  );
  const start = loadAverage();
  const messages = settings.rate * settings.seconds;
  const problems: string[] = [];
  const receivers = await startWorldReceivers('node', { codeRoot: settings.codeRoot });
  // The injector and these receivers are Node processes too: they warm up on each other first, so
  // that compiling their own code takes no CPU from Outpost while it is measured. Outpost starts
  // after that, and the load begins once it is ready, as before.
  const load = spawnNode(
    join(settings.codeRoot, WORLD_LOAD_SCRIPT),
    [
      JSON.stringify({
        host: '127.0.0.1',
        port: 0,
        messages,
        size: settings.size,
        rate: settings.rate,
        warmUp: { hosts: MX_ADDRESSES, port: receivers.port, messages: INSTRUMENT_WARM_UP_MESSAGES },
      }),
    ],
    { env: { PATH: process.env.PATH ?? '' } },
  );
  const stopInstruments = async () => {
    await load.stop();
    await receivers.stop();
  };
  await load.nextLine('WARM ', 120_000).catch(async (error: unknown) => {
    await stopInstruments();
    throw error;
  });
  const stack = await startOutpost({
    codeRoot: settings.codeRoot,
    dnsServer: settings.dns.server,
    deliveryPort: receivers.port,
    workers: 1,
    ingest: true,
    ...(settings.cpuProfileDir && {
      cpuProfileDir: settings.cpuProfileDir,
      profileLabel: `latency-run${settings.run}`,
    }),
  }).catch(async (error: unknown) => {
    await stopInstruments();
    throw error;
  });
  try {
    load.send(`TARGET ${stack.ingest!.port}`);
    const result = await load.nextLine<WorldLoadResult>('RESULT ', 3_600_000);
    await load.stop();
    if (result.failed > 0) problems.push(`${result.failed} refused: ${result.failures.join(' / ')}`);
    const arrived = await receivers.waitFor(result.accepted, 60_000);
    if (arrived === undefined) problems.push(`only ${receivers.delivered()} of ${result.accepted} arrived`);
    const report = await receivers.report!();
    if (report.warmUps !== INSTRUMENT_WARM_UP_MESSAGES)
      problems.push(
        `the receivers took ${report.warmUps} of ${INSTRUMENT_WARM_UP_MESSAGES} warm-up messages`,
      );
    const deliveredAt = new Map<number, number>();
    report.seqs.forEach((seq, index) => {
      if (!deliveredAt.has(seq)) deliveredAt.set(seq, report.times[index]!);
    });
    const all: number[] = [];
    const steady: number[] = [];
    const warmUp = Math.floor(messages / 10);
    const slow = new Map<number, { second: number; count: number; maxMs: number }>();
    result.acceptedAt.forEach((acceptedAt, seq) => {
      const delivered = deliveredAt.get(seq);
      if (acceptedAt === null || Number.isNaN(acceptedAt) || delivered === undefined) return;
      const latency = delivered - acceptedAt;
      all.push(latency);
      if (seq >= warmUp) steady.push(latency);
      if (latency > SLOW_MS) {
        const second = Math.floor((acceptedAt - result.startedAt) / 1000);
        const entry = slow.get(second) ?? { second, count: 0, maxMs: 0 };
        entry.count++;
        entry.maxMs = Math.max(entry.maxMs, latency);
        slow.set(second, entry);
      }
    });
    const sorted = (values: number[]) => values.sort((a, b) => a - b);
    const accepts = result.acceptMs.filter((value) => value !== null && !Number.isNaN(value));
    return {
      run: settings.run,
      rate: settings.rate,
      messages,
      delivered: deliveredAt.size,
      latencyMs: latencyOf(sorted(all)),
      steadyLatencyMs: latencyOf(sorted(steady)),
      slowSeconds: [...slow.values()].sort((a, b) => a.second - b.second),
      acceptMs: latencyOf(sorted(accepts)),
      offeredPerSecond: result.accepted / ((result.finishedAt - result.startedAt) / 1000),
      workerRssPeakBytes: Math.max(...stack.rssPeaks().workers),
      loadavg: { start, end: loadAverage() },
      busyBeforeCores: Math.round(busyBeforeCores * 100) / 100,
      problems,
    };
  } finally {
    await stack.stop();
    await stopInstruments();
  }
}
