import type { Config, WebhookConfig } from '@outpost/config';
import {
  createRedisConnection,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  type WebhookEvent,
  waitForRedis,
} from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import { Worker } from 'bullmq';
import { redactUrl } from './post-event.ts';
import { processWebhookJob } from './process-webhook-job.ts';

export interface WebhookSender {
  stop(): Promise<void>;
}

export interface WebhookSenderOptions {
  config: Config;
  webhookConfig: WebhookConfig;
  logger: Logger;
}

/**
 * Consumes the `webhook` queue that delivery fills, POSTing each recipient outcome to the
 * configured URLs. Runs beside delivery but never in its way: delivery only queues the events.
 * Without URLs it does nothing (and delivery queues nothing).
 */
export async function startWebhookSender(options: WebhookSenderOptions): Promise<WebhookSender> {
  const { config, webhookConfig, logger } = options;
  if (webhookConfig.urls.length === 0) {
    logger.debug('webhooks off: OUTPOST_WEBHOOK_URLS is empty');
    return { stop: async () => {} };
  }
  const redis = createRedisConnection(config.redisUrl, 'worker');
  redis.on('error', (error) => logger.debug({ err: error }, 'redis connection error'));
  await waitForRedis(redis);
  const worker = new Worker<WebhookEvent>(
    QUEUE_NAMES.webhook,
    (job, token) => processWebhookJob(job, token, { config: webhookConfig, logger }),
    {
      connection: redis,
      prefix: QUEUE_PREFIX,
      concurrency: webhookConfig.concurrency,
      // A try may take the timeout for each URL (they run in parallel): keep the lock well past it.
      lockDuration: Math.max(30_000, webhookConfig.timeoutMs * 3),
    },
  );
  worker.on('error', (error) => logger.warn({ err: error }, 'webhook worker error'));
  logger.info({ urls: webhookConfig.urls.map(redactUrl) }, 'webhook sender running');
  return {
    async stop() {
      await worker.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
