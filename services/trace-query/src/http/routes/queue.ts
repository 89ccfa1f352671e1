import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { heldDiagnosis } from '../../diagnosis-view.ts';
import { DOMAIN_ACTIONS } from '../../message-actions.ts';
import type { QueryContext } from '../../query-context.ts';
import { sendActionResult } from '../api-error.ts';
import { operatorOf, parseOr400 } from '../request-helpers.ts';

const domainParams = z.object({
  domain: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}$/, 'not a domain name')
    .transform((domain) => domain.toLowerCase()),
  action: z.enum(DOMAIN_ACTIONS),
});

const DOMAIN_METHODS = { hold: 'holdDomain', release: 'releaseDomain', retry: 'retryDomain' } as const;

export function registerQueueRoutes(app: FastifyInstance, context: QueryContext): void {
  app.get('/v1/queue', () => context.overview());
  // Destinations are MX sets (window, automatic pause, last error); holds are per domain.
  app.get('/v1/destinations', async () => {
    const [destinations, heldDomains] = await Promise.all([context.destinations(), context.domainHolds()]);
    return {
      destinations,
      heldDomains: heldDomains.map((hold) => ({
        ...hold,
        diagnosis: heldDiagnosis({ heldBy: 'domain', domain: hold.domain, by: hold.by }),
      })),
    };
  });

  // `outpost queue hold|release|retry --domain d` over HTTP.
  app.post('/v1/domains/:domain/:action', async (request, reply) => {
    const { domain, action } = parseOr400(domainParams, request.params);
    const by = operatorOf(request);
    const result = await context.actions[DOMAIN_METHODS[action]](domain, by);
    request.log.info({ domain, action, by, ok: result.ok, summary: result.summary }, 'operator action');
    return sendActionResult(reply, result);
  });
}
