import { type Config, ConfigError, type DeliveryConfig } from '@outpost/config';
import { parseTransportMap } from '@outpost/core';
import { createDnsResolver, type DnsResolver } from '@outpost/dns';
import {
  assertNoEviction,
  createRedisConnection,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  startFailedJobSweeper,
  waitForRedis,
} from '@outpost/queue';
import { createDeliveryLog } from '@outpost/store';
import { type Logger, startHealthServer, type Tracer } from '@outpost/telemetry';
import { Queue, Worker } from 'bullmq';
import type { AttemptDeps } from './attempt-delivery.ts';
import { createConnectionPool } from './connection-pool.ts';
import { createDeliveryMetrics } from './delivery-metrics.ts';
import { createDestinationLimiter } from './destination-limiter.ts';
import { finishMessage } from './finish-message.ts';
import { isRedisOutOfMemory, startMemoryRelief, warnIfLogBudgetDoesNotFit } from './memory-relief.ts';
import { createMtaSts } from './mta-sts/create-mta-sts.ts';
import { releaseParked } from './parked-jobs.ts';
import { createPausedDomains } from './paused-domains.ts';
import { type DeliveryJobResult, processDeliveryJob } from './process-delivery-job.ts';
import { ownAddresses } from './self-identity.ts';
import { createTlsMemory } from './tls-memory.ts';
import { loadTrustStore } from './tls-trust.ts';

export interface Delivery {
  /** Where /healthz, /readyz and /metrics answer. */
  readonly httpAddress: { address: string; port: number };
  /** Recovers failed jobs now (the sweeper also runs on its own). */
  sweepFailed(): Promise<number>;
  stop(): Promise<void>;
}

export interface DeliveryOptions {
  config: Config;
  delivery: DeliveryConfig;
  logger: Logger;
  tracer?: Tracer;
  resolver?: DnsResolver;
}

/** Wires a delivery worker process: checks Redis, then consumes the delivery and message queues. */
export async function startDelivery(options: DeliveryOptions): Promise<Delivery> {
  const { config, delivery, logger } = options;
  const transport = parseTransportMap(config.transportMap);
  if (transport.problems.length > 0) {
    throw new ConfigError(transport.problems.map((problem) => `OUTPOST_TRANSPORT_MAP: ${problem}`));
  }
  // BullMQ's Queue and Worker objects (and memory relief) use `redis`. Outpost's own commands on the
  // job path (preflight, suppression, limits, marks, the delivery log) go on `own`, with
  // auto-pipelining: what concurrent jobs send in one event-loop turn shares one write. Never on
  // BullMQ's connection, where auto-pipelining is reported to lose jobs' active-list entries.
  const redis = createRedisConnection(config.redisUrl, 'worker');
  const own = createRedisConnection(config.redisUrl, 'worker', undefined, undefined, {
    autoPipelining: true,
  });
  for (const connection of [redis, own])
    connection.on('error', (error) => logger.debug({ err: error }, 'redis connection error'));
  await Promise.all([waitForRedis(redis), waitForRedis(own)]);
  await assertNoEviction(redis);
  const secureContext = await loadTrustStore(delivery.mtaSts.caFile);

  const queueOptions = { connection: redis, prefix: QUEUE_PREFIX };
  const messageQueue = new Queue(QUEUE_NAMES.message, queueOptions);
  const deliveryQueue = new Queue(QUEUE_NAMES.delivery, queueOptions);
  const bounceQueue = new Queue(QUEUE_NAMES.bounce, queueOptions);
  const webhookQueue = delivery.webhooksEnabled ? new Queue(QUEUE_NAMES.webhook, queueOptions) : undefined;
  const onQueueError = (error: Error) => logger.debug({ err: error }, 'queue connection error');
  for (const queue of [messageQueue, deliveryQueue, bounceQueue, webhookQueue])
    queue?.on('error', onQueueError);

  const log = createDeliveryLog(own, delivery.logRetention);
  await warnIfLogBudgetDoesNotFit(
    redis,
    { highWater: config.redisHighWater, logMaxBytes: delivery.logRetention.maxBytes },
    logger,
  );
  const logTrimmer = setInterval(() => void log.trimByAge().catch(() => 0), 10 * 60_000);
  logTrimmer.unref();
  let nextSource = 0;
  const limiter = createDestinationLimiter(own, delivery.destinationLimits);
  const pool =
    delivery.connectionReuse.idleMs > 0 ? createConnectionPool(delivery.connectionReuse) : undefined;
  const metrics = createDeliveryMetrics({ deliveryQueue, messageQueue, limiter });
  const resolver =
    options.resolver ?? createDnsResolver({ servers: config.dnsServers, timeoutMs: delivery.dnsTimeoutMs });
  const mtaSts = createMtaSts({
    redis: own,
    resolver,
    config: delivery.mtaSts,
    ipFamilies: delivery.ipFamilies,
    allowPrivateDestinations: config.allowPrivateDestinations,
    ...(secureContext && { secureContext }),
  });
  const attempt: AttemptDeps = {
    resolver,
    transportMap: transport.map,
    deliveryPort: config.deliveryPort,
    ipFamilies: delivery.ipFamilies,
    allowPrivateDestinations: config.allowPrivateDestinations,
    selfNames: new Set([config.hostname]),
    selfAddresses: ownAddresses(delivery.sourceAddresses),
    random: Math.random,
    heloName: config.hostname,
    timeouts: delivery.timeouts,
    replyTimeouts: delivery.replyTimeouts,
    maxAddresses: delivery.maxAddressesPerAttempt,
    maxSessions: delivery.maxSessionsPerAttempt,
    maxRecipientsPerTransaction: delivery.maxRecipientsPerTransaction,
    // Several source addresses are used in turn.
    sourceAddress: () =>
      delivery.sourceAddresses.length === 0
        ? undefined
        : delivery.sourceAddresses[nextSource++ % delivery.sourceAddresses.length],
    tlsMemory: createTlsMemory(own, delivery.tlsBrokenMemoryMs),
    limiter,
    ...(pool && { pool }),
    pauseMs: delivery.retry.firstDelayMs,
    pauses: createPausedDomains(),
    releaseParked: (destination) => releaseParked(limiter, deliveryQueue, destination),
    onPause: (pause) =>
      logger.warn(
        {
          destination: pause.destination,
          until: new Date(pause.until).toISOString(),
          cause: pause.cause,
          lastProblem: pause.lastProblem,
        },
        pause.cause === 'unreachable'
          ? 'destination unreachable: its jobs wait for the pause'
          : 'destination deferred every recipient of several attempts in a row: its jobs wait for the pause',
      ),
    ...(mtaSts && { mtaSts }),
    ...(secureContext && { secureContext }),
  };
  const workerOptions = {
    connection: redis,
    prefix: QUEUE_PREFIX,
    lockDuration: delivery.lockDurationMs,
    stalledInterval: delivery.stalledIntervalMs,
    maxStalledCount: delivery.maxStalledCount,
  };
  const deliveryWorker = new Worker(
    QUEUE_NAMES.delivery,
    (job, token) =>
      processDeliveryJob(job, token, {
        attempt,
        retryPolicy: { ...delivery.retry, jitter: 0.2 },
        bounceQueue,
        redis: own,
        logger,
        metrics,
        delayWarningMs: delivery.delayWarningMs,
        log,
        ...(options.tracer && { tracer: options.tracer }),
        ...(webhookQueue && { webhookQueue }),
        maxTranscriptBytes: delivery.logRetention.maxTranscriptBytes,
      }),
    { ...workerOptions, concurrency: delivery.concurrency },
  );
  // The message job runs once all its delivery jobs are done: the body goes, with the delivery
  // jobs' last send marks (completed jobs cannot run again: sent-marks.ts), then the job
  // (removeOnComplete). A crash in between runs it again, and deleting twice is harmless.
  const messageWorker = new Worker(
    QUEUE_NAMES.message,
    async (job) => {
      const results = Object.values(await job.getChildrenValues<DeliveryJobResult>());
      if (job.id) await finishMessage(own, logger, job.id, results);
      return { domains: results.length };
    },
    { ...workerOptions, concurrency: 10 },
  );
  for (const worker of [deliveryWorker, messageWorker]) {
    // Out of memory is memory relief's to handle and report (memory-relief.ts), not once per retry.
    worker.on('error', (error) => {
      if (!isRedisOutOfMemory(error)) logger.warn({ err: error }, 'worker error');
    });
    worker.on('failed', (job, error) => logger.error({ jobId: job?.id, err: error }, 'job failed'));
  }
  const relief = startMemoryRelief({
    redis,
    queues: [deliveryQueue, messageQueue, bounceQueue, ...(webhookQueue ? [webhookQueue] : [])],
    workers: [deliveryWorker, messageWorker],
    logger,
    overLimit: metrics.redisOverMaxmemory,
  });
  const sweeper = startFailedJobSweeper(
    [deliveryQueue, messageQueue],
    delivery.failedSweepIntervalMs,
    logger,
  );
  const health = await startHealthServer({
    ...delivery.httpListen,
    registry: metrics.registry,
    ready: async () =>
      deliveryWorker.isRunning() && (await redis.ping()) === 'PONG' && own.status === 'ready',
  });
  logger.info({ concurrency: delivery.concurrency, http: health.address }, 'delivery running');

  return {
    httpAddress: health.address,
    sweepFailed: sweeper.sweep,
    async stop() {
      sweeper.stop();
      relief.stop();
      clearInterval(logTrimmer);
      await health.close();
      // Stop taking jobs and let in-flight sessions finish; a job still running past the grace
      // period is abandoned and its lock lapses, so another worker picks it up: delayed, never lost.
      const graceful = Promise.all([deliveryWorker.close(), messageWorker.close()]);
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), config.shutdownGraceMs).unref(),
      );
      if ((await Promise.race([graceful, timeout])) === 'timeout') {
        logger.warn('shutdown grace period over: abandoning in-flight jobs to the next worker');
        await Promise.all([deliveryWorker.close(true), messageWorker.close(true)]);
      }
      // Idle pooled connections hold destination slots: give them back now, or other workers
      // would wait for the leases to lapse.
      await pool?.closeAll();
      await Promise.all([
        messageQueue.close(),
        deliveryQueue.close(),
        bounceQueue.close(),
        webhookQueue?.close(),
      ]);
      await Promise.all(
        [redis, own].map((connection) => connection.quit().catch(() => connection.disconnect())),
      );
    },
  };
}
