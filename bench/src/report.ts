import type { HttpBody } from './http-load.ts';
import type { Durability, FsyncPolicy, Protocol, RunResult, StorageDesign } from './ingest-bench.ts';
import type { MachineInfo } from './machine.ts';
import { median, spread } from './stats.ts';
import { markdownTable, sourceWarning, type Column as TableColumn } from './tables.ts';

/**
 * Postfix accepting with an fsync per message: the issue's reference figure, from the machine the
 * target was set on, not measured here (`npm run bench -- compare` measures Postfix in the same run).
 */
export const POSTFIX_MSG_PER_SECOND = 490;
/** The issue's target for the chosen design with appendfsync always. */
export const TARGET_MSG_PER_SECOND = 2_000;

export interface Workload {
  messages: number;
  connections: number;
  messageSize: number;
  runs: number;
  recipientsPerMessage: string;
  /** The HTTP case, when it ran. */
  http?: { messages: number; concurrency: number; bodies: HttpBody[]; runs: number };
}

export interface Summary {
  protocol: Protocol;
  httpBody?: HttpBody;
  /** "SMTP", or "HTTP composed" / "HTTP raw": how the load came in. */
  via: string;
  storage: StorageDesign;
  fsync: FsyncPolicy;
  /** How the fsync policy makes (or does not make) accepted mail durable, in words. */
  fsyncLabel: string;
  durability: Durability;
  runs: number;
  acceptedPerSecond: { median: number; min: number; max: number };
  ratioToPostfix: number;
  /** Medians over the runs of each run's p50 / p99. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Largest VmHWM of the ingest process over the runs. */
  ingestRssPeakBytes: number;
  redisBytesPerMessage: number;
  /** The same without BullMQ's event streams, whose size is capped (so their share falls as the queue grows). */
  redisBytesPerMessageWithoutEvents: number;
  ingestCpuPercent: number;
  ingestEventLoopUtilization: number;
  redisCpuPercent: number;
  redisRewriteCpuPercent: number;
  loadgenCpuPercent: number;
  /** CPU used by processes outside the benchmark during the load, largest over the runs (% of a core). */
  otherCpuPercentMax: number;
  /** Median of the runs' CPU speed index (see processes.ts cpuSpeedIndex). */
  cpuSpeedIndex: number;
  writeP50Ms: number;
  writeP99Ms: number;
  ingestSyscallsPerMessage: { reads: number; writes: number };
  redisSyscallsPerMessage: { reads: number; writes: number };
  /** Growth of the ingest heap (after full GCs) over a run, per accepted message. */
  heapGrowthPerMessage: number;
  /** Forks (AOF rewrites) Redis made during the runs, summed. */
  redisForks: number;
  failed: number;
  storedCheckOk: boolean;
}

export interface Report {
  benchmark: 'ingest';
  date: string;
  command: string;
  machine: MachineInfo;
  workload: Workload;
  reference: { postfixMsgPerSecond: number; targetMsgPerSecond: number };
  summary: Summary[];
  runs: RunResult[];
}

export function fsyncLabel(fsync: FsyncPolicy, durability: Durability, redisVersion: string): string {
  if (fsync === 'always') return 'always';
  if (durability === 'waitaof') return 'everysec + WAITAOF';
  return `everysec (no WAITAOF on Redis ${redisVersion.split('.').slice(0, 2).join('.')}: not durable)`;
}

export function viaLabel(run: { protocol?: Protocol; httpBody?: HttpBody }): string {
  // Reports written before the HTTP case have no protocol: they were SMTP.
  return run.protocol === 'http' ? `HTTP ${run.httpBody ?? 'composed'}` : 'SMTP';
}

export function summarize(runs: RunResult[], redisVersion: string): Summary[] {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = `${viaLabel(run)}|${run.storage}|${run.fsync}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const of = (pick: (run: RunResult) => number) => median(group.map(pick));
    const rate = spread(group.map((run) => run.load.acceptedPerSecond));
    return {
      protocol: first.protocol,
      ...(first.httpBody && { httpBody: first.httpBody }),
      via: viaLabel(first),
      storage: first.storage,
      fsync: first.fsync,
      fsyncLabel: fsyncLabel(first.fsync, first.durability, redisVersion),
      durability: first.durability,
      runs: group.length,
      acceptedPerSecond: rate,
      ratioToPostfix: rate.median / POSTFIX_MSG_PER_SECOND,
      latencyP50Ms: of((run) => run.load.latencyMs.p50),
      latencyP99Ms: of((run) => run.load.latencyMs.p99),
      ingestRssPeakBytes: Math.max(...group.map((run) => run.ingest.rssPeakBytes)),
      redisBytesPerMessage: of((run) => run.redis.bytesPerMessage),
      redisBytesPerMessageWithoutEvents: of(
        (run) =>
          (run.redis.usedMemoryAfter - run.redis.usedMemoryBefore - run.redis.eventStreams.bytes) /
          Math.max(run.load.accepted, 1),
      ),
      ingestCpuPercent: of((run) => run.ingest.cpuPercent),
      ingestEventLoopUtilization: of((run) => run.ingest.stats.eventLoopUtilization),
      redisCpuPercent: of((run) => run.redis.cpuPercent),
      redisRewriteCpuPercent: of((run) => run.redis.rewriteCpuPercent),
      otherCpuPercentMax: Math.max(...group.map((run) => run.machine.otherPercent)),
      cpuSpeedIndex: of((run) => run.machine.cpuSpeedIndex),
      loadgenCpuPercent: of((run) => run.loadgen.cpuPercent),
      writeP50Ms: of((run) => run.ingest.stats.writeMs.p50),
      writeP99Ms: of((run) => run.ingest.stats.writeMs.p99),
      ingestSyscallsPerMessage: {
        reads: of((run) => run.ingest.syscallsPerMessage.reads),
        writes: of((run) => run.ingest.syscallsPerMessage.writes),
      },
      redisSyscallsPerMessage: {
        reads: of((run) => run.redis.syscallsPerMessage.reads),
        writes: of((run) => run.redis.syscallsPerMessage.writes),
      },
      heapGrowthPerMessage: of(
        (run) =>
          (run.ingest.stats.heapAfterGcBytes.after - run.ingest.stats.heapAfterGcBytes.before) /
          Math.max(run.load.accepted, 1),
      ),
      redisForks: group.reduce((sum, run) => sum + run.redis.forks, 0),
      failed: group.reduce((sum, run) => sum + run.load.failed, 0),
      storedCheckOk: group.every((run) => run.check.ok),
    };
  });
}

const integer = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-');
const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const mib = (bytes: number) => `${fixed(bytes / 2 ** 20, 0)} MiB`;

export type Column = TableColumn<Summary>;

const IDENTITY: Column[] = [
  { title: 'via', value: (s) => s.via },
  { title: 'storage', value: (s) => s.storage },
  { title: 'appendfsync', value: (s) => s.fsyncLabel },
];

/** The figures the issue asks for. */
export const MAIN_COLUMNS: Column[] = [
  ...IDENTITY,
  {
    title: 'msg/s median [min-max]',
    value: (s) =>
      `${integer(s.acceptedPerSecond.median)} [${integer(s.acceptedPerSecond.min)}-${integer(s.acceptedPerSecond.max)}]`,
    right: true,
  },
  {
    title: 'vs reference Postfix 490',
    // Postfix's figure is SMTP: no HTTP comparison.
    value: (s) => (s.protocol === 'http' ? '-' : `${fixed(s.ratioToPostfix, 2)}x`),
    right: true,
  },
  { title: 'p50 ms', value: (s) => fixed(s.latencyP50Ms), right: true },
  { title: 'p99 ms', value: (s) => fixed(s.latencyP99Ms), right: true },
  { title: 'ingest RSS peak', value: (s) => mib(s.ingestRssPeakBytes), right: true },
  { title: 'Redis B/msg', value: (s) => integer(s.redisBytesPerMessage), right: true },
  {
    title: 'failed',
    value: (s) => `${s.failed}${s.storedCheckOk ? '' : ' (store check FAILED)'}`,
    right: true,
  },
];

/** Where the time goes: what limits the rate. */
export const DIAGNOSTIC_COLUMNS: Column[] = [
  ...IDENTITY,
  { title: 'ingest CPU', value: (s) => `${fixed(s.ingestCpuPercent, 0)}%`, right: true },
  {
    title: 'ingest loop busy',
    value: (s) => `${fixed(s.ingestEventLoopUtilization * 100, 0)}%`,
    right: true,
  },
  { title: 'Redis CPU', value: (s) => `${fixed(s.redisCpuPercent, 0)}%`, right: true },
  { title: 'AOF rewrite CPU', value: (s) => `${fixed(s.redisRewriteCpuPercent, 0)}%`, right: true },
  { title: 'loadgen CPU', value: (s) => `${fixed(s.loadgenCpuPercent, 0)}%`, right: true },
  { title: 'other CPU (max)', value: (s) => `${fixed(s.otherCpuPercentMax, 0)}%`, right: true },
  { title: 'CPU speed index', value: (s) => integer(s.cpuSpeedIndex), right: true },
  { title: 'write p50/p99 ms', value: (s) => `${fixed(s.writeP50Ms)}/${fixed(s.writeP99Ms)}`, right: true },
  {
    title: 'ingest syscalls/msg r/w',
    value: (s) => `${fixed(s.ingestSyscallsPerMessage.reads)}/${fixed(s.ingestSyscallsPerMessage.writes)}`,
    right: true,
  },
  {
    title: 'Redis syscalls/msg r/w',
    value: (s) => `${fixed(s.redisSyscallsPerMessage.reads)}/${fixed(s.redisSyscallsPerMessage.writes)}`,
    right: true,
  },
  {
    title: 'Redis B/msg w/o events',
    value: (s) => integer(s.redisBytesPerMessageWithoutEvents),
    right: true,
  },
  { title: 'heap growth B/msg', value: (s) => integer(s.heapGrowthPerMessage), right: true },
  { title: 'AOF rewrites', value: (s) => String(s.redisForks), right: true },
];

/** Lines that say whether the chosen design meets the issue's target. */
export function verdicts(summaries: Summary[]): string[] {
  const lines: string[] = [];
  for (const summary of summaries) {
    if (summary.fsync !== 'always') continue;
    const rate = summary.acceptedPerSecond.median;
    if (summary.protocol === 'http') {
      const smtp = summaries.find(
        (other) => other.protocol === 'smtp' && other.storage === summary.storage && other.fsync === 'always',
      );
      lines.push(
        `${summary.via} ${summary.storage} + always: ${integer(rate)} msg/s median, ` +
          `p50 ${fixed(summary.latencyP50Ms)} ms, p99 ${fixed(summary.latencyP99Ms)} ms` +
          (smtp ? ` (SMTP: ${integer(smtp.acceptedPerSecond.median)} msg/s; no target for HTTP)` : ''),
      );
      continue;
    }
    const meets = rate >= TARGET_MSG_PER_SECOND;
    lines.push(
      `${summary.storage} + always: ${integer(rate)} msg/s median, ${fixed(summary.ratioToPostfix, 2)}x the reference ` +
        `Postfix ${POSTFIX_MSG_PER_SECOND} (not measured here); target >= ${integer(TARGET_MSG_PER_SECOND)} msg/s: ${meets ? 'met' : 'NOT met'}`,
    );
  }
  return lines;
}

export function markdownReport(report: Report): string {
  const { machine, workload } = report;
  const failures = report.runs.flatMap((run) =>
    Object.entries(run.load.failures).map(
      ([reason, count]) =>
        `- ${viaLabel(run)} ${run.storage} ${run.fsync} run ${run.run}: ${count} x \`${reason}\``,
    ),
  );
  const commandLines = report.summary.map((summary) => {
    const run = report.runs.find(
      (r) => viaLabel(r) === summary.via && r.storage === summary.storage && r.fsync === summary.fsync,
    );
    const commands = Object.entries(run?.redis.commandsPerMessage ?? {})
      .sort(([, a], [, b]) => b - a)
      .map(([name, calls]) => `${name} ${calls}`)
      .join(', ');
    return `- ${summary.via} ${summary.storage} / ${summary.fsyncLabel}: ${commands}`;
  });
  return [
    '# Ingest benchmark',
    '',
    `Run ${report.date} with \`${report.command}\`.`,
    '',
    `Workload: ${integer(workload.messages)} messages of ${integer(workload.messageSize)} bytes, ` +
      `${workload.recipientsPerMessage} each, over ${workload.connections} concurrent plain SMTP connections ` +
      `(PIPELINING, no TLS), ${workload.runs} run(s) per row, a fresh Redis (AOF on) and ingest process per run.`,
    ...(workload.http
      ? [
          '',
          `HTTP rows: ${integer(workload.http.messages)} requests to POST /v1/messages with ` +
            `${workload.http.concurrency} in flight (one keep-alive connection each, plain HTTP), the same ` +
            'recipients, an API key with rate `unlimited`; ' +
            workload.http.bodies
              .map((body) =>
                body === 'raw'
                  ? "`raw`: the SMTP rows' message as `raw`"
                  : `\`composed\`: JSON {from, to, subject, text} of ${integer(workload.messageSize)} bytes (ingest builds the MIME)`,
              )
              .join('; ') +
            '. ' +
            `${workload.http.runs} run(s) per row. p50/p99 for HTTP: from writing the request to reading the whole answer (202).`,
        ]
      : []),
    '',
    markdownTable(report.summary, MAIN_COLUMNS),
    '',
    ...verdicts(report.summary).map((line) => `- ${line}`),
    ...(sourceWarning(report.runs) ? ['', `**${sourceWarning(report.runs)}**`] : []),
    '',
    'msg/s: messages answered 250 per second of load, median of the runs [min-max]. ' +
      'p50/p99: from writing the final dot to reading its reply (median over the runs). ' +
      'ingest RSS peak: VmHWM of the ingest process, largest over the runs. ' +
      'Redis B/msg: (used_memory after - before) / accepted messages.',
    '',
    '## Where the time goes',
    '',
    markdownTable(report.summary, DIAGNOSTIC_COLUMNS),
    '',
    'CPU: CPU time of the process during the load / its wall time (100% = one core, of ' +
      `${machine.cores}). Loop busy: event-loop utilisation of ingest's one JavaScript thread. ` +
      'write: time inside MessageWriter.write (the Redis round trip(s), fsync included). ' +
      'syscalls: read/write system calls per message (/proc/PID/io syscr/syscw). ' +
      "Redis B/msg w/o events: the same without BullMQ's event streams (capped at ~10,000 entries per queue). " +
      "Heap growth: ingest's V8 heap after a full GC, after the load minus before, per message. " +
      'AOF rewrites: forks Redis made for automatic AOF rewrites during the runs, and their CPU. ' +
      'Other CPU: used during the load by processes that are not part of the benchmark (largest over the runs). ' +
      'CPU speed index: rounds/s of a fixed single-threaded workload just before the run; on a shared or ' +
      'virtual machine it moves, and the throughput moves with it.',
    '',
    '## Every run',
    '',
    '| via | storage | appendfsync | run | msg/s | p50 ms | p99 ms | ingest CPU | ingest CPU ms/msg | Redis CPU | loadgen CPU | other CPU | CPU speed index | attempts | failed |',
    '|:---|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.runs.map(
      (run) =>
        `| ${viaLabel(run)} | ${run.storage} | ${run.fsync} | ${run.run} | ${integer(run.load.acceptedPerSecond)} | ` +
        `${fixed(run.load.latencyMs.p50)} | ${fixed(run.load.latencyMs.p99)} | ${fixed(run.ingest.cpuPercent, 0)}% | ` +
        `${fixed((run.ingest.cpuPercent * 10) / Math.max(run.load.acceptedPerSecond, 1), 2)} | ` +
        `${fixed(run.redis.cpuPercent, 0)}% | ${fixed(run.loadgen.cpuPercent, 0)}% | ${fixed(run.machine.otherPercent, 0)}% | ` +
        `${integer(run.machine.cpuSpeedIndex)} | ${run.attempts} | ${run.load.failed} |`,
    ),
    '',
    '## Redis commands per message',
    '',
    ...commandLines,
    '',
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
    ...(failures.length > 0 ? ['## Failures', '', ...failures, ''] : []),
  ].join('\n');
}
