import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { isMetricsResponse, METRICS_REQUEST, type MetricsRequest } from './cluster-messages.ts';

/**
 * /metrics in a multi-process ingest: a scrape lands on one worker at random, so that worker asks
 * the primary for the sum over every worker (prom-client's AggregatorRegistry), and Prometheus sees
 * one ingest per host whichever process answered.
 */
export interface MetricsSource {
  metrics(): Promise<{ text: string; contentType: string }>;
}

export function createMetricsSource(registry: Registry, timeoutMs = 8_000): MetricsSource {
  if (!cluster.isWorker) {
    return { metrics: async () => ({ text: await registry.metrics(), contentType: registry.contentType }) };
  }
  // The primary's aggregator asks every worker for this registry's values over IPC; constructing an
  // AggregatorRegistry is what installs prom-client's answering listener in a worker.
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
  let nextId = 0;
  return {
    metrics: () =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        const timer = setTimeout(() => {
          process.off('message', onMessage);
          reject(new Error(`the ingest primary did not send metrics within ${timeoutMs} ms`));
        }, timeoutMs);
        const onMessage = (message: unknown) => {
          if (!isMetricsResponse(message) || message.id !== id) return;
          clearTimeout(timer);
          process.off('message', onMessage);
          if (message.text === undefined) reject(new Error(message.error ?? 'no metrics'));
          else resolve({ text: message.text, contentType: message.contentType ?? registry.contentType });
        };
        process.on('message', onMessage);
        process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
      }),
  };
}
