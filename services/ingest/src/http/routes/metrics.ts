import type { FastifyInstance } from 'fastify';
import { createMetricsSource } from '../../cluster/worker-metrics.ts';
import type { IngestMetrics } from '../metrics.ts';

/** Prometheus text exposition of this ingest's registry (summed over the processes of a multi-process ingest). */
export function registerMetricsRoute(app: FastifyInstance, metrics: IngestMetrics): void {
  const source = createMetricsSource(metrics.registry);
  app.get('/metrics', { schema: { summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const { text, contentType } = await source.metrics();
    return reply.header('content-type', contentType).send(text);
  });
}
