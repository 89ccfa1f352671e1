/**
 * The ingest benchmark: for each storage design and Redis fsync policy, a fresh Redis, a fresh ingest
 * process and a load-generator process; the three share the machine's cores but no event loop.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateApiKey } from '@outpost/ingest';
import { parseRedisInfo } from '@outpost/queue';
import { TestRedis } from '@outpost/testing';
import { benchNodeArgs, deployedEnvironment } from './deployed-node-options.ts';
import { entryPoints } from './entry-points.ts';
import type { HttpBody, HttpLoadOptions } from './http-load.ts';
import type { IngestStats } from './ingest-process.ts';
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
import type { LoadOptions, LoadResult } from './smtp-load.ts';

export const STORAGE_DESIGNS = ['flow', 'body-first'] as const;
export type StorageDesign = (typeof STORAGE_DESIGNS)[number];
export const FSYNC_POLICIES = ['always', 'everysec'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];
export type Durability = 'fsync' | 'waitaof' | 'none';
export const PROTOCOLS = ['smtp', 'http'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

const LOAD_SCRIPT = join('bench', 'src', 'smtp-load.ts');
const HTTP_LOAD_SCRIPT = join('bench', 'src', 'http-load.ts');
const HOSTNAME = 'bench.outpost.test';

export interface RunSettings {
  /** How the load comes in: SMTP (plain, pipelined) or the HTTP API (POST /v1/messages). */
  protocol: Protocol;
  /** HTTP only: the request form, parts (`composed`) or a complete message (`raw`). */
  httpBody?: HttpBody;
  storage: StorageDesign;
  fsync: FsyncPolicy;
  /** 1-based, within its (storage, fsync) pair. */
  run: number;
  messages: number;
  /** SMTP connections, or HTTP requests in flight (one keep-alive connection each). */
  connections: number;
  messageSize: number;
  /** Redis >= 7.2 has WAITAOF, which makes everysec durable. */
  redisHasWaitAof: boolean;
  /** node --cpu-prof for the ingest process, written into this directory. */
  cpuProfileDir?: string;
  /** Where the code under test is: the repository, or a snapshot of it. */
  codeRoot?: string;
  /** Progress notes (waiting for a quiet machine). */
  notice?: (text: string) => void;
}

/** A run starts only once other processes use less than this much CPU (in cores), or after a wait. */
const QUIET_MACHINE_CORES = 0.15;
const QUIET_MACHINE_MAX_WAIT_MS = 180_000;

export interface RunResult {
  protocol: Protocol;
  httpBody?: HttpBody;
  /** SMTP connections or HTTP requests in flight. */
  connections: number;
  storage: StorageDesign;
  fsync: FsyncPolicy;
  durability: Durability;
  run: number;
  /** 1, or more when runs disturbed by other processes on the machine were redone. */
  attempts: number;
  /** sourceFingerprint() when the run started: the code under test. */
  sourceFingerprint: string;
  load: LoadResult;
  ingest: {
    /** VmHWM at the end: the kernel's record of the process's peak RSS. */
    rssPeakBytes: number;
    /** Largest VmRSS seen sampling every 100 ms during the load. */
    rssSampledMaxBytes: number;
    rssAtReadyBytes: number;
    /** CPU time over the load window / its wall time (100% = one core). */
    cpuPercent: number;
    /** read()/write() system calls per accepted message (/proc/PID/io), SMTP and Redis sockets alike. */
    syscallsPerMessage: { reads: number; writes: number };
    stats: IngestStats;
  };
  redis: {
    usedMemoryBefore: number;
    usedMemoryAfter: number;
    bytesPerMessage: number;
    cpuPercent: number;
    /** CPU of the AOF rewrite children Redis forked (and reaped) during the load. */
    rewriteCpuPercent: number;
    syscallsPerMessage: { reads: number; writes: number };
    /** Redis commands per accepted message (INFO commandstats), e.g. evalsha, exec. */
    commandsPerMessage: Record<string, number>;
    forks: number;
    aofBytes: number;
    /** BullMQ's event streams ({outpost}:<queue>:events), capped at ~10,000 entries each: part of used_memory. */
    eventStreams: { bytes: number; entries: number };
  };
  loadgen: { cpuPercent: number };
  /** The whole machine during the load, in % of one core; "other" is CPU no benchmark process used. */
  machine: {
    busyPercent: number;
    otherPercent: number;
    stealPercent: number;
    busyBeforeRunPercent: number;
    /** cpuSpeedIndex() just before the run: compare runs only when these are alike. */
    cpuSpeedIndex: number;
  };
  /** What is in Redis afterwards, against what the accepted messages should have created. */
  check: {
    messagesExpected: number;
    messagesFound: number;
    deliveryJobsExpected: number;
    deliveryJobsFound: number;
    ok: boolean;
  };
}

type RedisClient = ReturnType<TestRedis['client']>;

async function info(client: RedisClient, section: string): Promise<Record<string, string>> {
  return parseRedisInfo(await client.info(section));
}

async function countKeys(client: RedisClient, pattern: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 5_000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

/**
 * The stored messages and delivery jobs (BullMQ key names). Both designs keep one body key per
 * message; a flow's one-domain message has no message job to count (a solo delivery job).
 */
async function countStored(client: RedisClient) {
  const deliveryJobsFound = await client.llen('{outpost}:delivery:wait');
  const messagesFound = await countKeys(client, '{outpost}:body:*');
  return { messagesFound, deliveryJobsFound };
}

async function eventStreams(client: RedisClient): Promise<{ bytes: number; entries: number }> {
  let bytes = 0;
  let entries = 0;
  for (const queue of ['message', 'delivery']) {
    const key = `{outpost}:${queue}:events`;
    bytes += Number((await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    entries += await client.xlen(key);
  }
  return { bytes, entries };
}

/** Redis commands per message from INFO commandstats, without the benchmark's own bookkeeping. */
export function commandCounts(
  commandstats: Record<string, string>,
  messages: number,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [key, value] of Object.entries(commandstats)) {
    const calls = Number(value.match(/calls=(\d+)/)?.[1] ?? 0);
    const name = key.replace(/^cmdstat_/, '');
    // The benchmark's own bookkeeping, not ingest's.
    if (/^(info|config|ping|scan|llen|zcard|client)\b/.test(name) || messages === 0) continue;
    const perMessage = Math.round((calls / messages) * 100) / 100;
    if (perMessage > 0) counts[name] = perMessage; // drops one-off calls such as loading the scripts
  }
  return counts;
}

export function durabilityFor(fsync: FsyncPolicy, redisHasWaitAof: boolean): Durability {
  if (fsync === 'always') return 'fsync';
  return redisHasWaitAof ? 'waitaof' : 'none';
}

/** One measured run: fresh Redis, fresh ingest, the whole workload once. */
export async function runOnce(settings: RunSettings): Promise<RunResult> {
  const busyBeforeRun = await waitForQuietMachine(QUIET_MACHINE_CORES, QUIET_MACHINE_MAX_WAIT_MS, (cores) =>
    settings.notice?.(`waiting for the machine to be quiet (other processes use ${cores.toFixed(2)} cores)`),
  );
  const speed = cpuSpeedIndex();
  const codeRoot = settings.codeRoot ?? REPO_ROOT;
  const fingerprint = sourceFingerprint(codeRoot);
  const redis = await TestRedis.start({ appendfsync: settings.fsync });
  const forget = onAbort(() => {
    if (redis.pid !== undefined) process.kill(redis.pid, 'SIGKILL');
    rmSync(redis.dir, { recursive: true, force: true });
  });
  const children: NodeChild[] = [];
  try {
    const durability = durabilityFor(settings.fsync, settings.redisHasWaitAof);
    // A fresh key per run, unlimited so that the rate limiter does not take part (it is skipped
    // without a Redis call for unlimited keys). Only its hash goes to ingest.
    const apiKey = generateApiKey({ name: 'bench', senders: ['*'], rate: 'unlimited' });
    const ingest = spawnNode((await entryPoints(codeRoot)).ingest, [], {
      env: {
        PATH: process.env.PATH ?? '',
        OUTPOST_ENV: 'development',
        OUTPOST_HOSTNAME: HOSTNAME,
        REDIS_URL: redis.url,
        OUTPOST_REDIS_DURABILITY: durability,
        OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
        OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
        OUTPOST_API_KEYS: apiKey.entry,
        LOG_LEVEL: 'warn',
        BENCH_STORAGE: settings.storage,
        BENCH_REDIS_PID: String(redis.pid),
        BENCH_REDIS_DIR: redis.dir,
        ...deployedEnvironment(codeRoot),
      },
      // --expose-gc only lets the heap be weighed after the load; nothing calls gc() during it.
      nodeArgs: [
        '--expose-gc',
        // The image's flags, then BENCH_NODE_ARGS (e.g. heap limits) for the ingest process only.
        ...benchNodeArgs(codeRoot, 'ingest'),
        ...(settings.cpuProfileDir
          ? [
              '--cpu-prof',
              `--cpu-prof-dir=${settings.cpuProfileDir}`,
              `--cpu-prof-name=ingest-${label(settings)}.cpuprofile`,
            ]
          : []),
      ],
    });
    children.push(ingest);
    const ready = await ingest.nextLine<{
      port: number;
      httpPort: number;
      durability: Durability;
      pid: number;
    }>('READY ', 60_000);
    if (ready.durability !== durability) {
      throw new Error(`ingest resolved durability "${ready.durability}", expected "${durability}"`);
    }
    const ingestPid = ingest.child.pid!;

    const client = redis.client();
    await client.config('RESETSTAT');
    const usedMemoryBefore = Number((await info(client, 'memory')).used_memory);
    const forksBefore = Number((await info(client, 'stats')).total_forks);
    ingest.send('baseline');
    const rssAtReadyBytes = memoryOf(ingestPid)?.rss ?? Number.NaN;
    const memory = sampleMemory(ingestPid);

    const loadOptions: LoadOptions | HttpLoadOptions =
      settings.protocol === 'http'
        ? {
            host: '127.0.0.1',
            port: ready.httpPort,
            messages: settings.messages,
            concurrency: settings.connections,
            messageSize: settings.messageSize,
            body: settings.httpBody ?? 'composed',
            apiKey: apiKey.key,
          }
        : {
            host: '127.0.0.1',
            port: ready.port,
            messages: settings.messages,
            connections: settings.connections,
            messageSize: settings.messageSize,
          };
    const script = settings.protocol === 'http' ? HTTP_LOAD_SCRIPT : LOAD_SCRIPT;
    const loadgen = spawnNode(join(codeRoot, script), [JSON.stringify(loadOptions)], {
      env: { PATH: process.env.PATH ?? '' },
    });
    children.push(loadgen);
    await loadgen.nextLine('STARTED ', 120_000);
    ingest.send('mark');
    const cpuStart = {
      ingest: cpuTimeMs(ingestPid)!,
      redis: cpuTimeMs(redis.pid)!,
      machine: machineCpuMs(),
      bench: process.cpuUsage(),
    };
    const syscallsStart = { ingest: syscallsOf(ingestPid)!, redis: syscallsOf(redis.pid)! };
    const load = await loadgen.nextLine<LoadResult>('RESULT ', 3_600_000);
    const cpuEnd = {
      ingest: cpuTimeMs(ingestPid)!,
      redis: cpuTimeMs(redis.pid)!,
      machine: machineCpuMs(),
      bench: process.cpuUsage(cpuStart.bench),
    };
    const cpuUsed = {
      ingest: cpuEnd.ingest.own - cpuStart.ingest.own,
      redis: cpuEnd.redis.own - cpuStart.redis.own,
      rewrites: cpuEnd.redis.children - cpuStart.redis.children,
      loadgen: load.cpuMs.user + load.cpuMs.system,
      bench: (cpuEnd.bench.user + cpuEnd.bench.system) / 1000,
      machine: cpuEnd.machine.busy - cpuStart.machine.busy,
    };
    const ours = cpuUsed.ingest + cpuUsed.redis + cpuUsed.rewrites + cpuUsed.loadgen + cpuUsed.bench;
    const syscallsEnd = { ingest: syscallsOf(ingestPid)!, redis: syscallsOf(redis.pid)! };
    const perMessage = (process: 'ingest' | 'redis') => ({
      reads: round2((syscallsEnd[process].reads - syscallsStart[process].reads) / load.accepted),
      writes: round2((syscallsEnd[process].writes - syscallsStart[process].writes) / load.accepted),
    });
    ingest.send('stats');
    const stats = await ingest.nextLine<IngestStats>('STATS ', 10_000);
    const rss = memory.stop();

    const usedMemoryAfter = Number((await info(client, 'memory')).used_memory);
    const commandstats = await info(client, 'commandstats');
    const persistence = await info(client, 'persistence');
    const forks = Number((await info(client, 'stats')).total_forks) - forksBefore;
    const stored = await countStored(client);
    const percentOf = (ms: number) => Math.round((ms / load.elapsedMs) * 1000) / 10;

    return {
      protocol: settings.protocol,
      ...(settings.protocol === 'http' && { httpBody: settings.httpBody ?? 'composed' }),
      connections: settings.connections,
      storage: settings.storage,
      fsync: settings.fsync,
      durability,
      run: settings.run,
      attempts: 1,
      sourceFingerprint: fingerprint,
      load,
      ingest: {
        rssPeakBytes: rss.peak,
        rssSampledMaxBytes: rss.sampledMax,
        rssAtReadyBytes,
        cpuPercent: percentOf(cpuUsed.ingest),
        syscallsPerMessage: perMessage('ingest'),
        stats,
      },
      redis: {
        usedMemoryBefore,
        usedMemoryAfter,
        bytesPerMessage:
          load.accepted > 0 ? (usedMemoryAfter - usedMemoryBefore) / load.accepted : Number.NaN,
        cpuPercent: percentOf(cpuUsed.redis),
        rewriteCpuPercent: percentOf(cpuUsed.rewrites),
        syscallsPerMessage: perMessage('redis'),
        commandsPerMessage: commandCounts(commandstats, load.accepted),
        forks,
        aofBytes: Number(persistence.aof_current_size ?? Number.NaN),
        eventStreams: await eventStreams(client),
      },
      loadgen: { cpuPercent: percentOf(cpuUsed.loadgen) },
      machine: {
        busyPercent: percentOf(cpuUsed.machine),
        otherPercent: percentOf(Math.max(0, cpuUsed.machine - ours)),
        stealPercent: percentOf(cpuEnd.machine.steal - cpuStart.machine.steal),
        busyBeforeRunPercent: Math.round(busyBeforeRun * 1000) / 10,
        cpuSpeedIndex: speed,
      },
      check: {
        messagesExpected: load.accepted,
        messagesFound: stored.messagesFound,
        deliveryJobsExpected: load.expectedDeliveryJobs,
        deliveryJobsFound: stored.deliveryJobsFound,
        ok: stored.messagesFound === load.accepted && stored.deliveryJobsFound === load.expectedDeliveryJobs,
      },
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await redis.stop();
    forget();
  }
}

const round2 = (value: number) => Math.round(value * 100) / 100;

export function label(settings: {
  protocol: Protocol;
  httpBody?: HttpBody;
  storage: StorageDesign;
  fsync: FsyncPolicy;
  run: number;
}): string {
  const via = settings.protocol === 'http' ? `http-${settings.httpBody ?? 'composed'}-` : '';
  return `${via}${settings.storage}-${settings.fsync}-run${settings.run}`;
}
