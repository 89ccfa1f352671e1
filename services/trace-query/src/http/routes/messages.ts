import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { diagnoseMessageView } from '../../diagnosis-view.ts';
import { MESSAGE_ACTIONS } from '../../message-actions.ts';
import type { QueryContext } from '../../query-context.ts';
import { QueryApiError, sendActionResult } from '../api-error.ts';
import { operatorOf, parseOr400 } from '../request-helpers.ts';

/** Message ids are UUIDv7, but anything job-id-shaped is looked up (never used as a pattern). */
const messageParams = z.object({ id: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'not a message id') });
const actionParams = messageParams.extend({ action: z.enum(MESSAGE_ACTIONS) });

export function registerMessageRoutes(app: FastifyInstance, context: QueryContext): void {
  app.get('/v1/messages/:id', async (request) => {
    const { id } = parseOr400(messageParams, request.params);
    const view = await context.message(id);
    if (!view) throw new QueryApiError(404, 'not_found', `no message ${id} in the queue or the delivery log`);
    return diagnoseMessageView(view);
  });

  app.post('/v1/messages/:id/:action', async (request, reply) => {
    const { id, action } = parseOr400(actionParams, request.params);
    const by = operatorOf(request);
    const result = await context.actions[action](id, by);
    request.log.info(
      { messageId: id, action, by, ok: result.ok, summary: result.summary },
      'operator action',
    );
    return sendActionResult(reply, result);
  });
}
