import { registerQueueJobsGauge } from '@outpost/queue';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import { readDsnStats } from './bounce-records.ts';

/**
 * Prometheus metrics of the bounce service. DSN counts are kept in Redis by every bounce worker
 * together, so they are read at scrape time and any worker answers for all of them.
 */
export function createBounceMetrics(deps: { redis: Redis; bounceQueue: Queue }): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'outpost_bounce_dsns',
    help: 'DSNs since the queue was created, cluster-wide, by outcome: sent:failed, sent:delayed, sent:delivered, double-bounce, postmaster-copy, backscatter-capped',
    labelNames: ['outcome'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const stats = await readDsnStats(deps.redis);
      for (const [outcome, count] of Object.entries(stats)) this.set({ outcome }, count);
    },
  });
  registerQueueJobsGauge(registry, [deps.bounceQueue], ['waiting', 'active', 'delayed', 'failed']);
  return registry;
}
