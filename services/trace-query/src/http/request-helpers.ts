import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { QueryApiError } from './api-error.ts';

/** The name of the operator key that authenticated the request (set by the auth hook). */
export function operatorOf(request: FastifyRequest): string {
  const name = (request as FastifyRequest & { operator?: string }).operator;
  if (!name) throw new QueryApiError(401, 'unauthorized', 'An operator key is required');
  return name;
}

export function parseOr400<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  throw new QueryApiError(
    400,
    'invalid_request',
    `${field ? `${field}: ` : ''}${issue?.message ?? 'invalid request'}`,
  );
}
