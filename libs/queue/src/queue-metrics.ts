import { Gauge, type Registry } from 'prom-client';

/** What the gauge needs of a BullMQ Queue. */
interface CountableQueue {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

/**
 * `outpost_queue_jobs{queue,state}`: jobs per queue and state, read from Redis at scrape time, so
 * every process that exports it answers for the whole cluster (aggregate with max(), not sum()).
 */
export function registerQueueJobsGauge(
  registry: Registry,
  queues: readonly CountableQueue[],
  states: readonly string[],
): void {
  new Gauge({
    name: 'outpost_queue_jobs',
    help: 'Jobs per queue and state (cluster-wide)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues) {
        const counts = await queue.getJobCounts(...states);
        for (const [state, count] of Object.entries(counts)) this.set({ queue: queue.name, state }, count);
      }
    },
  });
}
