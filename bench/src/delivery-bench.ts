/**
 * The delivery benchmark: one run is a fresh Redis, a DNS zone, the receivers (their own process or
 * processes) and N delivery worker processes (`outpost delivery`, unchanged), then the benchmark
 * enqueues the messages the way ingest stores them while the workers run, and waits until the
 * receivers have every message.
 *
 * The world: 50 domains dN.bench.test, MX -> mxK.bench.test (K = N mod 10), A -> 127.0.0.(2+K); ten
 * receivers, one per address, all on one port (OUTPOST_DELIVERY_PORT). Message i goes to
 * user<i>@d<i mod 50>.bench.test: one recipient, so one delivery job per message.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createFlowMessageWriter,
  createRedisConnection,
  deliveryJobKey,
  type MessageWriter,
  parseRedisInfo,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  waitForRedis,
} from '@outpost/queue';
import { freePort, startDnsServer, TestRedis } from '@outpost/testing';
import { Queue } from 'bullmq';
import { benchNodeArgs, deployedEnvironment } from './deployed-node-options.ts';
import { entryPoints } from './entry-points.ts';
import { commandCounts } from './ingest-bench.ts';
import { REPO_ROOT, sourceFingerprint } from './machine.ts';
import {
  cpuSpeedIndex,
  cpuTimeMs,
  machineCpuMs,
  memoryOf,
  type NodeChild,
  onAbort,
  sampleMemory,
  spawnNode,
  syscallsOf,
  waitForQuietMachine,
} from './processes.ts';
import { benchQueuedMessage, writeInLanes } from './queued-message.ts';
import { fillerLines } from './smtp-load.ts';
import type { ReceiverBehaviour, ReceiversOptions, ReceiversReport } from './smtp-receivers.ts';
import { type Latency, latencyOf } from './stats.ts';
import { WARM_UP_LABEL } from './world-load.ts';

export const SCENARIOS = ['base', 'slow', 'retry'] as const;
export type Scenario = (typeof SCENARIOS)[number];

const BEHAVIOUR: Record<Scenario, ReceiverBehaviour> = { base: 'instant', slow: 'slow', retry: 'retry' };

export const DOMAINS = 50;
export const MX_HOSTS = 10;
const ZONE = 'bench.test';
const SENDER = 'bench@bench.outpost.test';
const HOSTNAME = 'bench.outpost.test';
const RECEIVERS_SCRIPT = join('bench', 'src', 'smtp-receivers.ts');

/** A run starts only once other processes use less than this much CPU (in cores), or after a wait. */
const QUIET_MACHINE_CORES = 0.15;
const QUIET_MACHINE_MAX_WAIT_MS = 180_000;
const POLL_MS = 250;

export interface DeliverySettings {
  scenario: Scenario;
  workers: number;
  /** 1-based, within its (scenario, workers) row. */
  run: number;
  messages: number;
  messageSize: number;
  /** OUTPOST_DELIVERY_CONCURRENCY of each worker. */
  concurrency: number;
  windowStart: number;
  windowMax: number;
  /** slow: what the receivers wait before each scripted reply. */
  delayMs: number;
  /** retry: share of recipients whose first RCPT gets 451. */
  retryPercent: number;
  receiverProcesses: number;
  fsync: 'always' | 'everysec';
  /**
   * Messages per worker delivered before the clock starts (labelled as warm-up, not counted): the
   * figures are then a running system's, without each process's start (V8 compiling its hot code,
   * the first connections). 0: the workers start cold.
   */
  warmUpPerWorker: number;
  /** Messages the benchmark writes at once (ingest's group commit batches concurrent writes). */
  enqueueConcurrency: number;
  /** The run is given up when no message arrived for this long. */
  stallTimeoutMs: number;
  codeRoot?: string;
  cpuProfileDir?: string;
  /** Each worker writes a sampled allocation profile here (worker-probe.ts). */
  allocationProfileDir?: string;
  notice?: (text: string) => void;
}

export interface DeliveryRunResult {
  scenario: Scenario;
  workers: number;
  run: number;
  attempts: number;
  sourceFingerprint: string;
  messages: number;
  /** Distinct messages the receivers accepted. */
  delivered: number;
  /** Messages accepted more than once (RFC 1047 duplicates, stalled jobs run twice). */
  duplicates: number;
  complete: boolean;
  /** First enqueue to last enqueue (the benchmark writes while the workers already run). */
  enqueueMs: number;
  /** First enqueue to the last message's 250 at a receiver. */
  elapsedMs: number;
  deliveredPerSecond: number;
  /** The window the CPU figures cover: first enqueue until the benchmark saw every message arrive. */
  cpuWindowMs: number;
  /** First enqueue until the message queue was empty (every flow finished, bodies removed). */
  drainMs: number;
  /** Per message: the receiver's time of the 250 minus the message's arrivalTime. */
  latencyMs: Latency;
  receivers: {
    sessions: number;
    messagesPerSession: number;
    tempFailures: number;
    rcptCommands: number;
    cpuPercent: number;
    eventLoopUtilization: number[];
    rssPeakBytes: number;
    errors: number;
  };
  workerStats: {
    cpuPercent: number[];
    eventLoopUtilization: number[];
    rssPeakBytes: number[];
    /** VmRSS once ready, before the first message. */
    rssAtReadyBytes: number[];
    /** V8 heap in use at the end, and after a full GC (what the load left behind). */
    heapUsedBytes: number[];
    heapAfterGcBytes: number[];
    /** read()/write() system calls of all workers per delivered message (/proc/PID/io). */
    syscallsPerMessage: { reads: number; writes: number };
    /** Recipient outcomes by verdict, from the workers' /metrics (outpost_delivery_attempts_total). */
    attemptsByVerdict: Record<string, number>;
    /** Warnings and errors the workers logged (first few, and how many). */
    logProblems: { count: number; first: string[] };
  };
  /**
   * From the completed delivery jobs Redis still keeps (the last 10,000): BullMQ's attemptsStarted
   * (ats) is how often a job ran; its data's `attempts` how many of those runs were real attempts
   * that ended deferred. The rest are "no slot" waits: the destination's window was full, so the job
   * was put back for about one session time plus up to 1 s of jitter.
   */
  jobRuns: { sampled: number; perDelivery: number; noSlotWaitsPer100: number };
  redis: {
    cpuPercent: number;
    rewriteCpuPercent: number;
    commandsPerMessage: Record<string, number>;
  };
  /** The benchmark process: enqueueing, DNS answers, polling. */
  benchCpuPercent: number;
  machine: {
    busyPercent: number;
    otherPercent: number;
    stealPercent: number;
    busyBeforeRunPercent: number;
    cpuSpeedIndex: number;
  };
  problems: string[];
}

export function domainOf(seq: number): string {
  return `d${seq % DOMAINS}.${ZONE}`;
}

export function recipientOf(seq: number): string {
  return `user${seq}@${domainOf(seq)}`;
}

/** The MX host serving domain dN, and its address. */
export function mxOf(domainIndex: number): { name: string; address: string } {
  const k = domainIndex % MX_HOSTS;
  return { name: `mx${k}.${ZONE}`, address: `127.0.0.${2 + k}` };
}

/**
 * Message `seq` as a client would submit it: `size` bytes, labelled X-Bench-Seq for the receivers
 * (its seq, or `label`: WARM_UP_LABEL for the warm-up messages, which they count apart).
 */
export function deliveryMessage(seq: number, size: number, label: string = String(seq)): Buffer {
  const headers =
    `From: Outpost Bench <${SENDER}>\r\n` +
    `To: <${recipientOf(seq)}>\r\n` +
    `Subject: Outpost delivery benchmark, message ${seq}\r\n` +
    'Date: Thu, 27 Nov 2025 12:00:00 +0000\r\n' +
    `Message-ID: <delivery.${seq}@${HOSTNAME}>\r\n` +
    `X-Bench-Seq: ${label}\r\n` +
    'MIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=us-ascii\r\n' +
    '\r\n';
  return Buffer.from(headers + fillerLines(seq, size - headers.length).join(''), 'latin1');
}

/** Enqueues `raws` (message seq = index) the way ingest stores them, `enqueueConcurrency` at a time. */
async function enqueueAll(
  settings: DeliverySettings,
  writer: MessageWriter,
  raws: Buffer[],
  onArrival: (seq: number, arrivalTime: number) => void,
): Promise<void> {
  await writeInLanes(writer, raws.length, settings.enqueueConcurrency, (seq) => {
    const message = benchQueuedMessage({
      sender: SENDER,
      recipient: recipientOf(seq),
      raw: raws[seq]!,
      hostname: HOSTNAME,
    });
    onArrival(seq, message.arrivalTime);
    return message;
  });
}

/** What the receiver processes have accepted so far, summed: distinct labelled messages, warm-ups. */
async function receiverCounts(receivers: NodeChild[]): Promise<{ unique: number; warmUps: number }> {
  for (const receiver of receivers) receiver.send('count');
  const counts = await Promise.all(
    receivers.map((receiver) => receiver.nextLine<{ unique: number; warmUps: number }>('COUNT ', 30_000)),
  );
  return {
    unique: counts.reduce((sum, count) => sum + count.unique, 0),
    warmUps: counts.reduce((sum, count) => sum + count.warmUps, 0),
  };
}

/**
 * Polls `arrived` until `finished` says so; stalled when the count did not rise for `stallMs`.
 * Returns the last count.
 */
async function untilArrived(
  arrived: () => Promise<number>,
  finished: (count: number) => Promise<boolean> | boolean,
  stallMs: number,
): Promise<{ count: number; stalled: boolean }> {
  let count = 0;
  let progressAt = Date.now();
  for (;;) {
    await sleep(POLL_MS);
    const now = await arrived();
    if (now > count) progressAt = Date.now();
    count = now;
    if (await finished(count)) return { count, stalled: false };
    if (Date.now() - progressAt > stallMs) return { count, stalled: true };
  }
}

/** Delivery jobs not finished yet (waiting, active, delayed). */
async function pendingJobs(deliveryQueue: Queue): Promise<number> {
  const jobs = await deliveryQueue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
  return Object.values(jobs).reduce((sum, value) => sum + value, 0);
}

/** The environment of a worker: production settings except those the benchmark needs (README). */
export function workerEnv(
  settings: DeliverySettings,
  world: { redisUrl: string; dns: string; port: number; healthPort: number },
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    OUTPOST_ENV: 'development',
    OUTPOST_HOSTNAME: HOSTNAME,
    LOG_LEVEL: 'warn',
    REDIS_URL: world.redisUrl,
    OUTPOST_DNS_SERVERS: world.dns,
    OUTPOST_DELIVERY_PORT: String(world.port),
    OUTPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
    OUTPOST_DELIVERY_HTTP_LISTEN: `127.0.0.1:${world.healthPort}`,
    OUTPOST_DELIVERY_CONCURRENCY: String(settings.concurrency),
    OUTPOST_DESTINATION_WINDOW_START: String(settings.windowStart),
    OUTPOST_DESTINATION_WINDOW_MAX: String(settings.windowMax),
    // Short retries (a 451 is retried after 1-2 s, not 5 minutes) and timeouts well above anything a
    // loaded 2-core machine produces; everything else (job lock, stalled check, connection reuse
    // with 5 s idle) is the production default.
    OUTPOST_RETRY_FIRST: '1s',
    OUTPOST_RETRY_MAX: '2s',
    OUTPOST_SMTP_CONNECT_TIMEOUT: '10s',
    OUTPOST_SMTP_GREETING_TIMEOUT: '10s',
    OUTPOST_SMTP_COMMAND_TIMEOUT: '10s',
    OUTPOST_DNS_TIMEOUT: '2s',
  };
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, text: await response.text() };
}

async function waitUntilReady(worker: NodeChild, healthPort: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) {
      throw new Error(
        `delivery worker exited (code ${worker.child.exitCode}): ${worker.stderr().trim()}\n${worker.otherLines().slice(-20).join('\n')}`,
      );
    }
    const ready = await get(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
    if (ready?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`delivery worker not ready within 60 s: ${worker.stderr().trim()}`);
}

/** outpost_delivery_attempts_total by verdict, from a worker's Prometheus text. */
export function attemptsFromMetrics(text: string): Record<string, number> {
  return countsByLabel(text, 'outpost_delivery_attempts_total', 'verdict');
}

/** Jobs put back without an attempt (outpost_delivery_waits_total) by reason: paused, busy, held. */
export function waitsFromMetrics(text: string): Record<string, number> {
  return countsByLabel(text, 'outpost_delivery_waits_total', 'reason');
}

/** A counter of a Prometheus text exposition, summed by the value of one of its labels. */
function countsByLabel(text: string, metric: string, label: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\}\\s+(\\S+)$`, 'gm'))) {
    const value = match[1]!.match(new RegExp(`${label}="([^"]*)"`))?.[1] ?? '?';
    counts[value] = (counts[value] ?? 0) + Number(match[2]);
  }
  return counts;
}

type RedisClient = ReturnType<TestRedis['client']>;

/** Job runs (BullMQ attemptsStarted) and "no slot" waits of the completed delivery jobs Redis keeps. */
async function jobRuns(client: RedisClient): Promise<DeliveryRunResult['jobRuns']> {
  const ids = await client.zrange(`${QUEUE_PREFIX}:${QUEUE_NAMES.delivery}:completed`, '0', '-1');
  let runs = 0;
  let noSlot = 0;
  for (let i = 0; i < ids.length; i += 1_000) {
    const pipeline = client.pipeline();
    for (const id of ids.slice(i, i + 1_000)) pipeline.hmget(deliveryJobKey(id), 'ats', 'data');
    for (const [, value] of (await pipeline.exec()) ?? []) {
      const [ats, data] = value as [string | null, string | null];
      const started = Number(ats ?? 0);
      const deferred = Number((JSON.parse(data ?? '{}') as { attempts?: number }).attempts ?? 0);
      runs += started;
      noSlot += Math.max(0, started - 1 - deferred);
    }
  }
  const per = (value: number) => (ids.length > 0 ? value / ids.length : Number.NaN);
  return { sampled: ids.length, perDelivery: per(runs), noSlotWaitsPer100: per(noSlot) * 100 };
}

async function queueEmpty(queues: Queue[]): Promise<boolean> {
  for (const queue of queues) {
    const counts = await queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'waiting-children',
      'prioritized',
    );
    if (Object.values(counts).some((count) => count > 0)) return false;
  }
  return true;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One measured run: fresh Redis, receivers and workers, the whole workload once. */
export async function runDeliveryOnce(settings: DeliverySettings): Promise<DeliveryRunResult> {
  const busyBeforeRun = await waitForQuietMachine(QUIET_MACHINE_CORES, QUIET_MACHINE_MAX_WAIT_MS, (cores) =>
    settings.notice?.(`waiting for the machine to be quiet (other processes use ${cores.toFixed(2)} cores)`),
  );
  const speed = cpuSpeedIndex();
  const codeRoot = settings.codeRoot ?? REPO_ROOT;
  const fingerprint = sourceFingerprint(codeRoot);
  const problems: string[] = [];

  // Built before anything starts: the clock should not see it.
  const raws = Array.from({ length: settings.messages }, (_, seq) =>
    deliveryMessage(seq, settings.messageSize),
  );

  const redis = await TestRedis.start({ appendfsync: settings.fsync });
  const forgetRedis = onAbort(() => {
    if (redis.pid !== undefined) process.kill(redis.pid, 'SIGKILL');
    rmSync(redis.dir, { recursive: true, force: true });
  });
  const dns = await startDnsServer();
  const receivers: NodeChild[] = [];
  const workers: NodeChild[] = [];
  const queues: Queue[] = [];
  const producer = createRedisConnection(redis.url, 'producer');
  let writer: MessageWriter | undefined;
  try {
    for (let domain = 0; domain < DOMAINS; domain++) {
      const mx = mxOf(domain);
      dns.set(`d${domain}.${ZONE}`, [{ type: 'MX', exchange: mx.name, priority: 10 }]);
      dns.set(mx.name, [{ type: 'A', address: mx.address }]);
    }
    const port = await freePort('127.0.0.2');

    // Receivers: the ten addresses dealt out over the receiver processes.
    const hostGroups = Array.from({ length: settings.receiverProcesses }, (_, index) =>
      Array.from({ length: MX_HOSTS }, (_, k) => k)
        .filter((k) => k % settings.receiverProcesses === index)
        .map((k) => `127.0.0.${2 + k}`),
    ).filter((hosts) => hosts.length > 0);
    for (const hosts of hostGroups) {
      const options: ReceiversOptions = {
        hosts,
        port,
        behaviour: BEHAVIOUR[settings.scenario],
        delayMs: settings.delayMs,
        retryPercent: settings.retryPercent,
      };
      receivers.push(
        spawnNode(join(codeRoot, RECEIVERS_SCRIPT), [JSON.stringify(options)], {
          env: { PATH: process.env.PATH ?? '' },
        }),
      );
    }
    await Promise.all(receivers.map((receiver) => receiver.nextLine('READY ', 30_000)));

    // Workers: `outpost delivery` as in production, with the probe loaded beside it.
    const programs = await entryPoints(codeRoot);
    const healthPorts: number[] = [];
    for (let index = 0; index < settings.workers; index++) {
      const healthPort = await freePort('127.0.0.1');
      healthPorts.push(healthPort);
      const env = workerEnv(settings, { redisUrl: redis.url, dns: dns.address, port, healthPort });
      workers.push(
        spawnNode(programs.cli, ['delivery'], {
          env: {
            ...env,
            ...deployedEnvironment(codeRoot),
            ...(settings.allocationProfileDir && {
              OUTPOST_BENCH_ALLOC_PROFILE: join(
                settings.allocationProfileDir,
                `delivery-${label(settings)}-worker${index + 1}.heapprofile`,
              ),
            }),
          },
          nodeArgs: [
            // The image's flags (heap sizing), so that the RSS is the one a deployment sees.
            ...benchNodeArgs(codeRoot, 'worker'),
            '--expose-gc',
            '--import',
            pathToFileURL(programs.probe).href,
            ...(settings.cpuProfileDir
              ? [
                  '--cpu-prof',
                  `--cpu-prof-dir=${settings.cpuProfileDir}`,
                  `--cpu-prof-name=delivery-${label(settings)}-worker${index + 1}.cpuprofile`,
                ]
              : []),
          ],
        }),
      );
    }
    await Promise.all(workers.map((worker, index) => waitUntilReady(worker, healthPorts[index]!)));

    const client = redis.client();
    const messageQueue = new Queue(QUEUE_NAMES.message, { connection: client, prefix: QUEUE_PREFIX });
    const deliveryQueue = new Queue(QUEUE_NAMES.delivery, { connection: client, prefix: QUEUE_PREFIX });
    queues.push(messageQueue, deliveryQueue);
    for (const queue of queues) queue.on('error', () => {});
    await waitForRedis(producer);
    writer = createFlowMessageWriter(producer, settings.fsync === 'always' ? 'fsync' : 'none');

    const pids = {
      workers: workers.map((worker) => worker.child.pid!),
      receivers: receivers.map((receiver) => receiver.child.pid!),
    };
    const rssAtReady = pids.workers.map((pid) => memoryOf(pid)?.rss ?? Number.NaN);
    const workerMemory = pids.workers.map((pid) => sampleMemory(pid, 250));
    const receiverMemory = pids.receivers.map((pid) => sampleMemory(pid, 250));
    // Warm-up: messages labelled as such, delivered and their jobs finished before anything is
    // measured (the receivers count them apart).
    const warmUps = settings.warmUpPerWorker * settings.workers;
    if (warmUps > 0) {
      const warmUpRaws = Array.from({ length: warmUps }, (_, seq) =>
        deliveryMessage(seq, settings.messageSize, WARM_UP_LABEL),
      );
      await enqueueAll(settings, writer, warmUpRaws, () => {});
      // Every warm-up message arrived and every job is finished.
      const warmedUp = await untilArrived(
        async () => (await receiverCounts(receivers)).warmUps,
        async (count) => count >= warmUps && (await pendingJobs(deliveryQueue)) === 0,
        settings.stallTimeoutMs,
      );
      if (warmedUp.stalled) {
        problems.push(
          `warm-up: only ${warmedUp.count} of ${warmUps} messages arrived (${await pendingJobs(deliveryQueue)} jobs left)`,
        );
      }
    }
    await client.config('RESETSTAT');
    for (const child of [...workers, ...receivers]) child.send('mark');
    const cpuOf = (list: number[]) => list.map((pid) => cpuTimeMs(pid) ?? { own: 0, children: 0 });
    const syscallsOfWorkers = () =>
      pids.workers
        .map((pid) => syscallsOf(pid) ?? { reads: 0, writes: 0 })
        .reduce((total, io) => ({ reads: total.reads + io.reads, writes: total.writes + io.writes }));
    const syscallsStart = syscallsOfWorkers();
    const cpuStart = {
      workers: cpuOf(pids.workers),
      receivers: cpuOf(pids.receivers),
      redis: cpuTimeMs(redis.pid)!,
      machine: machineCpuMs(),
      bench: process.cpuUsage(),
    };

    // The clock starts with the first enqueue; the workers are already waiting for jobs.
    const arrival = new Float64Array(settings.messages);
    const firstEnqueue = Date.now();
    let lastEnqueue = 0;
    const enqueued = enqueueAll(settings, writer, raws, (seq, at) => {
      arrival[seq] = at;
    }).then(() => {
      lastEnqueue = Date.now();
    });
    enqueued.catch(() => {});

    // Until the receivers have every message, or nothing arrived for stallTimeoutMs.
    const arrived = await untilArrived(
      async () => (await receiverCounts(receivers)).unique,
      (count) => count >= settings.messages,
      settings.stallTimeoutMs,
    );
    const delivered = arrived.count;
    if (arrived.stalled) {
      problems.push(
        `only ${delivered} of ${settings.messages} messages arrived (none for ${settings.stallTimeoutMs / 1000} s)`,
      );
    }
    await enqueued;
    const detected = Date.now();
    const syscallsEnd = syscallsOfWorkers();
    const cpuEnd = {
      workers: cpuOf(pids.workers),
      receivers: cpuOf(pids.receivers),
      redis: cpuTimeMs(redis.pid)!,
      machine: machineCpuMs(),
      bench: process.cpuUsage(cpuStart.bench),
    };
    const windowMs = detected - firstEnqueue;
    const percentOf = (ms: number) => Math.round((ms / windowMs) * 1000) / 10;
    const used = (start: { own: number }[], end: { own: number }[]) =>
      end.map((cpu, index) => cpu.own - start[index]!.own);
    const workerCpu = used(cpuStart.workers, cpuEnd.workers);
    const receiverCpu = used(cpuStart.receivers, cpuEnd.receivers);
    const redisCpu = cpuEnd.redis.own - cpuStart.redis.own;
    const rewriteCpu = cpuEnd.redis.children - cpuStart.redis.children;
    const benchCpu = (cpuEnd.bench.user + cpuEnd.bench.system) / 1000;
    const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
    const ours = sum(workerCpu) + sum(receiverCpu) + redisCpu + rewriteCpu + benchCpu;
    const machineBusy = cpuEnd.machine.busy - cpuStart.machine.busy;

    // Every flow finished: the message jobs complete (and go) once their delivery job has.
    let drainedAt = Number.NaN;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
      if (await queueEmpty(queues)) {
        drainedAt = Date.now();
        break;
      }
    }
    if (Number.isNaN(drainedAt)) problems.push('the queues were not empty 60 s after the last delivery');

    for (const receiver of receivers) receiver.send('report');
    const reports = await Promise.all(
      receivers.map((receiver) => receiver.nextLine<ReceiversReport>('REPORT ', 60_000)),
    );
    const firstTime = new Float64Array(settings.messages).fill(Number.NaN);
    let received = 0;
    let lastDelivery = 0;
    for (const report of reports) {
      received += report.seqs.length;
      report.seqs.forEach((seq, index) => {
        const time = report.times[index]!;
        if (seq >= 0 && seq < settings.messages && !(firstTime[seq]! <= time)) firstTime[seq] = time;
        lastDelivery = Math.max(lastDelivery, time);
      });
      if (report.unlabelled > 0) problems.push(`${report.unlabelled} messages without X-Bench-Seq`);
    }
    const latencies: number[] = [];
    firstTime.forEach((time, seq) => {
      if (!Number.isNaN(time)) latencies.push(time - arrival[seq]!);
    });
    latencies.sort((a, b) => a - b);
    const unique = latencies.length;
    const sessions = sum(reports.map((report) => report.sessions));
    if (received > unique) problems.push(`${received - unique} message(s) delivered more than once`);

    const attemptsByVerdict: Record<string, number> = {};
    for (const port of healthPorts) {
      const metrics = await get(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      for (const [verdict, count] of Object.entries(attemptsFromMetrics(metrics?.text ?? ''))) {
        attemptsByVerdict[verdict] = (attemptsByVerdict[verdict] ?? 0) + count;
      }
    }
    for (const verdict of Object.keys(attemptsByVerdict)) {
      if (verdict !== 'delivered' && verdict !== 'deferred')
        problems.push(`${attemptsByVerdict[verdict]} recipient outcome(s) "${verdict}"`);
    }
    for (const worker of workers) worker.send('stats');
    const probes = await Promise.all(
      workers.map((worker) =>
        worker.nextLine<{ eventLoopUtilization: number; heapUsedBytes: number; heapAfterGcBytes: number }>(
          'PROBE ',
          10_000,
        ),
      ),
    );
    const logLines = workers.flatMap((worker) =>
      worker.otherLines().filter((line) => /"level":(4|5|6)0/.test(line)),
    );
    const commandstats = parseRedisInfo(await client.info('commandstats'));
    const runs = await jobRuns(client);
    const elapsedMs = lastDelivery - firstEnqueue;

    return {
      scenario: settings.scenario,
      workers: settings.workers,
      run: settings.run,
      attempts: 1,
      sourceFingerprint: fingerprint,
      messages: settings.messages,
      delivered: unique,
      duplicates: received - unique,
      complete: unique === settings.messages,
      enqueueMs: lastEnqueue - firstEnqueue,
      elapsedMs,
      deliveredPerSecond: unique / (elapsedMs / 1000),
      drainMs: drainedAt - firstEnqueue,
      cpuWindowMs: windowMs,
      latencyMs: latencyOf(latencies),
      receivers: {
        sessions,
        messagesPerSession: sessions > 0 ? received / sessions : Number.NaN,
        tempFailures: sum(reports.map((report) => report.tempFailures)),
        rcptCommands: sum(reports.map((report) => report.rcptCommands)),
        cpuPercent: percentOf(sum(receiverCpu)),
        eventLoopUtilization: reports.map((report) => report.eventLoopUtilization),
        rssPeakBytes: Math.max(...receiverMemory.map((memory) => memory.stop().peak)),
        errors: sum(reports.map((report) => report.receiverErrors)),
      },
      workerStats: {
        cpuPercent: workerCpu.map(percentOf),
        eventLoopUtilization: probes.map((probe) => probe.eventLoopUtilization),
        rssPeakBytes: workerMemory.map((memory) => memory.stop().peak),
        rssAtReadyBytes: rssAtReady,
        heapUsedBytes: probes.map((probe) => probe.heapUsedBytes),
        heapAfterGcBytes: probes.map((probe) => probe.heapAfterGcBytes),
        syscallsPerMessage: {
          reads: Math.round(((syscallsEnd.reads - syscallsStart.reads) / Math.max(delivered, 1)) * 10) / 10,
          writes:
            Math.round(((syscallsEnd.writes - syscallsStart.writes) / Math.max(delivered, 1)) * 10) / 10,
        },
        attemptsByVerdict,
        logProblems: {
          count: logLines.length,
          first: logLines.slice(0, 5).map((line) => line.slice(0, 400)),
        },
      },
      jobRuns: runs,
      redis: {
        cpuPercent: percentOf(redisCpu),
        rewriteCpuPercent: percentOf(rewriteCpu),
        commandsPerMessage: commandCounts(commandstats, unique),
      },
      benchCpuPercent: percentOf(benchCpu),
      machine: {
        busyPercent: percentOf(machineBusy),
        otherPercent: percentOf(Math.max(0, machineBusy - ours)),
        stealPercent: percentOf(cpuEnd.machine.steal - cpuStart.machine.steal),
        busyBeforeRunPercent: Math.round(busyBeforeRun * 1000) / 10,
        cpuSpeedIndex: speed,
      },
      problems,
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop(15_000)));
    await Promise.all(receivers.map((receiver) => receiver.stop()));
    await Promise.all(queues.map((queue) => queue.close().catch(() => {})));
    await writer?.close().catch(() => {});
    await producer.quit().catch(() => producer.disconnect());
    await dns.close();
    await redis.stop();
    forgetRedis();
  }
}

export function label(settings: { scenario: Scenario; workers: number; run: number }): string {
  return `${settings.scenario}-${settings.workers}w-run${settings.run}`;
}
