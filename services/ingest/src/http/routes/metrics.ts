import type { FastifyInstance } from 'fastify';
import type { IngestMetrics } from '../metrics.ts';

/** Prometheus text exposition of this ingest's registry. */
export function registerMetricsRoute(app: FastifyInstance, metrics: IngestMetrics): void {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });
}
