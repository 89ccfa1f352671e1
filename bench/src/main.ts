/**
 * `npm run bench -- ingest [options]`: SMTP and HTTP ingest (see USAGE).
 * `npm run bench -- delivery [options]`: delivery workers (delivery-main.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isRedisServerInstalled, REDIS_MISSING_MESSAGE } from '@outpost/testing';
import {
  listOption,
  positiveInteger,
  RESULTS_DIR,
  redisVersion,
  timestamp,
  UsageError,
  versionAtLeast,
} from './cli-options.ts';
import { compareBenchmark } from './compare-main.ts';
import { deliveryBenchmark } from './delivery-main.ts';
import { HTTP_BODIES, type HttpBody } from './http-load.ts';
import {
  FSYNC_POLICIES,
  type FsyncPolicy,
  label,
  PROTOCOLS,
  type Protocol,
  type RunResult,
  type RunSettings,
  runOnce,
  STORAGE_DESIGNS,
  type StorageDesign,
} from './ingest-bench.ts';
import { machineInfo, REPO_ROOT } from './machine.ts';
import { installCleanupHandlers, onAbort } from './processes.ts';
import {
  DIAGNOSTIC_COLUMNS,
  fsyncLabel,
  MAIN_COLUMNS,
  markdownReport,
  POSTFIX_MSG_PER_SECOND,
  type Report,
  summarize,
  TARGET_MSG_PER_SECOND,
  verdicts,
} from './report.ts';
import { createSnapshot, resolveCommit } from './snapshot.ts';
import { sourceWarning, textTable } from './tables.ts';

const USAGE = `usage: npm run bench -- ingest [options]
       npm run bench -- delivery [options]   (npm run bench -- delivery --help)
       npm run bench -- compare [options]    (npm run bench -- compare --help: Outpost vs Postfix)
       npm run bench -- --quick              (a few seconds: Outpost end to end, msg/s)

  --messages N         messages per run (default 20000; --quick: 2000)
  --connections N      concurrent SMTP connections (default 20)
  --runs N             runs per row (default 3; --quick: 1)
  --size BYTES         message size as submitted; the HTTP request's JSON size (default 2048)
  --storage LIST       flow,body-first: the SMTP rows (default both)
  --fsync LIST         always,everysec: the SMTP rows (default both)
  --protocol LIST      smtp,http (default both)
  --http-messages N    requests per HTTP run (default: --messages)
  --http-concurrency N HTTP requests in flight, one keep-alive connection each (default 50)
  --http-body LIST     composed,raw: {from, to, subject, text} or a complete message (default composed)
  --http-fsync LIST    always,everysec: the HTTP rows, all with flow storage (default always)
  --quick              a small run to check the harness; results go to bench/results/tmp/
  --max-other-cpu PCT  redo a run when processes outside the benchmark used more CPU than this
                       during it, in % of one core (default 10; the machine may be shared)
  --retries N          how often to redo such a run before keeping it anyway (default 4)
  --snapshot           benchmark a copy of the code taken at the start, not the live working tree
                       (for a tree that others are editing while the benchmark runs)
  --at COMMIT          benchmark that commit (a copy of its tree; HEAD, a branch or an id), to pair
                       it with the working tree on the same machine
  --cpu-prof           write a V8 CPU profile of each ingest process to bench/results/tmp/profiles/
  --out DIR            where to write the results (default bench/results/)

  BENCH_NODE_ARGS="--max-old-space-size=128 ..."  extra Node flags for the ingest process only
  BENCH_WORKER_NODE_ARGS="..."                     the same for the delivery workers (every benchmark)
`;

async function ingestBenchmark(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string' },
      connections: { type: 'string' },
      runs: { type: 'string' },
      size: { type: 'string' },
      storage: { type: 'string' },
      fsync: { type: 'string' },
      protocol: { type: 'string' },
      'http-messages': { type: 'string' },
      'http-concurrency': { type: 'string' },
      'http-body': { type: 'string' },
      'http-fsync': { type: 'string' },
      quick: { type: 'boolean', default: false },
      'max-other-cpu': { type: 'string' },
      retries: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      snapshot: { type: 'boolean', default: false },
      at: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const quick = values.quick;
  const messages = positiveInteger(values.messages, quick ? 2_000 : 20_000, 'messages');
  const connections = positiveInteger(values.connections, 20, 'connections');
  const runs = positiveInteger(values.runs, quick ? 1 : 3, 'runs');
  const messageSize = positiveInteger(values.size, 2_048, 'size');
  const storages = listOption<StorageDesign>(values.storage, STORAGE_DESIGNS, 'storage');
  const fsyncs = listOption<FsyncPolicy>(values.fsync, FSYNC_POLICIES, 'fsync');
  const protocols = listOption<Protocol>(values.protocol, PROTOCOLS, 'protocol');
  const httpMessages = positiveInteger(values['http-messages'], messages, 'http-messages');
  const httpConcurrency = positiveInteger(values['http-concurrency'], 50, 'http-concurrency');
  const httpBodies = listOption<HttpBody>(values['http-body'], HTTP_BODIES, 'http-body', ['composed']);
  const httpFsyncs = listOption<FsyncPolicy>(values['http-fsync'], FSYNC_POLICIES, 'http-fsync', ['always']);
  const maxOtherCpu = positiveInteger(values['max-other-cpu'], 10, 'max-other-cpu');
  const retries = values.retries === '0' ? 0 : positiveInteger(values.retries, 4, 'retries');
  const outDir = values.out ?? (quick ? join(RESULTS_DIR, 'tmp') : RESULTS_DIR);
  const profileDir = values['cpu-prof'] ? join(RESULTS_DIR, 'tmp', 'profiles') : undefined;

  if (!isRedisServerInstalled()) throw new Error(REDIS_MISSING_MESSAGE);
  installCleanupHandlers();
  const redis = redisVersion();
  const redisHasWaitAof = versionAtLeast(redis, '7.2.0');
  const atCommit = values.at === undefined ? undefined : resolveCommit(REPO_ROOT, values.at);
  const machine = machineInfo(redis, atCommit);
  const started = new Date();
  const command = ['npm run bench --', 'ingest', ...argv].join(' ');

  process.stdout.write(
    'Ingest benchmark: ' +
      (protocols.includes('smtp')
        ? `SMTP ${messages.toLocaleString('en-US')} messages x ${messageSize} B over ${connections} ` +
          `connections, ${storages.join(', ')} x appendfsync ${fsyncs.join(', ')}; `
        : '') +
      (protocols.includes('http')
        ? `HTTP ${httpMessages.toLocaleString('en-US')} requests (${httpBodies.join(', ')}) x ~${messageSize} B, ` +
          `${httpConcurrency} in flight, flow x appendfsync ${httpFsyncs.join(', ')}; `
        : '') +
      `${runs} run(s) of each\n` +
      `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, Redis ${redis}` +
      `${redisHasWaitAof ? '' : ' (no WAITAOF: everysec runs with OUTPOST_REDIS_DURABILITY=none, not durable)'}\n\n`,
  );
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const snapshot = atCommit || values.snapshot ? createSnapshot(REPO_ROOT, atCommit) : undefined;
  if (snapshot) {
    onAbort(snapshot.remove);
    process.stdout.write(`Benchmarking a snapshot of the code: ${snapshot.root}\n\n`);
  }

  // The rows: SMTP for every storage design and fsync policy, HTTP with the services' design (flow).
  type Row = Pick<RunSettings, 'protocol' | 'httpBody' | 'storage' | 'fsync' | 'messages' | 'connections'>;
  const rows: Row[] = [];
  if (protocols.includes('smtp')) {
    for (const storage of storages) {
      for (const fsync of fsyncs) rows.push({ protocol: 'smtp', storage, fsync, messages, connections });
    }
  }
  if (protocols.includes('http')) {
    for (const httpBody of httpBodies) {
      for (const fsync of httpFsyncs) {
        const row = { protocol: 'http' as const, httpBody, storage: 'flow' as const, fsync };
        rows.push({ ...row, messages: httpMessages, connections: httpConcurrency });
      }
    }
  }

  // Round-robin over the configurations, so slow drift on the machine hits them all alike.
  const results: RunResult[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const row of rows) {
      const settings: RunSettings = {
        ...row,
        run,
        messageSize,
        redisHasWaitAof,
        ...(profileDir && { cpuProfileDir: profileDir }),
        notice: (text: string) => process.stdout.write(`(${text}) `),
        ...(snapshot && { codeRoot: snapshot.root }),
      };
      process.stdout.write(`  ${label(settings).padEnd(36)} `);
      let result = await runOnce(settings);
      for (let retry = 1; retry <= retries && result.machine.otherPercent > maxOtherCpu; retry++) {
        process.stdout.write(
          `(redone: other processes used ${result.machine.otherPercent.toFixed(0)}% CPU during it) `,
        );
        result = { ...(await runOnce(settings)), attempts: retry + 1 };
      }
      results.push(result);
      const { load } = result;
      process.stdout.write(
        `${Math.round(load.acceptedPerSecond).toLocaleString('en-US').padStart(6)} msg/s  ` +
          `p50 ${load.latencyMs.p50.toFixed(1)} ms  p99 ${load.latencyMs.p99.toFixed(1)} ms  ` +
          `ingest CPU ${result.ingest.cpuPercent.toFixed(0)}%  Redis CPU ${result.redis.cpuPercent.toFixed(0)}%  ` +
          `other CPU ${result.machine.otherPercent.toFixed(0)}%  speed ${result.machine.cpuSpeedIndex}  ` +
          `${load.failed} failed${result.check.ok ? '' : '  STORE CHECK FAILED'}\n`,
      );
    }
  }

  snapshot?.remove();
  const summary = summarize(results, redis);
  const report: Report = {
    benchmark: 'ingest',
    date: started.toISOString(),
    command,
    machine,
    workload: {
      messages,
      connections,
      messageSize,
      runs,
      recipientsPerMessage: '1-3 recipients at 4 domains',
      ...(protocols.includes('http') && {
        http: { messages: httpMessages, concurrency: httpConcurrency, bodies: httpBodies, runs },
      }),
    },
    reference: { postfixMsgPerSecond: POSTFIX_MSG_PER_SECOND, targetMsgPerSecond: TARGET_MSG_PER_SECOND },
    summary,
    runs: results,
  };
  process.stdout.write(
    `\n${textTable(summary, MAIN_COLUMNS)}\n\n${verdicts(summary).join('\n')}\n\n` +
      `Where the time goes:\n${textTable(summary, DIAGNOSTIC_COLUMNS)}\n`,
  );
  const changed = sourceWarning(results);
  if (changed) process.stdout.write(`\n${changed}\n`);
  if (!redisHasWaitAof && [...fsyncs, ...httpFsyncs].includes('everysec')) {
    process.stdout.write(`Note: ${fsyncLabel('everysec', 'none', redis)}.\n`);
  }

  mkdirSync(outDir, { recursive: true });
  const base = quick ? `ingest-quick-${timestamp(started)}` : `ingest-${timestamp(started)}`;
  const jsonPath = join(outDir, `${base}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  const markdownPath = join(outDir, quick ? 'ingest-quick-latest.md' : 'ingest-latest.md');
  writeFileSync(markdownPath, markdownReport(report));
  process.stdout.write(`\nWrote ${jsonPath}\n  and ${markdownPath}\n`);
  if (results.some((result) => result.load.failed > 0 || !result.check.ok)) process.exitCode = 1;
}

const [benchmark, ...rest] = process.argv.slice(2);
try {
  if (benchmark === 'ingest') await ingestBenchmark(rest);
  else if (benchmark === 'delivery') await deliveryBenchmark(rest);
  else if (benchmark === 'compare') await compareBenchmark(rest);
  else if (benchmark === '--quick') await compareBenchmark(rest, true);
  else {
    process.stderr.write(`${benchmark ? `unknown benchmark "${benchmark}"\n` : ''}${USAGE}`);
    process.exitCode = 2;
  }
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`\n${benchmark} benchmark failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
