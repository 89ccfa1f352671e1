/**
 * The end-to-end comparison, one run of one system in one mode, in the same world (DNS with the 50
 * test domains, receivers on 127.0.0.2-11) and with the same injector:
 *
 *   e2e      inject N messages, clock from the first injection to the last message at a receiver;
 *   hold     ingest only, then delivery only: Outpost's delivery queue is paused (an operator's
 *            `outpost delivery pause`), Postfix holds every message (smtpd_data_restrictions HOLD);
 *            once the injectors are done the queue is released (`resume` / `postsuper -H ALL` +
 *            `postqueue -f`) and the clock for delivery only runs from there;
 *   defer10  as e2e, but mx10 (10% of the recipients) answers 450 to every RCPT until the other 90%
 *            have arrived; then it is restarted plain and the deferred 10% must be retried;
 *   traced   as e2e, with Outpost's traces exported over OTLP (as docker-compose.yml deploys it,
 *            to Jaeger) to a sink that counts them (otlp-sink.ts). Outpost only.
 */

import { join } from 'node:path';
import { QUEUE_NAMES, QUEUE_PREFIX } from '@outpost/queue';
import { freePort } from '@outpost/testing';
import { Queue } from 'bullmq';
import { type LoadAverage, loadAverage } from './loadavg.ts';
import { startOtlpSink } from './otlp-sink.ts';
import { startOutpost, workerCounts } from './outpost-stack.ts';
import { summarizeMaillog } from './peers/maillog.ts';
import { startPostfix } from './peers/postfix.ts';
import { type InjectionResult, injectToDomains } from './peers/smtp-source.ts';
import type { PeerTools } from './peers/system-tools.ts';
import { MX_COUNT, messagesForMx } from './peers/zone.ts';
import { cpuTimeMs, machineCpuMs, spawnNode, waitForQuietMachine } from './processes.ts';
import type { WorldDns, WorldReceivers } from './world.ts';
import { startWorldReceivers } from './world.ts';
import type { WorldLoadResult } from './world-load.ts';

export const E2E_MODES = ['e2e', 'hold', 'defer10', 'traced'] as const;

/** Retry timing of both systems in the defer10 workload (Postfix's defaults are 300 s / 4000 s). */
const DEFER10_BACKOFF = { min: '10s', max: '60s' } as const;
export type E2eMode = (typeof E2E_MODES)[number];
export type System = 'outpost' | 'postfix';

const WORLD_LOAD_SCRIPT = join('bench', 'src', 'world-load.ts');

export interface E2eSettings {
  system: System;
  mode: E2eMode;
  run: number;
  messages: number;
  size: number;
  /** Outpost delivery worker processes. */
  workers: number;
  tools?: PeerTools;
  dns: WorldDns;
  receivers: 'smtp-sink' | 'node';
  codeRoot: string;
  scratch: string;
  /** A run is given up when no message arrived for this long. */
  stallTimeoutMs: number;
  /** Waits at most this long for other processes to use under 0.3 cores before a run (default 10 s). */
  quietWaitMs?: number;
  cpuProfileDir?: string;
  notice?: (text: string) => void;
}

export interface E2eRunResult {
  system: System;
  mode: E2eMode;
  run: number;
  messages: number;
  size: number;
  workers: number;
  injector: 'smtp-source' | 'world-load';
  receivers: 'smtp-sink' | 'node';
  delivered: number;
  complete: boolean;
  /** First injection until every injector was done (every message answered 250). */
  injectMs: number;
  ingestPerSecond: number;
  /** e2e, defer10: first injection until the last message arrived. */
  elapsedMs: number;
  e2ePerSecond: number;
  /** hold: release until the last message arrived. */
  deliveryOnlyMs?: number;
  deliveryOnlyPerSecond?: number;
  /** defer10: until the 90% that were not deferred had arrived, and their rate. */
  goodPathMs?: number;
  goodPathPerSecond?: number;
  retryDrainMs?: number;
  /** Deferred recipient outcomes (Outpost metrics; Postfix status=deferred lines). */
  deferred: number;
  /**
   * Outpost only: jobs put back without an attempt because their destination was paused
   * (outpost_delivery_waits_total{reason="paused"}): each one a fetch, a read and a move.
   */
  pausedWaits?: number;
  /** Postfix only: delay= percentiles of its maillog (arrival to remote 250). */
  postfixDelayMs?: { p50: number; p99: number };
  /** traced: what the trace sink received (requests, spans, bytes). */
  traces?: { requests: number; spans: number; bytes: number };
  /** Peak RSS (VmHWM), Outpost only. */
  rssPeakBytes?: { ingest: number; workers: number[] };
  /** CPU of the machine over the run (100% = one core), and of Outpost's processes. */
  cpu: { machinePercent: number; outpost?: { ingest: number; workers: number; redis: number } };
  loadavg: { start: LoadAverage; end: LoadAverage };
  busyBeforeCores: number;
  problems: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `count` deliveries, giving up when none arrived for `stallMs`. */
async function waitForDeliveries(receivers: WorldReceivers, count: number, stallMs: number) {
  let seen = receivers.delivered();
  let progressAt = Date.now();
  for (;;) {
    const at = await receivers.waitFor(count, 1_000);
    if (at !== undefined) return at;
    const now = receivers.delivered();
    if (now > seen) {
      seen = now;
      progressAt = Date.now();
    } else if (Date.now() - progressAt > stallMs) return undefined;
  }
}

/** Injects with smtp-source when installed, else with the project's world-load. */
async function inject(
  settings: E2eSettings,
  port: number,
  onStart: () => void,
): Promise<InjectionResult & { injector: E2eRunResult['injector'] }> {
  if (settings.tools) {
    // The clock starts before the 50 injectors are spawned: spawning is part of the injection.
    onStart();
    const result = await injectToDomains(settings.tools.smtpSource, {
      host: '127.0.0.1',
      port,
      total: settings.messages,
      size: settings.size,
    });
    return { ...result, injector: 'smtp-source' };
  }
  const load = spawnNode(
    join(settings.codeRoot, WORLD_LOAD_SCRIPT),
    [JSON.stringify({ host: '127.0.0.1', port, messages: settings.messages, size: settings.size })],
    { env: { PATH: process.env.PATH ?? '' } },
  );
  await load.nextLine('STARTED ', 60_000);
  onStart();
  const result = await load.nextLine<WorldLoadResult>('RESULT ', 3_600_000);
  return {
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    messages: settings.messages,
    failedProcesses: result.failed > 0 ? 1 : 0,
    errors: result.failures,
    injector: 'world-load',
  };
}

/** One run of one system in one mode. */
export async function runE2eOnce(settings: E2eSettings): Promise<E2eRunResult> {
  const busyBeforeCores = await waitForQuietMachine(0.3, settings.quietWaitMs ?? 10_000, (cores) =>
    settings.notice?.(`machine busy: ${cores.toFixed(2)} cores used by others`),
  );
  const loadStart = loadAverage();
  const problems: string[] = [];
  const deferring = settings.mode === 'defer10' ? [MX_COUNT] : [];
  if (settings.mode === 'defer10' && settings.receivers !== 'smtp-sink') {
    throw new Error('the defer10 mode needs smtp-sink (postfix package)');
  }
  const receivers = await startWorldReceivers(settings.receivers, {
    ...(settings.tools && { tools: settings.tools }),
    codeRoot: settings.codeRoot,
    deferring,
  });
  const n = settings.messages;
  const goodPathCount = n - messagesForMx(n, MX_COUNT);
  let stopSystem: () => Promise<void> | void = () => {};
  try {
    // Start the system under test.
    let injectPort: number;
    let release: () => Promise<void> = async () => {};
    let outpostCpu: () => { ingest: number; workers: number; redis: number } = () => ({
      ingest: 0,
      workers: 0,
      redis: 0,
    });
    let finish: () => Promise<Partial<E2eRunResult>>;
    if (settings.system === 'outpost') {
      const sink = settings.mode === 'traced' ? await startOtlpSink() : undefined;
      // Stopped with the system, or now if the system does not start.
      stopSystem = async () => {
        await sink?.stop();
      };
      const stack = await startOutpost({
        ...(sink && { otlpEndpoint: sink.endpoint }),
        codeRoot: settings.codeRoot,
        dnsServer: settings.dns.server,
        deliveryPort: receivers.port,
        workers: settings.workers,
        ingest: true,
        ...(settings.cpuProfileDir && {
          cpuProfileDir: settings.cpuProfileDir,
          profileLabel: `e2e-${settings.mode}-${settings.size}-run${settings.run}`,
        }),
        // The same retry timing as the reference's in this workload (backoffMin/backoffMax below):
        // with 1-2 s retries the deferred 10% were tried again every second or two, work a real
        // queue (minutes between tries) never does, taken from the other 90%.
        ...(settings.mode === 'defer10' && {
          workerEnv: { OUTPOST_RETRY_FIRST: DEFER10_BACKOFF.min, OUTPOST_RETRY_MAX: DEFER10_BACKOFF.max },
        }),
      });
      stopSystem = async () => {
        try {
          await stack.stop();
        } finally {
          await sink?.stop();
        }
      };
      injectPort = stack.ingest!.port;
      const client = stack.redis.client();
      const deliveryQueue = new Queue(QUEUE_NAMES.delivery, { connection: client, prefix: QUEUE_PREFIX });
      deliveryQueue.on('error', () => {});
      if (settings.mode === 'hold') await deliveryQueue.pause();
      release = () => deliveryQueue.resume();
      const pids = [stack.ingest!.child.child.pid, ...stack.workers.map((w) => w.child.pid), stack.redis.pid];
      const before = pids.map((pid) => cpuTimeMs(pid)?.own ?? 0);
      outpostCpu = () => {
        const used = pids.map((pid, index) => (cpuTimeMs(pid)?.own ?? 0) - before[index]!);
        return {
          ingest: used[0]!,
          workers: used.slice(1, -1).reduce((a, b) => a + b, 0),
          redis: used.at(-1)!,
        };
      };
      finish = async () => {
        const { verdicts, waits } = await workerCounts(stack.healthPorts);
        const counted = { deferred: verdicts.deferred ?? 0, pausedWaits: waits.paused ?? 0 };
        for (const verdict of Object.keys(verdicts)) {
          if (verdict !== 'delivered' && verdict !== 'deferred') {
            problems.push(`${verdicts[verdict]} recipient outcome(s) "${verdict}"`);
          }
        }
        const rss = stack.rssPeaks();
        await deliveryQueue.close().catch(() => {});
        if (!sink) return { ...counted, rssPeakBytes: rss };
        // The batch processors export every few seconds: the spans of the last messages may still
        // be on their way, so only an empty sink is a problem.
        const traces = sink.received();
        if (traces.spans === 0) problems.push('traced: the trace sink received no span');
        return { ...counted, rssPeakBytes: rss, traces };
      };
    } else {
      if (!settings.tools || !settings.dns.resolvConf)
        throw new Error('Postfix needs the postfix package and dnsmasq');
      const port = await freePort('127.0.0.1');
      const postfix = await startPostfix(settings.tools, {
        name: `postfix-${settings.mode}-${settings.size}-run${settings.run}`,
        port,
        scratch: settings.scratch,
        resolvConf: settings.dns.resolvConf,
        holdEverything: settings.mode === 'hold',
        // The reference's retry timing for the deferred workload (Postfix's defaults are 5 min).
        ...(settings.mode === 'defer10' && {
          backoffMin: DEFER10_BACKOFF.min,
          backoffMax: DEFER10_BACKOFF.max,
          queueRunDelay: '5s',
        }),
      });
      stopSystem = () => postfix.stop();
      injectPort = port;
      release = async () => postfix.releaseHeld();
      finish = async () => {
        // postlogd writes the last lines a moment after the deliveries.
        let log = summarizeMaillog(postfix.maillog());
        for (let wait = 0; wait < 30 && log.sent < receivers.delivered(); wait++) {
          await sleep(100);
          log = summarizeMaillog(postfix.maillog());
        }
        if (settings.mode === 'hold' && log.sent < n) problems.push(`maillog: ${log.sent} status=sent`);
        return { deferred: log.deferred, postfixDelayMs: { p50: log.delayMs.p50, p99: log.delayMs.p99 } };
      };
    }
    await sleep(500);

    const machineStart = { ...machineCpuMs(), at: Date.now() };
    let t0 = 0;
    const injected = inject(settings, injectPort, () => {
      t0 = Date.now();
    });
    let goodPathAt: number | undefined;
    let releasedAt: number | undefined;
    if (settings.mode === 'defer10') {
      goodPathAt = await waitForDeliveries(receivers, goodPathCount, settings.stallTimeoutMs);
      await receivers.restart!(MX_COUNT, []);
    }
    const injection = await injected;
    if (injection.failedProcesses > 0) {
      problems.push(`${injection.failedProcesses} injector(s) failed: ${injection.errors.join(' / ')}`);
    }
    if (settings.mode === 'hold') {
      await sleep(200);
      releasedAt = Date.now();
      await release();
    }
    const lastAt = await waitForDeliveries(receivers, n, settings.stallTimeoutMs);
    const machineEnd = { ...machineCpuMs(), at: Date.now() };
    const end = lastAt ?? Date.now();
    const delivered = receivers.delivered();
    if (lastAt === undefined) {
      problems.push(`only ${delivered} of ${n} arrived (none for ${settings.stallTimeoutMs / 1000} s)`);
    }
    if (delivered > n) problems.push(`${delivered - n} more deliveries than messages`);
    const cpu = outpostCpu();
    const extra = await finish();
    const elapsedMs = end - t0;
    const injectMs = injection.finishedAt - t0;
    const percentOf = (ms: number) => Math.round((ms / elapsedMs) * 1000) / 10;
    return {
      system: settings.system,
      mode: settings.mode,
      run: settings.run,
      messages: n,
      size: settings.size,
      workers: settings.system === 'outpost' ? settings.workers : 0,
      injector: injection.injector,
      receivers: settings.receivers,
      delivered,
      complete: lastAt !== undefined && delivered >= n,
      injectMs,
      ingestPerSecond: n / (injectMs / 1000),
      elapsedMs,
      e2ePerSecond: n / (elapsedMs / 1000),
      ...(releasedAt !== undefined && {
        deliveryOnlyMs: end - releasedAt,
        deliveryOnlyPerSecond: n / ((end - releasedAt) / 1000),
      }),
      ...(goodPathAt !== undefined && {
        goodPathMs: goodPathAt - t0,
        goodPathPerSecond: goodPathCount / ((goodPathAt - t0) / 1000),
        retryDrainMs: end - goodPathAt,
      }),
      deferred: 0,
      ...extra,
      cpu: {
        machinePercent:
          Math.round(((machineEnd.busy - machineStart.busy) / (machineEnd.at - machineStart.at)) * 1000) / 10,
        ...(settings.system === 'outpost' && {
          outpost: {
            ingest: percentOf(cpu.ingest),
            workers: percentOf(cpu.workers),
            redis: percentOf(cpu.redis),
          },
        }),
      },
      loadavg: { start: loadStart, end: loadAverage() },
      busyBeforeCores: Math.round(busyBeforeCores * 100) / 100,
      problems,
    };
  } finally {
    await stopSystem();
    await receivers.stop();
  }
}
