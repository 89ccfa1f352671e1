import type { Config } from '@outpost/config';
import type { MemoryGuard } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import type { Redis } from 'ioredis';
import type { AcceptMessage } from '../accept-message.ts';
import type { ApiKey } from './api-keys.ts';
import type { IngestMetrics } from './metrics.ts';

/** What the HTTP listener needs from the ingest that hosts it. */
export interface HttpListenerDeps {
  config: Config;
  logger: Logger;
  /** The producer connection: rate limits, idempotency records and the readiness probe. */
  redis: Redis;
  memoryGuard: Pick<MemoryGuard, 'state'>;
  /** accept() for a message that delivery may try for `lifetimeMs` (the request's expiresAt). */
  acceptFor(lifetimeMs: number): AcceptMessage;
  metrics: IngestMetrics;
  apiKeys: readonly ApiKey[];
}
