/**
 * `npm run bench -- compare [options]`: Outpost against Postfix and the raw SMTP ceiling, on this
 * machine, in the same run (see USAGE and bench/README.md). `npm run bench -- --quick`: a few
 * seconds of Outpost end to end, printing msg/s, to compare a hot-path change before and after.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isRedisServerInstalled, REDIS_MISSING_MESSAGE } from '@outpost/testing';
import { type BacklogRunResult, runBacklogOnce } from './backlog-bench.ts';
import { type CeilingRunResult, runCeilingOnce } from './ceiling-bench.ts';
import { listOption, positiveInteger, RESULTS_DIR, redisVersion } from './cli-options.ts';
import {
  comparisonTable,
  figureOf,
  judgeTargets,
  type Row,
  reportNotes,
  resultFileName,
  resultsMarkdown,
  type Scaling,
  targetsTable,
  type Versions,
  type WorkloadReport,
} from './compare-report.ts';
import { E2E_MODES, type E2eMode, type E2eRunResult, runE2eOnce, type System } from './e2e-bench.ts';
import { type LatencyRunResult, runLatencyOnce } from './latency-bench.ts';
import { loadAverage, waitForLowLoad } from './loadavg.ts';
import { machineInfo, REPO_ROOT } from './machine.ts';
import { peerTools } from './peers/system-tools.ts';
import { installCleanupHandlers, onAbort } from './processes.ts';
import { createSnapshot, resolveCommit } from './snapshot.ts';
import { startWorldDns } from './world.ts';

export const WORKLOADS = ['ceiling', 'e2e', 'e2e-100k', 'latency', 'backlog'] as const;
export type Workload = (typeof WORKLOADS)[number];

const USAGE = `usage: npm run bench -- compare [options]
       npm run bench -- --quick            (a few seconds: Outpost end to end, msg/s)

Workloads (--workloads, default all), each --runs times (default 3), round-robin between systems:
  ceiling    smtp-source -> smtp-sink, 20 sessions, connection reused and new per message
  e2e        --messages (20000) x 2 KB to 50 domains: end to end, ingest only + delivery only
             (held queue released), and 10% of RCPTs deferred; Outpost and Postfix; and Outpost
             end to end with its traces exported (traced)
  e2e-100k   --large-messages (2000) x 100 KB, end to end, plain and traced; Outpost and Postfix
  latency    --rate (100) msg/s offered for --latency-seconds (30): p99 enqueue to delivered (Outpost)
  backlog    --backlog-messages (200000) queued while delivery is off: Redis memory per message
             beyond the body, time to drain (Outpost)

  --systems LIST        outpost,postfix (default both; Postfix needs the postfix package and root)
  --modes LIST          e2e,hold,defer10,traced: which rows of the e2e workloads to run (default all;
                        traced: Outpost with its traces exported over OTLP to a counting sink)
  --workers N           Outpost delivery worker processes (default 1)
  --runs N              runs per row (default 3; --quick: 1)
  --messages N, --large-messages N, --backlog-messages N, --rate N, --latency-seconds N
  --ci                  CI-sized: 2,000 / 200 / 20,000 messages, 10 s of latency, 1 run
  --quick               Outpost end to end only, 2,000 messages, 1 run; results in results/tmp/
  --max-wait-minutes N  wait at most this long for the 1-minute load average to fall to 1.5 (10)
  --snapshot            benchmark a copy of the code taken at the start
  --at COMMIT           benchmark that commit (a copy of its tree; HEAD, a branch or an id), to
                        pair it with the working tree on the same machine
  --cpu-prof            V8 CPU profiles of ingest and the workers, in results/tmp/profiles/
  --out DIR             where to write the results (default bench/results/)
  --report              run nothing: rebuild bench/RESULTS.md from the latest results/*.json
`;

const ROWS_E2E: Array<{ system: System; mode: E2eMode }> = [
  { system: 'outpost', mode: 'e2e' },
  { system: 'postfix', mode: 'e2e' },
  { system: 'outpost', mode: 'hold' },
  { system: 'postfix', mode: 'hold' },
  { system: 'outpost', mode: 'defer10' },
  { system: 'postfix', mode: 'defer10' },
  { system: 'outpost', mode: 'traced' },
];

const MIB = 2 ** 20;

function e2eRows(workload: string, runs: E2eRunResult[], modes: E2eMode[]): Row[] {
  const complete = (system: System, mode: E2eMode) =>
    runs.filter((run) => run.system === system && run.mode === mode && run.complete);
  const pick = (system: System, mode: E2eMode, value: (run: E2eRunResult) => number | undefined) =>
    figureOf(complete(system, mode).map((run) => value(run) ?? Number.NaN));
  /** Outpost's runs in `mode` over Postfix's of the same round in `postfixMode`. */
  const paired = (
    mode: E2eMode,
    value: (run: E2eRunResult) => number | undefined,
    postfixMode: E2eMode = mode,
  ) => {
    const postfixRuns = complete('postfix', postfixMode);
    const ratios = complete('outpost', mode).map((outpost) => {
      const postfix = postfixRuns.find((run) => run.run === outpost.run);
      return postfix ? (value(outpost) ?? Number.NaN) / (value(postfix) ?? Number.NaN) : Number.NaN;
    });
    return figureOf(ratios);
  };
  const both = (mode: E2eMode, value: (run: E2eRunResult) => number | undefined) => ({
    ...optional('outpost', pick('outpost', mode, value)),
    ...optional('postfix', pick('postfix', mode, value)),
    ...optional('pairedRatio', paired(mode, value)),
  });
  const rows: Row[] = [];
  if (modes.includes('e2e')) {
    rows.push({ workload, measure: 'end to end', unit: 'msg/s', ...both('e2e', (run) => run.e2ePerSecond) });
    rows.push({
      workload,
      measure: 'injection (ingest while delivering)',
      unit: 'msg/s',
      ...both('e2e', (run) => run.ingestPerSecond),
    });
  }
  if (modes.includes('traced')) {
    // Postfix has no traces to export: its column is its plain end-to-end run of the same round.
    const perSecond = (run: E2eRunResult) => run.e2ePerSecond;
    rows.push({
      workload,
      measure: 'end to end, traces exported (OTLP)',
      unit: 'msg/s',
      ...optional('outpost', pick('outpost', 'traced', perSecond)),
      ...optional('postfix', pick('postfix', 'e2e', perSecond)),
      ...optional('pairedRatio', paired('traced', perSecond, 'e2e')),
    });
  }
  if (modes.includes('hold')) {
    const name = 'ingest / delivery only';
    rows.push({
      workload: name,
      measure: 'ingest only',
      unit: 'msg/s',
      ...both('hold', (run) => run.ingestPerSecond),
    });
    rows.push({
      workload: name,
      measure: 'delivery only',
      unit: 'msg/s',
      ...both('hold', (run) => run.deliveryOnlyPerSecond),
    });
  }
  if (modes.includes('defer10')) {
    const name = '10% of RCPTs deferred';
    rows.push({
      workload: name,
      measure: 'overall',
      unit: 'msg/s',
      ...both('defer10', (run) => run.e2ePerSecond),
    });
    // Each round's share of its own fault-free run: steadier than the medians on a drifting machine.
    const fromFaultFree = complete('outpost', 'e2e');
    const shares = complete('outpost', 'defer10').map((run) => {
      const faultFree = fromFaultFree.find((other) => other.run === run.run);
      return faultFree ? (run.goodPathPerSecond ?? Number.NaN) / faultFree.e2ePerSecond : Number.NaN;
    });
    rows.push({
      workload: name,
      measure: 'the other 90%',
      unit: 'msg/s',
      ...both('defer10', (run) => run.goodPathPerSecond),
      ...optional('perRoundShare', figureOf(shares)),
    });
    rows.push({
      workload: name,
      measure: 'retry drain after recovery',
      unit: 's',
      ...both('defer10', (run) => (run.retryDrainMs ?? Number.NaN) / 1000),
    });
    rows.push({
      workload: name,
      measure: 'jobs put back, their destination paused',
      unit: 'jobs',
      ...optional(
        'outpost',
        pick('outpost', 'defer10', (run) => run.pausedWaits),
      ),
    });
  }
  // Peak RSS without and with trace export: the exporter and its queue are memory of their own.
  const rssRows = (traced: boolean) => {
    const outpostRuns = runs.filter(
      (run) => run.system === 'outpost' && run.rssPeakBytes && (run.mode === 'traced') === traced,
    );
    const suffix = traced ? ', traces exported' : '';
    const ingestRss = figureOf(outpostRuns.map((run) => run.rssPeakBytes!.ingest / MIB));
    const workerRss = figureOf(outpostRuns.map((run) => Math.max(...run.rssPeakBytes!.workers) / MIB));
    if (ingestRss)
      rows.push({ workload, measure: `peak RSS, ingest${suffix}`, unit: 'MiB', outpost: ingestRss });
    if (workerRss)
      rows.push({ workload, measure: `peak RSS, delivery worker${suffix}`, unit: 'MiB', outpost: workerRss });
  };
  rssRows(false);
  rssRows(true);
  return rows.filter((row) => row.outpost || row.postfix);
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;
}

/** Hand-written findings (profiles, what to fix) kept beside the results: results/findings.md. */
function findings(): string {
  const path = join(RESULTS_DIR, 'findings.md');
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** The latest report of each workload in `dir`. */
function latestReports(dir: string): WorkloadReport[] {
  if (!existsSync(dir)) return [];
  const byWorkload = new Map<string, WorkloadReport>();
  for (const name of readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()) {
    try {
      const report = JSON.parse(readFileSync(join(dir, name), 'utf8')) as WorkloadReport;
      if (report.benchmark === 'compare') byWorkload.set(report.workload, report);
    } catch {
      // not ours
    }
  }
  return WORKLOADS.map((workload) => byWorkload.get(workload)).filter((report) => report !== undefined);
}

/**
 * The latest delivery benchmark with 1 and 4 slow-scenario workers, per sessions-per-worker setting,
 * messages per run and warm-up (cold workers and warmed-up ones are both shown, and both judged).
 */
function deliveryScaling(dir: string): Scaling[] {
  if (!existsSync(dir)) return [];
  const bySetting = new Map<string, Scaling>();
  const files = readdirSync(dir)
    .filter((file) => /^delivery-\d.*\.json$/.test(file))
    .sort();
  for (const file of files) {
    const report = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      workload: { concurrency: number; warmUpPerWorker?: number; messages?: { slow?: number } };
      summary: Array<{ scenario: string; workers: number; deliveredPerSecond: { median: number } }>;
    };
    const slow = (workers: number) =>
      report.summary.find((row) => row.scenario === 'slow' && row.workers === workers)?.deliveredPerSecond
        .median;
    const one = slow(1);
    const four = slow(4);
    // Later files replace earlier ones of the same setting.
    if (one && four) {
      const sessionsPerWorker = report.workload.concurrency;
      const warmUpPerWorker = report.workload.warmUpPerWorker ?? 0;
      const messages = report.workload.messages?.slow ?? 0;
      bySetting.set(`${sessionsPerWorker}/${messages}/${warmUpPerWorker}`, {
        sessionsPerWorker,
        messages,
        warmUpPerWorker,
        one,
        four,
        ratio: four / one,
      });
    }
  }
  return [...bySetting.values()];
}

export async function compareBenchmark(argv: string[], quickOnly = false): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      workloads: { type: 'string' },
      systems: { type: 'string' },
      modes: { type: 'string' },
      workers: { type: 'string' },
      runs: { type: 'string' },
      messages: { type: 'string' },
      'large-messages': { type: 'string' },
      'backlog-messages': { type: 'string' },
      rate: { type: 'string' },
      'latency-seconds': { type: 'string' },
      ci: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'max-wait-minutes': { type: 'string' },
      snapshot: { type: 'boolean', default: false },
      at: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      out: { type: 'string' },
      report: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.report) {
    const merged = latestReports(values.out ?? RESULTS_DIR).map((report) =>
      report.workload === 'e2e' || report.workload === 'e2e-100k'
        ? {
            ...report,
            rows: e2eRows(
              report.workload === 'e2e' ? 'end to end 2 KB' : 'end to end 100 KB',
              report.runs as E2eRunResult[],
              (report.settings.modes as E2eMode[] | undefined) ?? ['e2e'],
            ),
          }
        : report,
    );
    const ceilingRate = merged.find((report) => report.workload === 'ceiling')?.rows[0]?.ceiling;
    const rows = merged.map((report) => ({
      ...report,
      rows: report.rows.map((row) =>
        row.unit === 'msg/s' &&
        ceilingRate &&
        !row.workload.startsWith('raw') &&
        !row.workload.startsWith('backlog')
          ? { ...row, ceiling: ceilingRate }
          : row,
      ),
    }));
    const targets = judgeTargets(
      rows.flatMap((report) => report.rows),
      { scaling: deliveryScaling(RESULTS_DIR) },
    );
    process.stdout.write(
      `${comparisonTable(rows.flatMap((report) => report.rows))}\n\n${targetsTable(targets)}\n`,
    );
    writeFileSync(
      join(RESULTS_DIR, '..', 'RESULTS.md'),
      resultsMarkdown(rows, targets, reportNotes(rows), findings()),
    );
    return;
  }
  const quick = quickOnly || values.quick;
  const small = quick || values.ci;
  const workloads = quick
    ? (['e2e'] as Workload[])
    : listOption<Workload>(values.workloads, WORKLOADS, 'workloads');
  const systems = quick
    ? (['outpost'] as System[])
    : listOption<System>(values.systems, ['outpost', 'postfix'], 'systems');
  const chosenModes = listOption<E2eMode>(values.modes, E2E_MODES, 'modes');
  const runs = positiveInteger(values.runs, small ? 1 : 3, 'runs');
  const workers = positiveInteger(values.workers, 1, 'workers');
  const messages = positiveInteger(values.messages, small ? 2_000 : 20_000, 'messages');
  const largeMessages = positiveInteger(values['large-messages'], small ? 200 : 2_000, 'large-messages');
  const backlogMessages = positiveInteger(
    values['backlog-messages'],
    small ? 20_000 : 200_000,
    'backlog-messages',
  );
  const rate = positiveInteger(values.rate, 100, 'rate');
  const latencySeconds = positiveInteger(values['latency-seconds'], small ? 10 : 30, 'latency-seconds');
  const maxWaitMs =
    (values['max-wait-minutes'] === '0'
      ? 0
      : positiveInteger(values['max-wait-minutes'], 10, 'max-wait-minutes')) * 60_000;
  const outDir = values.out ?? (quick ? join(RESULTS_DIR, 'tmp') : RESULTS_DIR);
  const profileDir = values['cpu-prof'] ? join(RESULTS_DIR, 'tmp', 'profiles') : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  if (!isRedisServerInstalled()) throw new Error(REDIS_MISSING_MESSAGE);
  installCleanupHandlers();
  const found = peerTools();
  const tools = 'tools' in found ? found.tools : undefined;
  const notes: string[] = [];
  if (!tools) {
    notes.push(
      `Postfix, smtp-source and smtp-sink were not used (${'missing' in found ? found.missing : ''}): Outpost only, with the project's DNS server, receivers and injector.`,
    );
  }
  const redis = redisVersion();
  const atCommit = values.at === undefined ? undefined : resolveCommit(REPO_ROOT, values.at);
  const machine = machineInfo(redis, atCommit);
  const versions: Versions = {
    node: process.version,
    redis,
    bullmq: machine.bullmq,
    ...(tools && { postfix: tools.postfixVersion, dnsmasq: tools.dnsmasqVersion }),
  };
  const command = quickOnly ? 'npm run bench -- --quick' : ['npm run bench --', 'compare', ...argv].join(' ');
  const say = (text: string) => process.stdout.write(text);
  say(
    `Comparison: ${workloads.join(', ')}; ${systems.join(' vs ')}; ${runs} run(s) each; ${workers} delivery worker(s)\n` +
      `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${versions.node}, Redis ${redis}` +
      `${tools ? `, Postfix ${tools.postfixVersion}` : ' (no Postfix)'}\n`,
  );

  const snapshot = atCommit || values.snapshot ? createSnapshot(REPO_ROOT, atCommit) : undefined;
  if (snapshot) onAbort(snapshot.remove);
  const codeRoot = snapshot?.root ?? REPO_ROOT;
  const scratch = mkdtempSync(join(tmpdir(), 'outpost-compare-'));
  onAbort(() => rmSync(scratch, { recursive: true, force: true }));
  const dns = await startWorldDns(tools, scratch);
  const notice = (text: string) => say(`(${text}) `);
  const reports: WorkloadReport[] = [];
  const allRows: Row[] = [];
  let ceiling: number | undefined;
  try {
    for (const workload of workloads) {
      const wait = quick
        ? { first: loadAverage(), last: loadAverage(), waitedMs: 0, busy: loadAverage().one > 1.5 }
        : await waitForLowLoad(1.5, reports.length === 0 ? maxWaitMs : Math.min(maxWaitMs, 120_000), (load) =>
            say(`(load average ${load.one.toFixed(2)} > 1.5: waiting) `),
          );
      if (wait.busy && !quick)
        say(`(still busy after ${(wait.waitedMs / 60_000).toFixed(1)} min: running anyway) `);
      const started = new Date();
      say(`\n${workload}:\n`);
      let rows: Row[] = [];
      let runResults: unknown[] = [];
      let settings: Record<string, unknown> = {};
      if (workload === 'ceiling') {
        if (!tools) {
          say('  skipped: needs smtp-source and smtp-sink\n');
          continue;
        }
        const results: CeilingRunResult[] = [];
        settings = { messages, size: 2_048, sessions: 20 };
        for (let run = 1; run <= runs; run++) {
          for (const connections of ['reuse', 'new'] as const) {
            const result = await runCeilingOnce(tools, {
              connections,
              run,
              messages,
              size: 2_048,
              sessions: 20,
            });
            results.push(result);
            say(
              `  ${connections.padEnd(6)} run ${run}: ${Math.round(result.perSecond).toLocaleString('en-US')} msg/s${result.problems.length ? `  PROBLEMS: ${result.problems.join('; ')}` : ''}\n`,
            );
          }
        }
        const reuse = figureOf(results.filter((r) => r.connections === 'reuse').map((r) => r.perSecond));
        const fresh = figureOf(results.filter((r) => r.connections === 'new').map((r) => r.perSecond));
        ceiling = reuse?.median;
        rows = [
          {
            workload: 'raw ceiling (smtp-source -> smtp-sink)',
            measure: '20 sessions, connection reused',
            unit: 'msg/s',
            ...(reuse && { ceiling: reuse.median, postfix: reuse }),
          },
          {
            workload: 'raw ceiling (smtp-source -> smtp-sink)',
            measure: '20 sessions, new connection each',
            unit: 'msg/s',
            ...(fresh && { postfix: fresh }),
          },
        ];
        runResults = results;
      } else if (workload === 'e2e' || workload === 'e2e-100k') {
        const large = workload === 'e2e-100k';
        const size = large ? 102_400 : 2_048;
        const count = large ? largeMessages : messages;
        const available: E2eMode[] = quick
          ? ['e2e']
          : large
            ? ['e2e', 'traced']
            : tools
              ? [...E2E_MODES]
              : ['e2e', 'hold', 'traced'];
        // --modes narrows the rows; a mode this workload does not run (hold at 100 KB) is skipped.
        const modes = available.filter((mode) => chosenModes.includes(mode));
        const plan = ROWS_E2E.filter(
          (row) =>
            modes.includes(row.mode) && systems.includes(row.system) && (row.system === 'outpost' || tools),
        );
        settings = {
          messages: count,
          size,
          workers,
          modes,
          injector: tools ? 'smtp-source' : 'world-load',
          receivers: tools ? 'smtp-sink' : 'node',
          dns: dns.kind,
        };
        const results: E2eRunResult[] = [];
        for (let run = 1; run <= runs; run++) {
          for (const row of plan) {
            say(`  ${`${row.system} ${row.mode} run ${run}`.padEnd(24)} `);
            const result = await runE2eOnce({
              ...row,
              run,
              messages: count,
              size,
              workers,
              ...(tools && { tools }),
              dns,
              receivers: tools ? 'smtp-sink' : 'node',
              codeRoot,
              scratch,
              // defer10 retries after up to 60 s (+20% jitter): a quiet minute there is not a stall.
              stallTimeoutMs: row.mode === 'defer10' ? 120_000 : 60_000,
              ...(quick && { quietWaitMs: 0 }),
              ...(profileDir && row.system === 'outpost' && { cpuProfileDir: profileDir }),
              notice,
            });
            results.push(result);
            say(
              `${Math.round(result.e2ePerSecond).toLocaleString('en-US').padStart(6)} msg/s end to end, ` +
                `ingest ${Math.round(result.ingestPerSecond)}/s` +
                (result.deliveryOnlyPerSecond
                  ? `, delivery only ${Math.round(result.deliveryOnlyPerSecond)}/s`
                  : '') +
                (result.goodPathPerSecond
                  ? `, other 90% ${Math.round(result.goodPathPerSecond)}/s, retry drain ${((result.retryDrainMs ?? 0) / 1000).toFixed(1)} s`
                  : '') +
                `, deferred ${result.deferred}` +
                (result.mode === 'defer10' && result.pausedWaits !== undefined
                  ? `, put back (paused) ${result.pausedWaits}`
                  : '') +
                `, load ${result.loadavg.start.one.toFixed(2)}->${result.loadavg.end.one.toFixed(2)}` +
                `${result.problems.length ? `  PROBLEMS: ${result.problems.join('; ')}` : ''}\n`,
            );
          }
        }
        rows = e2eRows(large ? 'end to end 100 KB' : 'end to end 2 KB', results, modes);
        runResults = results;
      } else if (workload === 'latency') {
        const results: LatencyRunResult[] = [];
        settings = {
          rate,
          seconds: latencySeconds,
          size: 2_048,
          workers: 1,
          receivers: 'node (X-Bench-Seq)',
          dns: dns.kind,
        };
        for (let run = 1; run <= runs; run++) {
          const result = await runLatencyOnce({
            run,
            rate,
            seconds: latencySeconds,
            size: 2_048,
            dns,
            codeRoot,
            ...(profileDir && { cpuProfileDir: profileDir }),
            notice,
          });
          results.push(result);
          say(
            `  run ${run}: p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms, ` +
              `max ${result.latencyMs.max.toFixed(0)} ms (after warm-up p99 ${result.steadyLatencyMs.p99.toFixed(1)} ms), ` +
              `offered ${result.offeredPerSecond.toFixed(0)}/s, ${result.delivered}/${result.messages} delivered` +
              `; over 50 ms: ${describeSlowSeconds(result.slowSeconds)}` +
              `${result.problems.length ? `  PROBLEMS: ${result.problems.join('; ')}` : ''}\n`,
          );
        }
        const name = `latency at ${rate} msg/s`;
        const of = (value: (run: LatencyRunResult) => number) => figureOf(results.map(value));
        rows = [
          {
            workload: name,
            measure: 'p50 enqueue to delivered',
            unit: 'ms',
            ...optional(
              'outpost',
              of((r) => r.latencyMs.p50),
            ),
          },
          {
            workload: name,
            measure: 'p99 enqueue to delivered',
            unit: 'ms',
            ...optional(
              'outpost',
              of((r) => r.latencyMs.p99),
            ),
          },
          {
            workload: name,
            measure: 'p99 after the first 10%',
            unit: 'ms',
            ...optional(
              'outpost',
              of((r) => r.steadyLatencyMs.p99),
            ),
          },
          {
            workload: name,
            measure: 'p99 ingest answer to the final dot',
            unit: 'ms',
            ...optional(
              'outpost',
              of((r) => r.acceptMs.p99),
            ),
          },
        ];
        runResults = results;
      } else if (workload === 'backlog') {
        const results: BacklogRunResult[] = [];
        settings = { messages: backlogMessages, size: 2_048, workers };
        for (let run = 1; run <= runs; run++) {
          const result = await runBacklogOnce({
            run,
            messages: backlogMessages,
            size: 2_048,
            workers,
            ...(tools && { tools }),
            dns,
            codeRoot,
            notice,
          });
          results.push(result);
          say(
            `  run ${run}: filled at ${Math.round(result.fillPerSecond)}/s, ${Math.round(result.bytesPerMessage)} B/msg in Redis ` +
              `(${Math.round(result.bytesPerMessageBeyondBody)} beyond the ${Math.round(result.storedBodyBytes)} B stored message), ` +
              `drained in ${(result.drainMs / 1000).toFixed(1)} s (${Math.round(result.drainPerSecond)}/s)` +
              `${result.problems.length ? `  PROBLEMS: ${result.problems.join('; ')}` : ''}\n`,
          );
        }
        const of = (value: (run: BacklogRunResult) => number) => figureOf(results.map(value));
        const name = 'backlog';
        rows = [
          {
            workload: name,
            measure: `Redis memory per queued message (${backlogMessages.toLocaleString('en-US')} queued)`,
            unit: 'B',
            ...optional(
              'outpost',
              of((r) => r.bytesPerMessage),
            ),
          },
          {
            workload: name,
            measure: 'Redis memory per queued message beyond the body',
            unit: 'B',
            ...optional(
              'outpost',
              of((r) => r.bytesPerMessageBeyondBody),
            ),
          },
          {
            workload: name,
            measure: 'filling the queue (flow writer, fsync)',
            unit: 'msg/s',
            ...optional(
              'outpost',
              of((r) => r.fillPerSecond),
            ),
          },
          {
            workload: name,
            measure: 'draining it',
            unit: 'msg/s',
            ...optional(
              'outpost',
              of((r) => r.drainPerSecond),
            ),
          },
          {
            workload: name,
            measure: 'time to drain',
            unit: 's',
            ...optional(
              'outpost',
              of((r) => r.drainMs / 1000),
            ),
          },
          {
            workload: name,
            measure: 'peak RSS, delivery worker',
            unit: 'MiB',
            ...optional(
              'outpost',
              of((r) => Math.max(...r.workerRssPeakBytes) / MIB),
            ),
          },
        ];
        runResults = results;
      }
      const report: WorkloadReport = {
        benchmark: 'compare',
        workload,
        date: started.toISOString(),
        command,
        machine,
        versions,
        loadavg: { start: wait.first, end: loadAverage(), waitedMs: wait.waitedMs, busyAtStart: wait.busy },
        settings,
        rows,
        runs: runResults,
      };
      reports.push(report);
      allRows.push(...rows);
      mkdirSync(outDir, { recursive: true });
      writeFileSync(
        join(outDir, resultFileName(report.date, workload)),
        `${JSON.stringify(report, null, 2)}\n`,
      );
    }
  } finally {
    await dns.stop();
    snapshot?.remove();
    rmSync(scratch, { recursive: true, force: true });
  }

  // The ceiling of this run, else of the latest full run.
  const latest = quick ? reports : latestReports(outDir);
  ceiling ??= latest.find((report) => report.workload === 'ceiling')?.rows[0]?.ceiling;
  const withCeiling = (rows: Row[]) =>
    rows.map((row) =>
      row.unit === 'msg/s' &&
      ceiling &&
      !row.workload.startsWith('raw') &&
      !row.workload.startsWith('backlog')
        ? { ...row, ceiling }
        : row,
    );
  say(`\n${comparisonTable(withCeiling(allRows))}\n`);
  if (quick) {
    const e2e = allRows.find((row) => row.measure === 'end to end')?.outpost?.median;
    say(
      `\nquick: ${Math.round(e2e ?? Number.NaN).toLocaleString('en-US')} msg/s end to end (${messages.toLocaleString('en-US')} x 2 KB, ${workers} worker)\n`,
    );
    return;
  }
  const merged = latestReports(outDir).map((report) => ({ ...report, rows: withCeiling(report.rows) }));
  const targets = judgeTargets(
    merged.flatMap((report) => report.rows),
    { scaling: deliveryScaling(outDir) },
  );
  say(`\n${targetsTable(targets)}\n`);
  if (outDir === RESULTS_DIR) {
    writeFileSync(
      join(RESULTS_DIR, '..', 'RESULTS.md'),
      resultsMarkdown(merged, targets, [...notes, ...reportNotes(merged)], findings()),
    );
    say(`\nWrote bench/RESULTS.md and results/<date>-<workload>.json\n`);
  }
}

/** "35 in second 0 (max 255 ms), 1 in second 8 (max 57 ms)": where a latency run's tail is. */
function describeSlowSeconds(seconds: LatencyRunResult['slowSeconds']): string {
  if (seconds.length === 0) return 'none';
  const shown = seconds
    .slice(0, 6)
    .map(({ second, count, maxMs }) => `${count} in second ${second} (max ${maxMs.toFixed(0)} ms)`);
  return `${shown.join(', ')}${seconds.length > 6 ? `, and in ${seconds.length - 6} more seconds` : ''}`;
}
