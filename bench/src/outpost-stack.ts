/**
 * Outpost as the comparison runs it: a fresh redis-server (AOF, appendfsync always), ingest
 * (`ingest-process.ts`: startIngest with the production flow writer and durability fsync) and N
 * delivery workers (`outpost delivery`, unchanged), each its own process, all on loopback.
 */
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { freePort, TestRedis } from '@outpost/testing';
import { type DeliverySettings, workerEnv } from './delivery-bench.ts';
import { benchNodeArgs, deployedEnvironment } from './deployed-node-options.ts';
import { entryPoints } from './entry-points.ts';
import { memoryOf, type NodeChild, onAbort, spawnNode } from './processes.ts';

export interface StackOptions {
  codeRoot: string;
  /** OUTPOST_DNS_SERVERS for the workers. */
  dnsServer: string;
  /** OUTPOST_DELIVERY_PORT: where the receivers listen. */
  deliveryPort: number;
  workers: number;
  /** Start ingest (the backlog workload fills Redis directly and needs none). */
  ingest: boolean;
  cpuProfileDir?: string;
  profileLabel?: string;
  /** Settings of the workers that differ from the benchmark's usual ones (workerEnv). */
  workerEnv?: Record<string, string>;
  /** OTEL_EXPORTER_OTLP_ENDPOINT of ingest and the workers: traces exported there (none when unset). */
  otlpEndpoint?: string;
}

export interface OutpostStack {
  redis: TestRedis;
  ingest?: { child: NodeChild; port: number };
  workers: NodeChild[];
  healthPorts: number[];
  /** Starts the workers (when `workers` was 0 at start, or to add more later). */
  startWorkers(count: number): Promise<void>;
  /** VmHWM of ingest and of each worker, in bytes. */
  rssPeaks(): { ingest: number; workers: number[] };
  stop(): Promise<void>;
}

/** The delivery benchmark's worker settings (windows 20/50, retries 1-2 s, production otherwise). */
export const WORKER_SETTINGS = { concurrency: 50, windowStart: 20, windowMax: 50 } as const;

async function waitUntilReady(worker: NodeChild, healthPort: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) {
      throw new Error(
        `delivery worker exited (code ${worker.child.exitCode}): ${worker.stderr().trim()}\n${worker.otherLines().slice(-20).join('\n')}`,
      );
    }
    const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.status === 200)
      .catch(() => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`delivery worker not ready within 60 s: ${worker.stderr().trim()}`);
}

export async function startOutpost(options: StackOptions): Promise<OutpostStack> {
  const programs = await entryPoints(options.codeRoot);
  const redis = await TestRedis.start({ appendfsync: 'always' });
  const forget = onAbort(() => {
    if (redis.pid !== undefined) process.kill(redis.pid, 'SIGKILL');
    rmSync(redis.dir, { recursive: true, force: true });
  });
  const workers: NodeChild[] = [];
  const healthPorts: number[] = [];
  let ingest: OutpostStack['ingest'];
  const profileArgs = (name: string) =>
    options.cpuProfileDir
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${options.cpuProfileDir}`,
          `--cpu-prof-name=${options.profileLabel ?? 'run'}-${name}.cpuprofile`,
        ]
      : [];

  const startWorkers = async (count: number) => {
    const started: Promise<void>[] = [];
    for (let index = 0; index < count; index++) {
      const healthPort = await freePort('127.0.0.1');
      const env = workerEnv({ ...WORKER_SETTINGS } as DeliverySettings, {
        redisUrl: redis.url,
        dns: options.dnsServer,
        port: options.deliveryPort,
        healthPort,
      });
      Object.assign(env, deployedEnvironment(options.codeRoot), tracingEnv(options), options.workerEnv);
      const worker = spawnNode(programs.cli, ['delivery'], {
        env,
        nodeArgs: [
          '--expose-gc',
          '--import',
          pathToFileURL(programs.probe).href,
          ...profileArgs(`worker${workers.length + 1}`),
          ...benchNodeArgs(options.codeRoot, 'worker'),
        ],
      });
      workers.push(worker);
      healthPorts.push(healthPort);
      started.push(waitUntilReady(worker, healthPort));
    }
    await Promise.all(started);
  };

  const stop = async () => {
    await Promise.all(workers.map((worker) => worker.stop(15_000)));
    await ingest?.child.stop();
    await redis.stop();
    forget();
  };

  try {
    if (options.ingest) {
      const child = spawnNode(programs.ingest, [], {
        env: {
          PATH: process.env.PATH ?? '',
          OUTPOST_ENV: 'development',
          OUTPOST_HOSTNAME: 'bench.outpost.test',
          REDIS_URL: redis.url,
          OUTPOST_REDIS_DURABILITY: 'fsync',
          OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
          OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
          LOG_LEVEL: 'warn',
          BENCH_STORAGE: 'flow',
          BENCH_REDIS_PID: String(redis.pid),
          BENCH_REDIS_DIR: redis.dir,
          ...deployedEnvironment(options.codeRoot),
          ...tracingEnv(options),
        },
        nodeArgs: ['--expose-gc', ...profileArgs('ingest'), ...benchNodeArgs(options.codeRoot, 'ingest')],
      });
      const ready = await child.nextLine<{ port: number }>('READY ', 60_000);
      ingest = { child, port: ready.port };
    }
    await startWorkers(options.workers);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    redis,
    ...(ingest && { ingest }),
    workers,
    healthPorts,
    startWorkers,
    rssPeaks: () => ({
      ingest: memoryOf(ingest?.child.child.pid)?.peak ?? Number.NaN,
      workers: workers.map((worker) => memoryOf(worker.child.pid)?.peak ?? Number.NaN),
    }),
    stop,
  };
}

function tracingEnv(options: StackOptions): Record<string, string> {
  return options.otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: options.otlpEndpoint } : {};
}

/** Recipient outcomes by verdict and jobs put back by reason, summed over the workers' metrics. */
export async function workerCounts(
  healthPorts: number[],
): Promise<{ verdicts: Record<string, number>; waits: Record<string, number> }> {
  const { attemptsFromMetrics, waitsFromMetrics } = await import('./delivery-bench.ts');
  const verdicts: Record<string, number> = {};
  const waits: Record<string, number> = {};
  const add = (into: Record<string, number>, counts: Record<string, number>) => {
    for (const [key, count] of Object.entries(counts)) into[key] = (into[key] ?? 0) + count;
  };
  for (const port of healthPorts) {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) })
      .then((response) => response.text())
      .catch(() => '');
    add(verdicts, attemptsFromMetrics(text));
    add(waits, waitsFromMetrics(text));
  }
  return { verdicts, waits };
}
