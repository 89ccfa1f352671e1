import { oldestQueuedMessage, registerQueueJobsGauge } from '@outpost/queue';
import type { Queue } from 'bullmq';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DestinationLimiter } from './destination-limiter.ts';

/**
 * Prometheus metrics of a delivery worker. Counters are per process; queue-wide figures (jobs by
 * state, oldest message, destination windows) are read from Redis at scrape time, so any worker
 * answers for the whole cluster.
 */
export function createDeliveryMetrics(deps: {
  deliveryQueue: Queue;
  messageQueue: Queue;
  limiter: DestinationLimiter;
}) {
  const registry = new Registry();
  const attempts = new Counter({
    name: 'outpost_delivery_attempts_total',
    help: 'Recipient outcomes of delivery attempts, by verdict and failure category',
    labelNames: ['verdict', 'category'] as const,
    registers: [registry],
  });
  const possibleDuplicates = new Counter({
    name: 'outpost_delivery_possible_duplicates_total',
    help: 'Sessions lost after the final dot (RFC 1047): the receiver may have the message twice',
    registers: [registry],
  });
  const waits = new Counter({
    name: 'outpost_delivery_waits_total',
    help: 'Jobs put back without an attempt: their destination paused (unreachable or backed off), no connection slot free (busy), or held by an operator',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const sessionsInFlight = new Gauge({
    name: 'outpost_delivery_sessions_in_flight',
    help: 'SMTP delivery attempts running in this process',
    registers: [registry],
  });
  const redisOverMaxmemory = new Gauge({
    name: 'outpost_redis_over_maxmemory',
    help: "1 while Redis is above maxmemory with nothing of Outpost's left to free: no job can move",
    registers: [registry],
  });
  registerQueueJobsGauge(
    registry,
    [deps.deliveryQueue, deps.messageQueue],
    ['waiting', 'active', 'delayed', 'failed', 'waiting-children'],
  );
  new Gauge({
    name: 'outpost_oldest_message_age_seconds',
    help: 'Age of the oldest message not yet finished (cluster-wide)',
    registers: [registry],
    async collect() {
      const arrival = (
        await oldestQueuedMessage({ message: deps.messageQueue, delivery: deps.deliveryQueue })
      )?.arrivalTime;
      this.set(arrival === undefined ? 0 : Math.max(0, (Date.now() - arrival) / 1000));
    },
  });
  new Gauge({
    name: 'outpost_destination_window',
    help: 'Connections allowed per destination (adaptive window), cluster-wide',
    labelNames: ['destination'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const state of await deps.limiter.list())
        this.set({ destination: state.destination }, state.window);
    },
  });
  new Gauge({
    name: 'outpost_destination_paused',
    help: 'Destinations paused (1 while paused): unreachable, or deferring every recipient (OUTPOST_DESTINATION_BACKOFF_AFTER); cluster-wide',
    labelNames: ['destination'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const now = Date.now();
      for (const state of await deps.limiter.list(now))
        this.set(
          { destination: state.destination },
          state.pausedUntil !== undefined && state.pausedUntil > now ? 1 : 0,
        );
    },
  });
  return { registry, attempts, possibleDuplicates, waits, sessionsInFlight, redisOverMaxmemory };
}

export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;
