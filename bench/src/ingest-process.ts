/**
 * Bench-only ingest entry: what `outpost ingest` does, but with the storage design picked by
 * BENCH_STORAGE (flow | body-first). Configuration comes from the OUTPOST_* environment as usual.
 *
 * Talks to the benchmark over stdio, one line per message:
 *   stdout  READY {"port":..,"httpPort":..,"durability":..,"storage":..}   once listening
 *   stdin   "baseline"  weigh the heap after a full GC (before the load starts)
 *   stdin   "mark"   start a measurement window (writer timings, event-loop utilisation)
 *   stdin   "stats"  -> stdout STATS {...} for the window since "mark"
 *   stdin   closed (the benchmark died) -> kill its Redis (BENCH_REDIS_PID, BENCH_REDIS_DIR), stop, exit
 *   SIGTERM/SIGINT -> stop and exit
 * Logs go to stderr so stdout stays machine-readable.
 */

import { readFileSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { loadConfig } from '@outpost/config';
import { type Ingest, type IngestOptions, startIngest } from '@outpost/ingest';
import { createBodyFirstMessageWriter, createFlowMessageWriter, type Durability } from '@outpost/queue';
import { createLogger, setupTracing } from '@outpost/telemetry';
import { percentile } from './stats.ts';

type WriterFactory = NonNullable<IngestOptions['writerFactory']>;

const STORAGE_DESIGNS = {
  flow: createFlowMessageWriter,
  'body-first': createBodyFirstMessageWriter,
} as const satisfies Record<string, WriterFactory>;

type StorageDesign = keyof typeof STORAGE_DESIGNS;

export interface IngestStats {
  writes: number;
  /** Time inside MessageWriter.write: the Redis round trip(s), fsync included. */
  writeMs: { p50: number; p99: number; mean: number };
  /** Share of the window the event loop was busy (1 = CPU-bound on its one thread). */
  eventLoopUtilization: number;
  cpuMs: { user: number; system: number };
  /** V8 heap in use after a full GC, before the load and after it: growth is what the load left behind. */
  heapAfterGcBytes: { before: number; after: number };
}

// The benchmark starts this process with --expose-gc, to weigh the heap without its garbage.
const collectedHeap = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
};

const storage = (process.env.BENCH_STORAGE ?? 'flow') as StorageDesign;
const factory: WriterFactory | undefined = STORAGE_DESIGNS[storage];
if (!factory) {
  process.stderr.write(`BENCH_STORAGE must be one of ${Object.keys(STORAGE_DESIGNS).join(', ')}\n`);
  process.exit(2);
}

// The writer is wrapped only to time write(): two performance.now() calls and a push per message.
let writeTimes: number[] = [];
let durability: Durability | undefined;
const timedFactory: WriterFactory = (redis, resolved, onConnectionError) => {
  durability = resolved;
  const writer = factory(redis, resolved, onConnectionError);
  return {
    async write(message) {
      const started = performance.now();
      try {
        await writer.write(message);
      } finally {
        writeTimes.push(performance.now() - started);
      }
    },
    close: () => writer.close(),
  };
};

const config = loadConfig(process.env);
const logger = createLogger({ service: 'ingest', level: config.logLevel, destination: process.stderr });
// As `outpost ingest`: traces exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the
// benchmark's traced mode), a no-op tracer otherwise.
const tracing = setupTracing({ serviceName: 'outpost-ingest' });
let ingest: Ingest | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    setTimeout(() => process.exit(code || 1), 5_000).unref();
    await ingest
      ?.stop()
      .catch((error: unknown) => logger.error({ err: error }, 'ingest did not stop cleanly'));
    await tracing.shutdown().catch(() => {});
  }
  process.exit(code);
}

process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));

let windowStart = {
  elu: performance.eventLoopUtilization(),
  cpu: process.cpuUsage(),
  heap: 0,
};

const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (line === 'baseline') {
    windowStart.heap = collectedHeap();
  } else if (line === 'mark') {
    writeTimes = [];
    windowStart = { ...windowStart, elu: performance.eventLoopUtilization(), cpu: process.cpuUsage() };
  } else if (line === 'stats') {
    const sorted = [...writeTimes].sort((a, b) => a - b);
    const cpu = process.cpuUsage(windowStart.cpu);
    const stats: IngestStats = {
      writes: sorted.length,
      writeMs: {
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        mean: sorted.reduce((sum, value) => sum + value, 0) / (sorted.length || 1),
      },
      eventLoopUtilization: performance.eventLoopUtilization(windowStart.elu).utilization,
      cpuMs: { user: cpu.user / 1000, system: cpu.system / 1000 },
      heapAfterGcBytes: { before: windowStart.heap, after: collectedHeap() },
    };
    process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
  }
});
// The benchmark is gone without stopping us (kill -9), so it never stopped its Redis either: do it
// for it, after checking that the pid is still that redis-server.
function benchmarkGone(): void {
  const redisPid = Number(process.env.BENCH_REDIS_PID);
  if (!stopping && redisPid > 0) {
    try {
      if (readFileSync(`/proc/${redisPid}/cmdline`, 'latin1').includes('redis-server')) {
        process.kill(redisPid, 'SIGKILL');
      }
    } catch {
      // already gone
    }
    const redisDir = process.env.BENCH_REDIS_DIR;
    if (redisDir && basename(redisDir).startsWith('outpost-redis-'))
      rmSync(redisDir, { recursive: true, force: true });
  }
  void stop(0);
}
commands.on('close', benchmarkGone);
// Writing to the closed pipes (a log line as the load generator's connections drop) fails with EPIPE.
process.stdout.on('error', benchmarkGone);
process.stderr.on('error', benchmarkGone);

try {
  ingest = await startIngest({ config, logger, tracer: tracing.tracer, writerFactory: timedFactory });
} catch (error) {
  logger.fatal({ err: error }, 'ingest failed to start');
  process.exit(1);
}
process.stdout.write(
  `READY ${JSON.stringify({
    port: ingest.addresses.smtp.port,
    httpPort: ingest.addresses.http.port,
    durability,
    storage,
    pid: process.pid,
  })}\n`,
);
