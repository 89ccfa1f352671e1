import { parseDuration } from '@outpost/config';
import { addSuppression, listSuppressions, removeSuppression } from '@outpost/queue';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { QueryContext } from '../../query-context.ts';
import { operatorOf, parseOr400 } from '../request-helpers.ts';

const addBody = z.object({
  address: z.string().min(3).max(320),
  /** e.g. "30d"; default 30 days. */
  for: z.string().default('30d'),
  note: z.string().max(500).optional(),
});

const addressParams = z.object({ address: z.string().min(3).max(320) });

/** The suppression list over HTTP, beside `outpost suppression list|add|remove`. */
export function registerSuppressionRoutes(app: FastifyInstance, context: QueryContext): void {
  app.get('/v1/suppressions', async () => ({ suppressions: await listSuppressions(context.redis) }));

  app.post('/v1/suppressions', async (request, reply) => {
    const body = parseOr400(addBody, request.body ?? {});
    const durationMs = parseDuration(body.for);
    if (durationMs === undefined || durationMs <= 0) {
      return reply
        .code(400)
        .send({ error: { code: 'invalid_request', message: 'for: not a duration', field: 'for' } });
    }
    const by = operatorOf(request);
    try {
      const entry = await addSuppression(context.redis, {
        address: body.address,
        durationMs,
        note: `${body.note ?? 'added'} (by ${by})`,
      });
      return reply.code(201).send(entry);
    } catch (error) {
      return reply
        .code(400)
        .send({ error: { code: 'invalid_address', message: (error as Error).message, field: 'address' } });
    }
  });

  app.delete('/v1/suppressions/:address', async (request, reply) => {
    operatorOf(request);
    const { address } = parseOr400(addressParams, request.params);
    // A Redis failure is the server's error (500), not "not on the list".
    const removed = await removeSuppression(context.redis, address);
    return removed
      ? reply.code(204).send()
      : reply.code(404).send({ error: { code: 'not_found', message: `${address} is not on the list` } });
  });
}
