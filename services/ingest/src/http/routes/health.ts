import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HttpListenerDeps } from '../http-deps.ts';

export const READINESS_KEY_PREFIX = '{outpost}:ingest:readyz:';

const readiness = z.object({
  status: z.enum(['ready', 'unready']),
  checks: z.object({
    redis: z.enum(['ok', 'unreachable', 'full']).describe('A short-lived key could be written'),
    memory: z.enum(['ok', 'above high-water mark']),
  }),
});

/**
 * /healthz: the process answers (liveness: restart me if not). /readyz: this ingest can take mail
 * right now: Redis takes a write and is under the high-water mark (readiness: send me traffic).
 * Kept apart so a Redis outage takes pods out of rotation without restarting them all.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  deps: Pick<HttpListenerDeps, 'redis' | 'memoryGuard'>,
): void {
  const probeKey = `${READINESS_KEY_PREFIX}${randomUUID()}`;
  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    '/healthz',
    { schema: { summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
  typed.get(
    '/readyz',
    { schema: { summary: 'Readiness', response: { 200: readiness, 503: readiness } } },
    async (_request, reply) => {
      const redis = await deps.redis.set(probeKey, '1', 'PX', 10_000).then(
        () => 'ok' as const,
        (error: unknown) => (/\bOOM\b/.test(String(error)) ? ('full' as const) : ('unreachable' as const)),
      );
      const checks = {
        redis,
        memory: deps.memoryGuard.state.full ? ('above high-water mark' as const) : ('ok' as const),
      };
      const ready = Object.values(checks).every((value) => value === 'ok');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unready', checks });
    },
  );
}
