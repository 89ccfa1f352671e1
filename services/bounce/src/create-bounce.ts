import { type BounceConfig, type Config, ConfigError } from '@outpost/config';
import { FAILURE_CATEGORIES } from '@outpost/core';
import {
  assertNoEviction,
  createFlowMessageWriter,
  createRedisConnection,
  type Durability,
  type MessageWriter,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  resolveDurability,
  startFailedJobSweeper,
  waitForRedis,
} from '@outpost/queue';
import { type HealthServer, type Logger, startHealthServer, type Tracer } from '@outpost/telemetry';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createBounceMetrics } from './bounce-metrics.ts';
import { createCollector } from './dsn-collector.ts';
import { processBounceJob } from './process-bounce-job.ts';
import { sendRetryDelayMs } from './send-job.ts';

export interface Bounce {
  /** Where /healthz, /readyz and /metrics answer. */
  readonly httpAddress: HealthServer['address'];
  stop(): Promise<void>;
}

export interface BounceOptions {
  config: Config;
  bounce: BounceConfig;
  logger: Logger;
  /** How DSNs are queued; the flow writer ingest uses unless a test replaces it. */
  writerFactory?: (redis: Redis, durability: Durability, onError: (error: Error) => void) => MessageWriter;
  tracer?: Tracer;
  /** Webhooks are configured: sent delay warnings become `delayed_dsn_sent` events. */
  webhooks?: boolean;
  /** How often stalled-then-failed jobs are put back. */
  sweepIntervalMs?: number;
  now?: () => number;
}

/**
 * Collected DSN state waits this long (after its window) for its send job and that job's
 * retries (about 8 hours) before Redis drops it.
 */
const STATE_TTL_MS = 2 * 86_400_000;

/** Wires a bounce worker process: checks Redis, then consumes the bounce queue. */
export async function startBounce(options: BounceOptions): Promise<Bounce> {
  const { config, bounce, logger } = options;
  const unknown = bounce.suppressionCategories.filter(
    (category) => !(FAILURE_CATEGORIES as readonly string[]).includes(category),
  );
  if (unknown.length > 0) {
    throw new ConfigError(
      unknown.map(
        (category) =>
          `OUTPOST_SUPPRESSION_CATEGORIES: unknown category "${category}" (known: ${FAILURE_CATEGORIES.join(', ')})`,
      ),
    );
  }
  const now = options.now ?? Date.now;
  const redis = createRedisConnection(config.redisUrl, 'worker');
  redis.on('error', (error) => logger.debug({ err: error }, 'redis connection error'));
  await waitForRedis(redis);
  await assertNoEviction(redis);
  const durability = await resolveDurability(
    redis,
    config.redisDurability,
    config.redisDurability === 'none' || config.env === 'development',
  );
  const onQueueError = (error: Error) => logger.debug({ err: error }, 'queue connection error');
  const writer = (options.writerFactory ?? createFlowMessageWriter)(redis, durability, onQueueError);
  const queueOptions = { connection: redis, prefix: QUEUE_PREFIX };
  const bounceQueue = new Queue(QUEUE_NAMES.bounce, queueOptions);
  const queues = {
    message: new Queue(QUEUE_NAMES.message, queueOptions),
    delivery: new Queue(QUEUE_NAMES.delivery, queueOptions),
  };
  const webhookQueue = options.webhooks ? new Queue(QUEUE_NAMES.webhook, queueOptions) : undefined;
  for (const queue of [bounceQueue, queues.message, queues.delivery, webhookQueue])
    queue?.on('error', onQueueError);

  const stateTtlMs = bounce.collectWindowMs + STATE_TTL_MS;
  const collector = createCollector(redis, stateTtlMs);
  const deps = {
    collect: { redis, collector, bounceQueue, bounce, logger, now },
    send: {
      redis,
      collector,
      writer,
      queues,
      bounce,
      hostname: config.hostname,
      stateTtlMs,
      logger,
      now,
      ...(webhookQueue && { webhookQueue }),
      ...(options.tracer && { tracer: options.tracer }),
    },
    logger,
    now,
  };
  const worker = new Worker(QUEUE_NAMES.bounce, (job, token) => processBounceJob(job, token, deps), {
    connection: redis,
    prefix: QUEUE_PREFIX,
    concurrency: bounce.concurrency,
    // Send jobs are added with our backoff type; every custom type gets this schedule.
    settings: { backoffStrategy: (attemptsMade: number) => sendRetryDelayMs(attemptsMade) },
  });
  worker.on('error', (error) => logger.warn({ err: error }, 'worker error'));
  worker.on('failed', (job, error) =>
    logger.error(
      { jobId: job?.id, name: job?.name, attempts: job?.attemptsMade, err: error },
      'bounce job failed',
    ),
  );
  // A report or send job that stalled too often (its worker died) goes back in the queue; jobs that
  // failed for their own reason (an unknown version, retries used up) stay for an operator.
  const sweeper = startFailedJobSweeper([bounceQueue], options.sweepIntervalMs ?? 60_000, logger, (job) =>
    /stalled/i.test(job.failedReason ?? ''),
  );
  const health = await startHealthServer({
    ...bounce.httpListen,
    registry: createBounceMetrics({ redis, bounceQueue }),
    ready: async () => redis.status === 'ready' && (await redis.ping()) === 'PONG',
  });
  logger.info(
    {
      http: health.address,
      concurrency: bounce.concurrency,
      collectWindowMs: bounce.collectWindowMs,
      backscatterLimit: bounce.backscatterLimit,
      suppression: bounce.suppressionMs > 0 ? bounce.suppressionCategories : 'off',
    },
    'bounce running',
  );

  return {
    httpAddress: health.address,
    async stop() {
      sweeper.stop();
      await health.close();
      // A job cut off here keeps its state in Redis; its lock lapses and another worker redoes it.
      const graceful = worker.close();
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), config.shutdownGraceMs).unref(),
      );
      if ((await Promise.race([graceful, timeout])) === 'timeout') {
        logger.warn('shutdown grace period over: abandoning in-flight bounce jobs to the next worker');
        await worker.close(true);
      }
      await Promise.all([
        writer.close(),
        bounceQueue.close(),
        queues.message.close(),
        queues.delivery.close(),
        webhookQueue?.close(),
      ]);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
