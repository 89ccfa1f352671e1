import type { AddressInfo } from 'node:net';
import fastifySwagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
} from 'fastify-type-provider-zod';
import { ApiError } from './api-error.ts';
import type { HttpListenerDeps } from './http-deps.ts';
import { createIdempotencyStore } from './idempotency.ts';
import { createRedisRateLimiter } from './rate-limit.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { MESSAGES_ROUTE, registerMessagesRoute } from './routes/messages.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
import { registerOpenApiRoute } from './routes/openapi.ts';
import { RequestValidationError, validationToApiError, validatorCompiler } from './validation.ts';

export interface HttpListener {
  readonly app: FastifyInstance;
  listen(host: string, port: number): Promise<AddressInfo>;
  /** In-flight requests finish; new ones get 503 (fastify's return503OnClosing); idle connections close. */
  close(): Promise<void>;
}

export const API_VERSION = '1.0.0';

/** The HTTP API (fastify): POST /v1/messages, health, metrics and its OpenAPI description. */
export async function createHttpListener(deps: HttpListenerDeps): Promise<HttpListener> {
  const app: FastifyInstance = Fastify({
    // Typed as fastify's logger interface: the instance type then matches the route modules'.
    loggerInstance: deps.logger.child({ listener: 'http' }) as FastifyBaseLogger,
    // accept() logs every message; a line per request would double that.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    requestTimeout: 120_000,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Outpost HTTP API',
        version: API_VERSION,
        description: 'Submit mail to Outpost: it is stored durably, then delivered or bounced.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500 && !(error instanceof ApiError))
      request.log.error({ err: error }, 'request failed');
    if (request.routeOptions.url === MESSAGES_ROUTE && request.method === 'POST' && !apiError.counted) {
      deps.metrics.refused('http', apiError.reason);
    }
    return sendError(reply, apiError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new ApiError(404, 'not_found', `No route ${request.method} ${request.url}`)),
  );
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpRequest(
      request.routeOptions.url ?? 'unmatched',
      request.method,
      reply.statusCode,
      reply.elapsedTime / 1_000,
    );
  });

  registerMessagesRoute(app, {
    ...deps,
    rateLimiter: createRedisRateLimiter(deps.redis, deps.logger),
    idempotency: createIdempotencyStore(deps.redis),
  });
  registerHealthRoutes(app, deps);
  registerMetricsRoute(app, deps.metrics);
  registerOpenApiRoute(app);
  await app.ready();

  return {
    app,
    async listen(host, port) {
      await app.listen({ host, port });
      return app.server.address() as AddressInfo;
    },
    async close() {
      await app.close();
    },
  };
}

function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
  // RFC 6750 §3: a 401 names the scheme the client should use.
  if (error.status === 401) reply.header('www-authenticate', 'Bearer realm="outpost"');
  return reply.code(error.status).send(error.toJSON());
}

/** Every error, ours or fastify's, as one answer shape. */
function toApiError(error: FastifyError | ApiError): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof RequestValidationError) return validationToApiError(error);
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'message_too_large', 'The request body is too large', {
        reason: 'messageTooBig',
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'Send the request as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'invalid_json', 'The body is not valid JSON');
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return new ApiError(status, 'invalid_request', error.message);
  return new ApiError(500, 'internal', 'Internal error');
}
