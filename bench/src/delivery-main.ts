/** `npm run bench -- delivery [options]`: delivery workers against local receivers (see USAGE). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isRedisServerInstalled, REDIS_MISSING_MESSAGE } from '@outpost/testing';
import {
  integerList,
  listOption,
  nonNegativeInteger,
  positiveInteger,
  RESULTS_DIR,
  redisVersion,
  timestamp,
  UsageError,
} from './cli-options.ts';
import {
  type DeliveryRunResult,
  type DeliverySettings,
  DOMAINS,
  label,
  MX_HOSTS,
  runDeliveryOnce,
  SCENARIOS,
  type Scenario,
  workerEnv,
} from './delivery-bench.ts';
import {
  DELIVERY_COLUMNS,
  DELIVERY_DIAGNOSTIC_COLUMNS,
  type DeliveryReport,
  type DeliveryWorkload,
  deliveryMarkdown,
  scalingLines,
  summarizeDelivery,
} from './delivery-report.ts';
import { machineInfo, REPO_ROOT } from './machine.ts';
import { installCleanupHandlers, onAbort } from './processes.ts';
import { createSnapshot, resolveCommit } from './snapshot.ts';
import { sourceWarning, textTable } from './tables.ts';

const USAGE = `usage: npm run bench -- delivery [options]

Scenarios (each a row, --runs times, round-robin):
  base    receivers answer at once; --base-workers worker process(es), --messages messages
  slow    receivers answer every command after --delay-ms; 1, 2 and 4 workers (--workers), --slow-messages
  retry   --retry-percent of the RCPTs answered 451 once; --base-workers worker(s), --retry-messages

  --scenarios LIST        base,slow,retry (default all)
  --messages N            messages per base run (default 20000; --quick: 1000)
  --slow-messages N       messages per slow run (default 5000; --quick: 500)
  --retry-messages N      messages per retry run (default: --messages)
  --workers LIST          worker processes for the slow scenario (default 1,2,4)
  --base-workers N        worker processes for base and retry (default 1)
  --concurrency N         OUTPOST_DELIVERY_CONCURRENCY of each worker (default 50)
  --window-start N        OUTPOST_DESTINATION_WINDOW_START (default 20; production 5)
  --window-max N          OUTPOST_DESTINATION_WINDOW_MAX (default 50; production 20)
  --delay-ms N            the slow receivers' delay per reply (default 50)
  --retry-percent N       share of recipients answered 451 on their first RCPT (default 10)
  --receiver-processes N  processes the 10 receivers are spread over (default 1)
  --warm-up N             messages per worker delivered before the clock starts (default 0: the
                          workers start cold, V8's compiler and the connections included)
  --size BYTES            message size as submitted (default 2048)
  --fsync always|everysec Redis appendfsync (default always)
  --runs N                runs per row (default 3; --quick: 1)
  --quick                 a small run to check the harness; results go to bench/results/tmp/
  --max-other-cpu PCT     redo a run when processes outside the benchmark used more CPU (default 10)
  --retries N             how often to redo such a run before keeping it anyway (default 2)
  --snapshot              benchmark a copy of the code taken at the start
  --at COMMIT             benchmark that commit (a copy of its tree; HEAD, a branch or an id), to
                          pair it with the working tree on the same machine
  --cpu-prof              a V8 CPU profile of each worker, in bench/results/tmp/profiles/
  --alloc-prof            a sampled profile of what each worker allocates (garbage included), same place
  --out DIR               where to write the results (default bench/results/)
`;

export async function deliveryBenchmark(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenarios: { type: 'string' },
      messages: { type: 'string' },
      'slow-messages': { type: 'string' },
      'warm-up': { type: 'string' },
      'retry-messages': { type: 'string' },
      workers: { type: 'string' },
      'base-workers': { type: 'string' },
      concurrency: { type: 'string' },
      'window-start': { type: 'string' },
      'window-max': { type: 'string' },
      'delay-ms': { type: 'string' },
      'retry-percent': { type: 'string' },
      'receiver-processes': { type: 'string' },
      size: { type: 'string' },
      fsync: { type: 'string' },
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'max-other-cpu': { type: 'string' },
      retries: { type: 'string' },
      snapshot: { type: 'boolean', default: false },
      at: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'alloc-prof': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const quick = values.quick;
  const scenarios = listOption<Scenario>(values.scenarios, SCENARIOS, 'scenarios');
  const messages = positiveInteger(values.messages, quick ? 1_000 : 20_000, 'messages');
  const slowMessages = positiveInteger(values['slow-messages'], quick ? 500 : 5_000, 'slow-messages');
  const retryMessages = positiveInteger(values['retry-messages'], messages, 'retry-messages');
  const slowWorkers = integerList(values.workers, [1, 2, 4], 'workers');
  const baseWorkers = positiveInteger(values['base-workers'], 1, 'base-workers');
  const [fsync = 'always'] = listOption<'always' | 'everysec'>(
    values.fsync,
    ['always', 'everysec'] as const,
    'fsync',
    ['always'],
  );
  const retryPercent = positiveInteger(values['retry-percent'], 10, 'retry-percent');
  if (retryPercent > 100) throw new UsageError('--retry-percent: at most 100');
  const common = {
    messageSize: positiveInteger(values.size, 2_048, 'size'),
    concurrency: positiveInteger(values.concurrency, 50, 'concurrency'),
    windowStart: positiveInteger(values['window-start'], 20, 'window-start'),
    windowMax: positiveInteger(values['window-max'], 50, 'window-max'),
    delayMs: positiveInteger(values['delay-ms'], 50, 'delay-ms'),
    retryPercent,
    receiverProcesses: Math.min(
      MX_HOSTS,
      positiveInteger(values['receiver-processes'], 1, 'receiver-processes'),
    ),
    fsync,
    warmUpPerWorker: nonNegativeInteger(values['warm-up'], 0, 'warm-up'),
    enqueueConcurrency: 100,
    stallTimeoutMs: 60_000,
  };
  const runs = positiveInteger(values.runs, quick ? 1 : 3, 'runs');
  const maxOtherCpu = positiveInteger(values['max-other-cpu'], 10, 'max-other-cpu');
  const retries = values.retries === '0' ? 0 : positiveInteger(values.retries, 2, 'retries');
  const outDir = values.out ?? (quick ? join(RESULTS_DIR, 'tmp') : RESULTS_DIR);
  const profileDir =
    values['cpu-prof'] || values['alloc-prof'] ? join(RESULTS_DIR, 'tmp', 'profiles') : undefined;

  if (!isRedisServerInstalled()) throw new Error(REDIS_MISSING_MESSAGE);
  installCleanupHandlers();
  const redis = redisVersion();
  const atCommit = values.at === undefined ? undefined : resolveCommit(REPO_ROOT, values.at);
  const machine = machineInfo(redis, atCommit);
  const started = new Date();
  const command = ['npm run bench --', 'delivery', ...argv].join(' ');

  type Row = Pick<DeliverySettings, 'scenario' | 'workers' | 'messages'>;
  const rows: Row[] = [];
  if (scenarios.includes('base')) rows.push({ scenario: 'base', workers: baseWorkers, messages });
  if (scenarios.includes('slow')) {
    for (const workers of slowWorkers) rows.push({ scenario: 'slow', workers, messages: slowMessages });
  }
  if (scenarios.includes('retry'))
    rows.push({ scenario: 'retry', workers: baseWorkers, messages: retryMessages });

  process.stdout.write(
    `Delivery benchmark: ${rows.map((row) => `${row.scenario} ${row.workers}w ${row.messages.toLocaleString('en-US')} msgs`).join(', ')}; ` +
      `${runs} run(s) of each; concurrency ${common.concurrency}/worker, windows ${common.windowStart}/${common.windowMax}, ` +
      `${common.receiverProcesses} receiver process(es), appendfsync ${fsync}\n` +
      `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, Redis ${redis}\n\n`,
  );
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const snapshot = atCommit || values.snapshot ? createSnapshot(REPO_ROOT, atCommit) : undefined;
  if (snapshot) {
    onAbort(snapshot.remove);
    process.stdout.write(`Benchmarking a snapshot of the code: ${snapshot.root}\n\n`);
  }

  const results: DeliveryRunResult[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const row of rows) {
      const settings: DeliverySettings = {
        ...common,
        ...row,
        run,
        ...(profileDir && values['cpu-prof'] && { cpuProfileDir: profileDir }),
        ...(profileDir && values['alloc-prof'] && { allocationProfileDir: profileDir }),
        ...(snapshot && { codeRoot: snapshot.root }),
        notice: (text: string) => process.stdout.write(`(${text}) `),
      };
      process.stdout.write(`  ${label(settings).padEnd(18)} `);
      let result = await runDeliveryOnce(settings);
      for (let retry = 1; retry <= retries && result.machine.otherPercent > maxOtherCpu; retry++) {
        process.stdout.write(
          `(redone: other processes used ${result.machine.otherPercent.toFixed(0)}% CPU during it) `,
        );
        result = { ...(await runDeliveryOnce(settings)), attempts: retry + 1 };
      }
      results.push(result);
      const sum = (list: number[]) => list.reduce((total, value) => total + value, 0);
      process.stdout.write(
        `${Math.round(result.deliveredPerSecond).toLocaleString('en-US').padStart(6)} msg/s  ` +
          `p50 ${(result.latencyMs.p50 / 1000).toFixed(2)} s  p99 ${(result.latencyMs.p99 / 1000).toFixed(2)} s  ` +
          `enqueue ${(result.enqueueMs / 1000).toFixed(1)} s  ` +
          `workers CPU ${sum(result.workerStats.cpuPercent).toFixed(0)}% ` +
          `(loops ${result.workerStats.eventLoopUtilization.map((value) => `${(value * 100).toFixed(0)}%`).join(',')})  ` +
          `receivers CPU ${result.receivers.cpuPercent.toFixed(0)}%  Redis CPU ${result.redis.cpuPercent.toFixed(0)}%  ` +
          `enqueue CPU ${result.benchCpuPercent.toFixed(0)}%  other ${result.machine.otherPercent.toFixed(0)}%  ` +
          (result.scenario === 'retry'
            ? `451s ${result.receivers.tempFailures}, deferred ${result.workerStats.attemptsByVerdict.deferred ?? 0}  `
            : '') +
          `${result.delivered}/${result.messages} delivered${result.duplicates > 0 ? `, ${result.duplicates} duplicates` : ''}` +
          `${result.problems.length > 0 ? `  PROBLEMS: ${result.problems.join('; ')}` : ''}\n`,
      );
    }
  }

  snapshot?.remove();
  const exampleEnv = workerEnv({ ...common, ...rows[0]!, run: 1 } as DeliverySettings, {
    redisUrl: '',
    dns: '',
    port: 0,
    healthPort: 0,
  });
  const shownEnv = Object.fromEntries(
    Object.entries(exampleEnv).filter(
      ([name]) =>
        ![
          'PATH',
          'REDIS_URL',
          'OUTPOST_DNS_SERVERS',
          'OUTPOST_DELIVERY_PORT',
          'OUTPOST_DELIVERY_HTTP_LISTEN',
        ].includes(name),
    ),
  ) as Record<string, string>;
  const workload: DeliveryWorkload = {
    messageSize: common.messageSize,
    domains: DOMAINS,
    mxHosts: MX_HOSTS,
    runs,
    messages: Object.fromEntries(rows.map((row) => [row.scenario, row.messages])),
    concurrency: common.concurrency,
    windowStart: common.windowStart,
    windowMax: common.windowMax,
    delayMs: common.delayMs,
    retryPercent: common.retryPercent,
    receiverProcesses: common.receiverProcesses,
    fsync,
    warmUpPerWorker: common.warmUpPerWorker,
    enqueueConcurrency: common.enqueueConcurrency,
    workerEnv: shownEnv,
  };
  const summary = summarizeDelivery(results, workload);
  const report: DeliveryReport = {
    benchmark: 'delivery',
    date: started.toISOString(),
    command,
    machine,
    workload,
    summary,
    runs: results,
  };
  process.stdout.write(
    `\n${textTable(summary, DELIVERY_COLUMNS)}\n\n${scalingLines(summary)
      .map((line) => `${line}\n`)
      .join('')}\n` + `Where the time goes:\n${textTable(summary, DELIVERY_DIAGNOSTIC_COLUMNS)}\n`,
  );
  const changed = sourceWarning(results);
  if (changed) process.stdout.write(`\n${changed}\n`);

  mkdirSync(outDir, { recursive: true });
  const base = quick ? `delivery-quick-${timestamp(started)}` : `delivery-${timestamp(started)}`;
  const jsonPath = join(outDir, `${base}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  const markdownPath = join(outDir, quick ? 'delivery-quick-latest.md' : 'delivery-latest.md');
  writeFileSync(markdownPath, deliveryMarkdown(report));
  process.stdout.write(`\nWrote ${jsonPath}\n  and ${markdownPath}\n`);
  if (results.some((result) => !result.complete || result.problems.length > 0)) process.exitCode = 1;
}
