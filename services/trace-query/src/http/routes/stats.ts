import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { QueryContext } from '../../query-context.ts';
import { parseOr400 } from '../request-helpers.ts';

/** At most the default log retention (7 days): older hours would only count zeros. */
const outcomesQuery = z.strictObject({ hours: z.coerce.number().int().min(1).max(168).default(24) });

export function registerStatsRoutes(app: FastifyInstance, context: QueryContext): void {
  // Recipient outcomes per hour: what the page's chart draws.
  app.get('/v1/stats/outcomes', async (request) => {
    const { hours } = parseOr400(outcomesQuery, request.query);
    return context.outcomes(hours);
  });
}
