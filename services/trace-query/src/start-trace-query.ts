import type { AddressInfo } from 'node:net';
import type { Config, TraceQueryConfig } from '@outpost/config';
import { createRedisConnection, waitForRedis } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import { createQueryServer } from './http/query-server.ts';
import { openQueryContext } from './query-context.ts';

export interface TraceQueryOptions {
  config: Config;
  queryConfig: TraceQueryConfig;
  logger: Logger;
}

export interface TraceQuery {
  readonly address: AddressInfo;
  stop(): Promise<void>;
}

/** `outpost trace-query`: the operators' HTTP API over the delivery log and the queues. */
export async function startTraceQuery(options: TraceQueryOptions): Promise<TraceQuery> {
  const { config, queryConfig, logger } = options;
  const redis = createRedisConnection(config.redisUrl, 'worker');
  redis.on('error', (error) => logger.debug({ err: error }, 'redis connection error'));
  await waitForRedis(redis);
  const context = openQueryContext(redis, {
    ...(queryConfig.traceUiUrl && { traceUiUrl: queryConfig.traceUiUrl }),
    logRetentionMs: queryConfig.logRetentionMs,
    webhooks: queryConfig.webhooksEnabled,
  });
  if (queryConfig.operatorKeys.length === 0)
    logger.warn(
      'OUTPOST_OPERATOR_KEYS is empty: every /v1 request is refused (make one with `outpost operator-key`)',
    );
  const app = await createQueryServer({ context, operatorKeys: queryConfig.operatorKeys, logger });
  await app.listen({ host: queryConfig.listen.host, port: queryConfig.listen.port });
  const address = app.server.address() as AddressInfo;
  logger.info(
    { http: address, operators: queryConfig.operatorKeys.map((key) => key.name) },
    'trace-query running',
  );
  return {
    address,
    async stop() {
      await app.close();
      await context.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
