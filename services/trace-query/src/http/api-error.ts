import type { FastifyReply } from 'fastify';
import type { ActionResult } from '../message-actions.ts';

/** Every non-2xx answer: `{error: {code, message}}`, `code` stable for programs. */
export class QueryApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'QueryApiError';
    this.status = status;
    this.code = code;
  }
}

export function sendError(reply: FastifyReply, error: QueryApiError): FastifyReply {
  // RFC 6750 §3: a 401 names the scheme the client should use.
  if (error.status === 401) reply.header('www-authenticate', 'Bearer realm="outpost-operator"');
  return reply.code(error.status).send({ error: { code: error.code, message: error.message } });
}

const REFUSAL_STATUS = { not_found: 404, finished: 409, busy: 409, held: 409, not_held: 409 } as const;

/** An action's answer: 200 with what was done, or the refusal as an error. */
export function sendActionResult(reply: FastifyReply, result: ActionResult): FastifyReply {
  if (!result.ok)
    return sendError(reply, new QueryApiError(REFUSAL_STATUS[result.reason], result.reason, result.summary));
  return reply.send({ ok: true, summary: result.summary, count: result.count });
}
