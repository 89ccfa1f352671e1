import type { OperatorKeyEntry } from '@outpost/config';
import type { Logger } from '@outpost/telemetry';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import { authenticateOperator } from '../operator-keys.ts';
import type { QueryContext } from '../query-context.ts';
import { QueryApiError, sendError } from './api-error.ts';
import { registerDeliveryRoutes } from './routes/deliveries.ts';
import { registerMessageRoutes } from './routes/messages.ts';
import { registerPageRoutes } from './routes/page.ts';
import { registerQueueRoutes } from './routes/queue.ts';
import { registerStatsRoutes } from './routes/stats.ts';
import { registerSuppressionRoutes } from './routes/suppressions.ts';

export interface QueryServerDeps {
  context: QueryContext;
  operatorKeys: readonly OperatorKeyEntry[];
  logger: Logger;
}

/**
 * The trace-query HTTP API: everything under /v1 needs an operator key; /healthz and the web page's
 * static files (/ui/) do not, the page asks for the key and calls /v1 with it.
 */
export async function createQueryServer(deps: QueryServerDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ listener: 'http' }) as FastifyBaseLogger,
    // Actions are logged with who did them; a line per query would drown them.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    requestTimeout: 60_000,
  });
  app.decorateRequest('operator', '');
  app.addHook('onRequest', async (request) => {
    // Judged by the route the request matched, not by its raw target: the router decodes the path
    // (and takes an absolute-form target), so "/%761/deliveries" reaches the /v1/deliveries route.
    const route = request.routeOptions.url;
    if (route === undefined || !route.startsWith('/v1/')) return;
    const name = authenticateOperator(deps.operatorKeys, request.headers.authorization);
    if (!name)
      throw new QueryApiError(401, 'unauthorized', 'Send an operator key as Authorization: Bearer <key>');
    (request as typeof request & { operator: string }).operator = name;
  });
  app.setErrorHandler((error: FastifyError | QueryApiError, request, reply) => {
    if (error instanceof QueryApiError) return sendError(reply, error);
    const status = error.statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return sendError(
      reply,
      status < 500
        ? new QueryApiError(status, 'invalid_request', error.message)
        : new QueryApiError(500, 'internal', 'Internal error'),
    );
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new QueryApiError(404, 'not_found', `No route ${request.method} ${request.url}`)),
  );
  app.get('/healthz', async () => ({ status: 'ok' }));
  registerMessageRoutes(app, deps.context);
  registerDeliveryRoutes(app, deps.context);
  registerQueueRoutes(app, deps.context);
  registerSuppressionRoutes(app, deps.context);
  registerStatsRoutes(app, deps.context);
  registerPageRoutes(app);
  await app.ready();
  return app;
}
