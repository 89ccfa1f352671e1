import { RECIPIENT_STATUSES } from '@outpost/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { diagnoseEntry } from '../../diagnosis-view.ts';
import type { QueryContext } from '../../query-context.ts';
import { parseTimeBound } from '../../time-bound.ts';
import { parseOr400 } from '../request-helpers.ts';

const timeBound = z
  .string()
  .transform((text, ctx) => {
    const time = parseTimeBound(text);
    if (time === undefined)
      ctx.addIssue({ code: 'custom', message: 'expected 1h, epoch milliseconds or an ISO 8601 time' });
    return time ?? 0;
  })
  .optional();

const deliveriesQuery = z.strictObject({
  status: z.enum([...RECIPIENT_STATUSES, 'failed']).optional(),
  domain: z.string().min(1).max(255).optional(),
  recipient: z.string().min(1).max(512).optional(),
  category: z
    .string()
    .regex(/^[a-z_]{1,64}$/, 'a category id like no_such_user')
    .optional(),
  code: z.coerce.number().int().min(200).max(599).optional(),
  since: timeBound,
  until: timeBound,
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

export function registerDeliveryRoutes(app: FastifyInstance, context: QueryContext): void {
  // Newest first; pass `cursor` back for the next (older) page. Each failure carries its diagnosis.
  app.get('/v1/deliveries', async (request) => {
    const query = parseOr400(deliveriesQuery, request.query);
    const page = await context.deliveries(
      Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined)),
    );
    return { deliveries: page.entries.map(diagnoseEntry), ...(page.cursor && { cursor: page.cursor }) };
  });
}
