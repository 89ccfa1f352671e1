import type { Config } from '@outpost/config';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { IngestRefusal } from '../../ingest-refusal.ts';
import { mayUseSender } from '../../users.ts';
import { ApiError, refusalToApiError } from '../api-error.ts';
import { type ApiKey, authenticateApiKey } from '../api-keys.ts';
import { type BodyBudget, createBodyBudget } from '../body-budget.ts';
import { composeMessage } from '../compose-message.ts';
import type { HttpListenerDeps } from '../http-deps.ts';
import type { IdempotencyStore } from '../idempotency.ts';
import { lifetimeFor, type MessageEnvelope, readEnvelope } from '../message-envelope.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { normalizeRawMessage } from '../raw-message.ts';
import { runOnce } from '../run-once.ts';
import {
  type Accepted,
  acceptedSchema,
  errorSchema,
  type SendMessageRequest,
  sendMessageSchema,
} from '../schemas.ts';

export const MESSAGES_ROUTE = '/v1/messages';

// Loose: the parsed headers replace request.headers, which must keep every other header.
const requestHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, { error: 'must be 1-255 printable ASCII characters' })
    .optional()
    .describe(
      'Repeat a request with the same key within 24 h: the first answer is returned, nothing is sent twice',
    ),
});

/** OpenAPI response objects: the shared Error schema (by $ref) with a per-status description. */
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: errorSchema } },
});

/** Which API key authenticated a request (set in onRequest, read in the handler). */
const keyOf = new WeakMap<FastifyRequest, ApiKey>();

export interface MessagesRouteDeps extends HttpListenerDeps {
  rateLimiter: RateLimiter;
  idempotency: IdempotencyStore;
}

/**
 * POST /v1/messages. Order matters: the key and the rate limit are checked before the body is read
 * (onRequest), the sender before any MIME is built, and the idempotency claim before the message
 * is stored, so a refused request costs little and a duplicate never reaches the queue.
 */
export function registerMessagesRoute(app: FastifyInstance, deps: MessagesRouteDeps): void {
  const { config } = deps;
  // A JSON body is larger than the message it describes (escaping, base64): the exact limit is
  // checked on the built message; this one only stops absurd bodies before they are parsed.
  const bodyLimit = config.maxMessageSize * 2 + 64 * 1024;
  const budget = createBodyBudget(config.httpBodyBudget);
  app.withTypeProvider<ZodTypeProvider>().post(
    MESSAGES_ROUTE,
    {
      bodyLimit,
      schema: {
        summary: 'Submit a message for delivery',
        description:
          'Either the parts of a message (Outpost builds the MIME) or a complete RFC 5322 message in `raw`. ' +
          'Answers 202 once the message is stored durably.',
        security: [{ apiKey: [] }],
        headers: requestHeaders,
        body: sendMessageSchema,
        response: {
          202: {
            description: 'Stored durably: it will be delivered or bounced',
            content: { 'application/json': { schema: acceptedSchema } },
          },
          400: errorResponse('Invalid request (code names the problem, field the culprit)'),
          401: errorResponse('Missing or unknown API key'),
          403: errorResponse('This API key may not use this sender'),
          409: errorResponse('A request with this Idempotency-Key is still being processed'),
          413: errorResponse('Message larger than OUTPOST_MAX_MESSAGE_SIZE'),
          422: errorResponse('Idempotency-Key reused with a different request'),
          429: errorResponse('Rate limit of this API key reached; see Retry-After'),
          503: errorResponse(
            'Storage unavailable, or too many large requests being read (OUTPOST_HTTP_BODY_BUDGET); nothing was stored; see Retry-After',
          ),
          507: errorResponse('Storage above its high-water mark; nothing was stored; see Retry-After'),
        },
      },
      onRequest: [requireKeyWithinRate(deps), admitBody(budget, bodyLimit)],
    },
    async (request, reply) => {
      const key = keyOf.get(request);
      if (!key) throw new Error('onRequest did not authenticate');
      const body = request.body;
      const envelope = readEnvelope(body, { maxRecipients: config.maxRecipients });
      assertSenderAllowed(key, envelope.sender);
      const now = Date.now();
      const lifetimeMs = lifetimeFor(body.expiresAt, now, config.queueLifetimeMs);
      const submit = async (): Promise<Accepted> => {
        const raw = await messageBytes(body, envelope, config, now);
        try {
          const { id } = await deps.acceptFor(lifetimeMs)({
            sender: envelope.sender,
            recipients: envelope.recipients,
            dsn: envelope.dsn,
            raw,
            client: {
              protocol: 'http',
              address: plainAddress(request.ip),
              tls: request.protocol === 'https',
              user: key.name,
            },
            mayUseAddress: (address) => keyMayUseSender(key, address),
          });
          return { id, recipients: envelope.recipients.map((recipient) => recipient.address) };
        } catch (error) {
          throw error instanceof IngestRefusal ? refusalToApiError(error, { counted: true }) : error;
        }
      };
      const idempotencyKey = request.headers['idempotency-key'];
      const { answer, replayed } =
        idempotencyKey === undefined
          ? { answer: await submit(), replayed: false }
          : await runOnce(deps.idempotency, { scope: key.name, idempotencyKey, body }, submit, request.log);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(202).send(answer);
    },
  );
}

/** 401 without a valid key, 429 once its rate is spent: both before the body is even read. */
function requireKeyWithinRate(deps: MessagesRouteDeps) {
  return async (request: FastifyRequest): Promise<void> => {
    const key = authenticateApiKey(deps.apiKeys, request.headers.authorization);
    if (!key) {
      const message = 'A valid API key is required: Authorization: Bearer <key>';
      throw new ApiError(401, 'unauthorized', message, { reason: 'authFailed' });
    }
    keyOf.set(request, key);
    const decision = await deps.rateLimiter.take(`http:${key.name}`, key.rate);
    if (!decision.allowed) {
      throw new ApiError(429, 'rate_limited', `Rate limit of API key "${key.name}" reached`, {
        retryAfterSeconds: decision.retryAfterSeconds,
        reason: 'rateLimited',
      });
    }
  };
}

/**
 * Reserves the body's declared size (the limit when it declares none) in the budget, until the
 * response is done; 503 with Retry-After when it does not fit. Runs after the key and the rate.
 */
function admitBody(budget: BodyBudget, bodyLimit: number) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const declared = Number(request.headers['content-length']);
    const bytes = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, bodyLimit) : bodyLimit;
    const release = budget.tryReserve(bytes);
    if (!release) {
      throw new ApiError(503, 'busy', 'Too many large requests are being read; retry shortly', {
        retryAfterSeconds: 1,
        reason: 'busy',
      });
    }
    reply.raw.once('close', release);
  };
}

function keyMayUseSender(key: ApiKey, sender: string): boolean {
  return mayUseSender({ name: key.name, passwordHash: '', allowedSenders: key.allowedSenders }, sender);
}

function assertSenderAllowed(key: ApiKey, sender: string): void {
  if (keyMayUseSender(key, sender)) return;
  throw new ApiError(403, 'sender_not_allowed', `API key "${key.name}" may not send as "${sender}"`, {
    field: 'from',
    reason: 'senderNotOwned',
  });
}

/** The message exactly as it will be stored and sent (before our Received/Message-ID/Date). */
async function messageBytes(
  body: SendMessageRequest,
  envelope: MessageEnvelope,
  config: Config,
  now: number,
): Promise<Buffer> {
  const raw =
    'raw' in body
      ? normalizeRawMessage(body.raw)
      : await composeMessage({ request: body, ...envelope.mailboxes!, hostname: config.hostname, now });
  if (raw.length > config.maxMessageSize) {
    const message = `The message is ${raw.length} bytes; at most ${config.maxMessageSize}`;
    throw new ApiError(413, 'message_too_large', message, { reason: 'messageTooBig' });
  }
  return raw;
}

/** IPv4 clients on a dual-stack socket appear as ::ffff:a.b.c.d. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
