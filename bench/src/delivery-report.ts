import type { DeliveryRunResult, Scenario } from './delivery-bench.ts';
import type { MachineInfo } from './machine.ts';
import { median, spread } from './stats.ts';
import { markdownTable, sourceWarning, type Column as TableColumn } from './tables.ts';

export interface DeliveryWorkload {
  messageSize: number;
  domains: number;
  mxHosts: number;
  runs: number;
  /** Messages per run, by scenario. */
  messages: Partial<Record<Scenario, number>>;
  concurrency: number;
  windowStart: number;
  windowMax: number;
  delayMs: number;
  retryPercent: number;
  receiverProcesses: number;
  fsync: 'always' | 'everysec';
  /** Messages per worker delivered before the clock started (0: cold workers; older reports lack it). */
  warmUpPerWorker?: number;
  enqueueConcurrency: number;
  /** The workers' environment apart from addresses and ports. */
  workerEnv: Record<string, string>;
}

export interface DeliverySummary {
  scenario: Scenario;
  /** What the receivers do, in words. */
  receivers: string;
  workers: number;
  runs: number;
  messages: number;
  deliveredPerSecond: { median: number; min: number; max: number };
  latencyP50Ms: number;
  latencyP99Ms: number;
  enqueueMs: number;
  drainMs: number;
  /** Largest VmHWM of any worker over the runs. */
  workerRssPeakBytes: number;
  /** 451s the receivers sent, median over the runs. */
  tempFailures: number;
  /** Deferred recipient outcomes the workers counted (metrics), median. */
  deferredAttempts: number;
  /** CPU of all workers together (100% = one core), median. */
  workerCpuPercent: number;
  /** The busiest worker's event-loop utilisation, median over the runs. */
  workerLoopBusyMax: number;
  receiverCpuPercent: number;
  receiverLoopBusyMax: number;
  redisCpuPercent: number;
  redisRewriteCpuPercent: number;
  benchCpuPercent: number;
  otherCpuPercentMax: number;
  cpuSpeedIndex: number;
  messagesPerConnection: number;
  jobRunsPerDelivery: number;
  noSlotWaitsPer100: number;
  /** Worker CPU per delivered message, all workers together (ms). */
  workerCpuMsPerMessage: number;
  workerSyscallsPerMessage: { reads: number; writes: number };
  /** VmRSS of a worker once ready (median over workers and runs). */
  workerRssAtReadyBytes: number;
  /** V8 heap of a worker after a full GC at the end, largest over workers and runs. */
  workerHeapAfterGcBytes: number;
  undelivered: number;
  duplicates: number;
  problems: number;
}

export interface DeliveryReport {
  benchmark: 'delivery';
  date: string;
  command: string;
  machine: MachineInfo;
  workload: DeliveryWorkload;
  summary: DeliverySummary[];
  runs: DeliveryRunResult[];
}

export function receiverLabel(
  scenario: Scenario,
  workload: Pick<DeliveryWorkload, 'delayMs' | 'retryPercent'>,
) {
  if (scenario === 'slow') return `every reply after ${workload.delayMs} ms`;
  if (scenario === 'retry') return `${workload.retryPercent}% of RCPTs 451 once`;
  return 'at once';
}

export function summarizeDelivery(runs: DeliveryRunResult[], workload: DeliveryWorkload): DeliverySummary[] {
  const groups = new Map<string, DeliveryRunResult[]>();
  for (const run of runs) {
    const key = `${run.scenario}|${run.workers}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const of = (pick: (run: DeliveryRunResult) => number) => median(group.map(pick));
    const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
    return {
      scenario: first.scenario,
      receivers: receiverLabel(first.scenario, workload),
      workers: first.workers,
      runs: group.length,
      messages: first.messages,
      deliveredPerSecond: spread(group.map((run) => run.deliveredPerSecond)),
      latencyP50Ms: of((run) => run.latencyMs.p50),
      latencyP99Ms: of((run) => run.latencyMs.p99),
      enqueueMs: of((run) => run.enqueueMs),
      drainMs: of((run) => run.drainMs),
      workerRssPeakBytes: Math.max(...group.flatMap((run) => run.workerStats.rssPeakBytes)),
      tempFailures: of((run) => run.receivers.tempFailures),
      deferredAttempts: of((run) => run.workerStats.attemptsByVerdict.deferred ?? 0),
      workerCpuPercent: of((run) => sum(run.workerStats.cpuPercent)),
      workerLoopBusyMax: of((run) => Math.max(...run.workerStats.eventLoopUtilization)),
      receiverCpuPercent: of((run) => run.receivers.cpuPercent),
      receiverLoopBusyMax: of((run) => Math.max(...run.receivers.eventLoopUtilization)),
      redisCpuPercent: of((run) => run.redis.cpuPercent),
      redisRewriteCpuPercent: of((run) => run.redis.rewriteCpuPercent),
      benchCpuPercent: of((run) => run.benchCpuPercent),
      otherCpuPercentMax: Math.max(...group.map((run) => run.machine.otherPercent)),
      cpuSpeedIndex: of((run) => run.machine.cpuSpeedIndex),
      messagesPerConnection: of((run) => run.receivers.messagesPerSession),
      jobRunsPerDelivery: of((run) => run.jobRuns.perDelivery),
      noSlotWaitsPer100: of((run) => run.jobRuns.noSlotWaitsPer100 ?? Number.NaN),
      workerCpuMsPerMessage: of(
        (run) => (sum(run.workerStats.cpuPercent) / 100) * (run.cpuWindowMs / Math.max(run.delivered, 1)),
      ),
      workerSyscallsPerMessage: {
        reads: of((run) => run.workerStats.syscallsPerMessage?.reads ?? Number.NaN),
        writes: of((run) => run.workerStats.syscallsPerMessage?.writes ?? Number.NaN),
      },
      workerRssAtReadyBytes: median(group.flatMap((run) => run.workerStats.rssAtReadyBytes ?? [])),
      workerHeapAfterGcBytes: Math.max(...group.flatMap((run) => run.workerStats.heapAfterGcBytes ?? [])),
      undelivered: sum(group.map((run) => run.messages - run.delivered)),
      duplicates: sum(group.map((run) => run.duplicates)),
      problems: sum(group.map((run) => run.problems.length)),
    };
  });
}

const integer = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-');
const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const mib = (bytes: number) => `${fixed(bytes / 2 ** 20, 0)} MiB`;
const seconds = (ms: number) => `${fixed(ms / 1000, 1)} s`;
const percent = (value: number) => `${fixed(value, 0)}%`;

type Column = TableColumn<DeliverySummary>;

const IDENTITY: Column[] = [
  { title: 'scenario', value: (s) => s.scenario },
  { title: 'receivers answer', value: (s) => s.receivers },
  { title: 'workers', value: (s) => String(s.workers), right: true },
  { title: 'messages', value: (s) => integer(s.messages), right: true },
];

export const DELIVERY_COLUMNS: Column[] = [
  ...IDENTITY,
  {
    title: 'msg/s median [min-max]',
    value: (s) =>
      `${integer(s.deliveredPerSecond.median)} [${integer(s.deliveredPerSecond.min)}-${integer(s.deliveredPerSecond.max)}]`,
    right: true,
  },
  { title: 'p50 latency', value: (s) => seconds(s.latencyP50Ms), right: true },
  { title: 'p99 latency', value: (s) => seconds(s.latencyP99Ms), right: true },
  { title: 'enqueue', value: (s) => seconds(s.enqueueMs), right: true },
  { title: 'drained', value: (s) => seconds(s.drainMs), right: true },
  { title: 'worker RSS peak', value: (s) => mib(s.workerRssPeakBytes), right: true },
  {
    title: '451s / deferred',
    value: (s) =>
      s.scenario === 'retry' ? `${integer(s.tempFailures)} / ${integer(s.deferredAttempts)}` : '-',
    right: true,
  },
  {
    title: 'undelivered / duplicates',
    value: (s) => `${s.undelivered} / ${s.duplicates}${s.problems > 0 ? ' (problems: see below)' : ''}`,
    right: true,
  },
];

export const DELIVERY_DIAGNOSTIC_COLUMNS: Column[] = [
  ...IDENTITY.slice(0, 3),
  { title: 'workers CPU', value: (s) => percent(s.workerCpuPercent), right: true },
  { title: 'busiest worker loop', value: (s) => percent(s.workerLoopBusyMax * 100), right: true },
  { title: 'receivers CPU', value: (s) => percent(s.receiverCpuPercent), right: true },
  { title: 'receivers loop', value: (s) => percent(s.receiverLoopBusyMax * 100), right: true },
  { title: 'Redis CPU', value: (s) => percent(s.redisCpuPercent), right: true },
  { title: 'AOF rewrite CPU', value: (s) => percent(s.redisRewriteCpuPercent), right: true },
  { title: 'enqueue CPU', value: (s) => percent(s.benchCpuPercent), right: true },
  { title: 'other CPU (max)', value: (s) => percent(s.otherCpuPercentMax), right: true },
  { title: 'CPU speed index', value: (s) => integer(s.cpuSpeedIndex), right: true },
  { title: 'worker CPU ms/msg', value: (s) => fixed(s.workerCpuMsPerMessage, 2), right: true },
  {
    title: 'worker syscalls/msg r/w',
    value: (s) => `${fixed(s.workerSyscallsPerMessage.reads)}/${fixed(s.workerSyscallsPerMessage.writes)}`,
    right: true,
  },
  { title: 'worker RSS at ready', value: (s) => mib(s.workerRssAtReadyBytes), right: true },
  { title: 'worker heap after GC', value: (s) => mib(s.workerHeapAfterGcBytes), right: true },
  { title: 'msgs/connection', value: (s) => fixed(s.messagesPerConnection), right: true },
  { title: 'no-slot waits/100', value: (s) => fixed(s.noSlotWaitsPer100, 1), right: true },
];

/** The scaling verdicts: n workers against 1, when the slow scenario ran with both. */
export function scalingLines(summaries: DeliverySummary[]): string[] {
  const slow = summaries.filter((summary) => summary.scenario === 'slow');
  const one = slow.find((summary) => summary.workers === 1);
  if (!one) return [];
  return slow
    .filter((summary) => summary.workers > 1)
    .map(
      (summary) =>
        `${summary.workers} workers vs 1 (receivers answer after each command's delay): ` +
        `${fixed(summary.deliveredPerSecond.median / one.deliveredPerSecond.median, 2)}x ` +
        `(${integer(summary.deliveredPerSecond.median)} vs ${integer(one.deliveredPerSecond.median)} msg/s)`,
    );
}

export function deliveryMarkdown(report: DeliveryReport): string {
  const { machine, workload } = report;
  const commandLines = report.summary.map((summary) => {
    const run = report.runs.find((r) => r.scenario === summary.scenario && r.workers === summary.workers);
    const commands = Object.entries(run?.redis.commandsPerMessage ?? {})
      .sort(([, a], [, b]) => b - a)
      .map(([name, calls]) => `${name} ${calls}`)
      .join(', ');
    return `- ${summary.scenario}, ${summary.workers} worker(s): ${commands}`;
  });
  const problems = report.runs.flatMap((run) => [
    ...run.problems.map((problem) => `- ${run.scenario} ${run.workers}w run ${run.run}: ${problem}`),
    ...(run.workerStats.logProblems.count > 0
      ? [
          `- ${run.scenario} ${run.workers}w run ${run.run}: the workers logged ${run.workerStats.logProblems.count} ` +
            `warning(s)/error(s), first: \`${run.workerStats.logProblems.first[0] ?? ''}\``,
        ]
      : []),
  ]);
  const env = Object.entries(workload.workerEnv)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  return [
    '# Delivery benchmark',
    '',
    `Run ${report.date} with \`${report.command}\`.`,
    '',
    `Workload: messages of ${integer(workload.messageSize)} bytes (as submitted), one recipient each, ` +
      `to ${workload.domains} domains (dN.bench.test) on ${workload.mxHosts} MX hosts (a local DNS server; ` +
      `receivers on 127.0.0.2-${1 + workload.mxHosts}, one port). ` +
      `The benchmark enqueues the messages the way ingest stores them (prepareMessage + the flow writer, ` +
      `${workload.enqueueConcurrency} writes at once, group commit) **while the workers already run**; the clock ` +
      `runs from the first enqueue to the last message's 250 at a receiver. ${workload.runs} run(s) per row, ` +
      `each with a fresh Redis (AOF, appendfsync ${workload.fsync}), fresh receivers and fresh workers` +
      (workload.warmUpPerWorker
        ? `; before the clock starts, each worker has delivered ${integer(workload.warmUpPerWorker)} warm-up ` +
          'messages (labelled as such: not counted, and every job finished), so the figures are a running ' +
          "system's, without each process's start."
        : ', which start cold (their first messages run before V8 has compiled the hot code).'),
    '',
    markdownTable(report.summary, DELIVERY_COLUMNS),
    '',
    ...scalingLines(report.summary).flatMap((line, index, all) => [
      `- ${line}`,
      ...(index === all.length - 1 ? [''] : []),
    ]),
    ...(sourceWarning(report.runs) ? [`**${sourceWarning(report.runs)}**`, ''] : []),
    'msg/s: messages delivered / (last delivery - first enqueue), median of the runs [min-max]. ' +
      "Latency: per message, the receiver's time of its 250 minus the message's arrivalTime (set when it is " +
      "enqueued); the median over the runs of each run's p50/p99. A burst of messages is enqueued at once, so " +
      'these include the wait in the queue behind the others. Enqueue: first to last enqueue. Drained: first enqueue ' +
      'until the message and delivery queues were empty (every flow finished). Worker RSS peak: VmHWM of the ' +
      'largest worker process over the runs. 451s / deferred: RCPTs the receivers answered 451, and deferred ' +
      'recipient outcomes the workers counted (outpost_delivery_attempts_total).',
    '',
    'Workers: `outpost delivery` from a bundle built as the image builds dist/outpost.mjs (scripts/build.ts), each its own process, ' +
      `with ${env} ` +
      '(and REDIS_URL, OUTPOST_DNS_SERVERS, OUTPOST_DELIVERY_PORT, OUTPOST_DELIVERY_HTTP_LISTEN on a free port). ' +
      `Destination windows raised from 5/20 to ${workload.windowStart}/${workload.windowMax}; retries shortened ` +
      'to 1-2 s (OUTPOST_RETRY_FIRST/MAX); connection reuse at its default (5 s idle, 100 messages a connection). ' +
      `Receivers: the project's startSmtpReceiver (smtp-server) in ${workload.receiverProcesses} process(es) of ` +
      `their own; "after ${workload.delayMs} ms" delays the banner, MAIL, RCPT and the reply to the message ` +
      '(the kit cannot delay EHLO, RSET or the 354).',
    '',
    '## Where the time goes',
    '',
    markdownTable(report.summary, DELIVERY_DIAGNOSTIC_COLUMNS),
    '',
    'CPU: CPU time of the process(es) from the first enqueue until every message had arrived, divided by that ' +
      `wall time (100% = one core, of ${machine.cores}): all workers together, all receiver processes together, ` +
      "Redis, Redis's AOF rewrite children, and the benchmark process (enqueueing, DNS answers, polling). " +
      'Loop: event-loop utilisation of the busiest worker / receiver process (100% = its one JavaScript thread ' +
      'never idle). Worker CPU ms/msg: CPU time of all workers per delivered message. Syscalls: read/write ' +
      'system calls of all workers per delivered message (/proc/PID/io), SMTP and Redis sockets alike. ' +
      'Worker RSS at ready: before the first message; heap after GC: the V8 heap after a full GC once every ' +
      'message was delivered (largest worker): what the load left behind, against the RSS peak above. ' +
      'msgs/connection: messages per SMTP connection the receivers accepted (connection reuse). ' +
      'No-slot waits/100: per 100 completed delivery jobs (the last 10,000 Redis keeps), how often a job found ' +
      "its destination's window full and was put back for about one session time plus up to 1 s: BullMQ's " +
      "attemptsStarted minus 1 minus the job's deferred attempts.",
    '',
    '## Every run',
    '',
    '| scenario | workers | run | msg/s | p50 s | p99 s | enqueue s | drained s | workers CPU | worker loops | receivers CPU | Redis CPU | enqueue CPU | other CPU | speed | 451s | deferred | connections | no-slot waits/100 | attempts | delivered |',
    '|:---|---:|---:|---:|---:|---:|---:|---:|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.runs.map(
      (run) =>
        `| ${run.scenario} | ${run.workers} | ${run.run} | ${integer(run.deliveredPerSecond)} | ` +
        `${fixed(run.latencyMs.p50 / 1000, 2)} | ${fixed(run.latencyMs.p99 / 1000, 2)} | ${fixed(run.enqueueMs / 1000, 1)} | ` +
        `${fixed(run.drainMs / 1000, 1)} | ` +
        `${run.workerStats.cpuPercent.map((value) => percent(value)).join(' + ')} | ` +
        `${run.workerStats.eventLoopUtilization.map((value) => percent(value * 100)).join(', ')} | ` +
        `${percent(run.receivers.cpuPercent)} | ${percent(run.redis.cpuPercent)} | ${percent(run.benchCpuPercent)} | ` +
        `${percent(run.machine.otherPercent)} | ${integer(run.machine.cpuSpeedIndex)} | ` +
        `${integer(run.receivers.tempFailures)} | ${integer(run.workerStats.attemptsByVerdict.deferred ?? 0)} | ` +
        `${integer(run.receivers.sessions)} | ${fixed(run.jobRuns.noSlotWaitsPer100 ?? Number.NaN, 1)} | ${run.attempts} | ` +
        `${integer(run.delivered)}/${integer(run.messages)} |`,
    ),
    '',
    '## Redis commands per delivered message',
    '',
    ...commandLines,
    '',
    ...(problems.length > 0 ? ['## Problems', '', ...problems, ''] : []),
    '## Machine',
    '',
    `- CPU: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}`,
    `- Node ${machine.node}, Redis ${machine.redis}, BullMQ ${machine.bullmq}, smtp-server ${machine.smtpServer}`,
    `- Redis AOF directory: ${machine.redisDir}`,
    `- Commit: ${machine.gitCommit}${report.command.includes('--snapshot') ? ', benchmarked as a snapshot copied at the start' : ''}; code under test fingerprint ${[...new Set(report.runs.map((run) => run.sourceFingerprint))].join(', ')}`,
    ...(machine.uncommittedPaths.length > 0
      ? [
          `- Uncommitted changes outside bench/ at the start: ${machine.uncommittedPaths.slice(0, 10).join(', ')}` +
            `${machine.uncommittedPaths.length > 10 ? ` and ${machine.uncommittedPaths.length - 10} more` : ''}`,
        ]
      : []),
    '',
  ].join('\n');
}
