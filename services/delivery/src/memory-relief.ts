import type { HighWaterMark } from '@outpost/config';
import { highWaterBytes, type RedisMemory, readRedisMemory } from '@outpost/queue';
import { relieveLog } from '@outpost/store';
import type { Logger } from '@outpost/telemetry';
import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * Redis runs noeviction. Above maxmemory it refuses every command that may grow memory, and the
 * first write of BullMQ's scripts too (moveToActive starts with RPOPLPUSH): no job moves, no body
 * is freed, the queue cannot drain. Ingest stays below its high-water mark, but the delivery log,
 * retained completed jobs and BullMQ's event streams grow after ingest stops. Commands that only
 * free memory (DEL, ZREM, HDEL, XTRIM ...) are still allowed at the limit: delivery uses them to
 * free its own reclaimable data, in order of how little it is missed, and pauses its workers
 * meanwhile (BullMQ retries a refused fetch at once, thousands of times a second).
 */

const EVENTS_KEPT = 100;
/** Small enough not to remove many more jobs than needed. */
const CLEAN_BATCH = 200;
const STUCK_LOG_INTERVAL_MS = 60_000;

/** What relief frees down to, below maxmemory: room for the jobs it lets move. */
export const reliefMargin = (maxmemory: number): number => Math.max(1024 * 1024, Math.floor(maxmemory / 100));

export const isRedisOutOfMemory = (error: unknown): boolean =>
  error instanceof Error && /\bOOM\b/.test(error.message);

const isOver = (memory: RedisMemory) => memory.maxmemory > 0 && memory.usedBytes >= memory.maxmemory;

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export interface Freed {
  from: 'event streams' | 'completed jobs' | 'delivery log';
  /** By INFO, before and after. */
  bytes: number;
  /** Stream entries, jobs or log records. */
  items: number;
}

export interface ReliefOutcome {
  /** below: Redis under its limit; relieved: it was over, and is under now; stuck: still over. */
  state: 'below' | 'relieved' | 'stuck';
  memory: RedisMemory;
  freed: Freed[];
}

export interface MemoryReliefOptions {
  redis: Redis;
  /** Whose event streams and completed jobs may go. */
  queues: readonly Queue[];
  /** Paused while Redis is above its limit, resumed once it is below. */
  workers: readonly Worker[];
  logger: Logger;
  /** Set to 1 while Redis is above its limit with nothing of Outpost's left to free. */
  overLimit?: { set(value: number): void };
  pollIntervalMs?: number;
}

export interface MemoryRelief {
  /** Reads Redis's memory now, freeing Outpost's reclaimable data when it is above its limit. */
  check(): Promise<ReliefOutcome>;
  stop(): void;
}

/** Watches Redis's memory (INFO, and OOM replies to the workers) and frees memory at the limit. */
export function startMemoryRelief(options: MemoryReliefOptions): MemoryRelief {
  const { redis, queues, workers, logger } = options;
  let paused = false;
  let stuck = false;
  let stopped = false;
  let lastStuckLog = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<ReliefOutcome> | undefined;

  const pauseWorkers = () => {
    if (paused || stopped) return;
    paused = true;
    for (const worker of workers) void worker.pause(true).catch(() => {});
  };
  const resumeWorkers = () => {
    if (!paused || stopped) return;
    paused = false;
    for (const worker of workers) void worker.resume();
  };

  const sources: Array<{ from: Freed['from']; free: (excess: number) => Promise<number> }> = [
    { from: 'event streams', free: trimEventStreams },
    { from: 'completed jobs', free: cleanCompletedJobs },
    { from: 'delivery log', free: async (excess) => (await relieveLog(redis, excess)).records },
  ];

  /** Stream entries removed; a second call finds nothing more. */
  async function trimEventStreams(): Promise<number> {
    let removed = 0;
    for (const queue of queues) removed += await redis.xtrim(queue.keys.events!, 'MAXLEN', '~', EVENTS_KEPT);
    return removed;
  }

  /**
   * Queue.clean is a script whose first write is a DEL, allowed at the limit; with no job to
   * remove, its first write would be the XADD of its event, refused: it runs only on a queue with
   * completed jobs (another process may empty it meanwhile: then it frees nothing here).
   */
  async function cleanCompletedJobs(): Promise<number> {
    for (const queue of queues) {
      if ((await queue.getCompletedCount()) === 0) continue;
      const removed = await queue.clean(0, CLEAN_BATCH, 'completed').catch((error: unknown) => {
        if (isRedisOutOfMemory(error)) return [];
        throw error;
      });
      if (removed.length > 0) return removed.length;
    }
    return 0;
  }

  async function relieve(start: RedisMemory): Promise<{ memory: RedisMemory; freed: Freed[] }> {
    const target = start.maxmemory - reliefMargin(start.maxmemory);
    const freed: Freed[] = [];
    let memory = start;
    for (const source of sources) {
      const before = memory.usedBytes;
      let items = 0;
      while (memory.usedBytes > target) {
        const removed = await source.free(memory.usedBytes - target);
        if (removed === 0) break;
        items += removed;
        memory = await readRedisMemory(redis);
      }
      if (items > 0) freed.push({ from: source.from, bytes: Math.max(0, before - memory.usedBytes), items });
    }
    return { memory, freed };
  }

  async function run(): Promise<ReliefOutcome> {
    const start = await readRedisMemory(redis);
    if (!isOver(start)) {
      settle(start);
      return { state: 'below', memory: start, freed: [] };
    }
    pauseWorkers();
    const { memory, freed } = await relieve(start);
    if (freed.length > 0) {
      const total = freed.reduce((sum, entry) => sum + entry.bytes, 0);
      logger.warn(
        { freed, usedBytes: memory.usedBytes, maxmemory: memory.maxmemory },
        `Redis reached maxmemory: freed ${mb(total)} of Outpost's own data (${freed
          .map((entry) => `${entry.from}: ${mb(entry.bytes)}, ${entry.items}`)
          .join('; ')})`,
      );
    }
    if (isOver(memory)) {
      stuck = true;
      options.overLimit?.set(1);
      if (Date.now() - lastStuckLog >= STUCK_LOG_INTERVAL_MS) {
        lastStuckLog = Date.now();
        logger.error(
          { usedBytes: memory.usedBytes, maxmemory: memory.maxmemory },
          `Redis is above maxmemory (used ${mb(memory.usedBytes)} of ${mb(memory.maxmemory)}) with nothing of ` +
            "Outpost's left to free: delivery cannot move jobs until memory is freed or maxmemory raised",
        );
      }
      return { state: 'stuck', memory, freed };
    }
    settle(memory);
    return { state: 'relieved', memory, freed };
  }

  /** Below the limit: the workers move jobs again. */
  function settle(memory: RedisMemory): void {
    if (stuck) {
      stuck = false;
      lastStuckLog = Number.NEGATIVE_INFINITY;
      logger.info(
        { usedBytes: memory.usedBytes, maxmemory: memory.maxmemory },
        'Redis is below maxmemory again: delivery resumes',
      );
    }
    options.overLimit?.set(0);
    resumeWorkers();
  }

  function check(): Promise<ReliefOutcome> {
    inFlight ??= run().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  const checkQuietly = () =>
    void check().catch((error: unknown) => logger.debug({ err: error }, 'Redis memory check failed'));
  // An OOM reply says Redis is at its limit before the next poll would: stop the fetch loop now.
  const onWorkerError = (error: Error) => {
    if (!isRedisOutOfMemory(error)) return;
    pauseWorkers();
    checkQuietly();
  };
  for (const worker of workers) worker.on('error', onWorkerError);
  const timer = setInterval(checkQuietly, options.pollIntervalMs ?? 1_000);
  timer.unref();

  return {
    check,
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const worker of workers) worker.off('error', onWorkerError);
    },
  };
}

/**
 * The delivery log grows after ingest stops at its high-water mark, into the room between the mark
 * and maxmemory: a budget larger than that room takes Redis to its limit (where delivery then has
 * to drop log records to move jobs). Logs one warning naming the setting to change.
 */
export async function warnIfLogBudgetDoesNotFit(
  redis: Redis,
  settings: { highWater: HighWaterMark; logMaxBytes: number },
  logger: Logger,
): Promise<boolean> {
  const { maxmemory } = await readRedisMemory(redis);
  const mark = maxmemory > 0 ? highWaterBytes(settings.highWater, maxmemory) : undefined;
  if (mark === undefined) return false;
  const room = Math.max(0, maxmemory - mark);
  if (settings.logMaxBytes <= room) return false;
  logger.warn(
    { logMaxBytes: settings.logMaxBytes, highWaterBytes: mark, maxmemory, roomBytes: room },
    `the delivery log's budget (OUTPOST_LOG_MAX_BYTES, ${mb(settings.logMaxBytes)}) does not fit between the ` +
      `high-water mark (OUTPOST_REDIS_HIGH_WATER, ${mb(mark)}) and Redis maxmemory (${mb(maxmemory)}): set ` +
      `OUTPOST_LOG_MAX_BYTES to at most ${mb(room)}, or lower OUTPOST_REDIS_HIGH_WATER, or raise maxmemory`,
  );
  return true;
}
