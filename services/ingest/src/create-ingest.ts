import type { AddressInfo } from 'node:net';
import type { Config } from '@outpost/config';
import {
  assertNoEviction,
  createFlowMessageWriter,
  createRedisConnection,
  type Durability,
  MemoryGuard,
  type MessageWriter,
  resolveDurability,
  waitForRedis,
} from '@outpost/queue';
import type { Logger, Tracer } from '@outpost/telemetry';
import type { Redis } from 'ioredis';
import type { SMTPServer } from 'smtp-server';
import { type AcceptMessage, createMessageAcceptor } from './accept-message.ts';
import { loadDkimKeys } from './dkim/dkim-keys.ts';
import { createDkimSigner } from './dkim/dkim-signer.ts';
import { parseApiKeys } from './http/api-keys.ts';
import { createHttpListener, type HttpListener } from './http/http-listener.ts';
import { createIngestMetrics, type IngestMetrics, instrumentAcceptor } from './http/metrics.ts';
import { createSmtpListener } from './smtp-listener.ts';
import { loadTlsMaterial } from './tls.ts';
import { loadUsersFile, type SubmissionUser } from './users.ts';

export interface Ingest {
  /** Bound addresses, useful when the configuration asked for port 0. */
  readonly addresses: { smtp: AddressInfo; smtps?: AddressInfo; http: AddressInfo };
  /** This ingest's Prometheus metrics (also served at GET /metrics). */
  readonly metrics: IngestMetrics;
  stop(): Promise<void>;
}

export interface IngestOptions {
  config: Config;
  logger: Logger;
  tracer?: Tracer;
  /** Overrides for tests and the benchmark. */
  writerFactory?: (
    redis: Redis,
    durability: Durability,
    onConnectionError: (error: Error) => void,
  ) => MessageWriter;
}

/** Wires ingest: checks Redis, loads users, API keys and TLS, and starts the listeners. */
export async function startIngest(options: IngestOptions): Promise<Ingest> {
  const { config, logger } = options;
  // A pure parse: a bad OUTPOST_API_KEYS stops the start before anything connects.
  const apiKeys = parseApiKeys(config.apiKeys);
  const metrics = createIngestMetrics();
  const redis = createRedisConnection(config.redisUrl, 'producer', 4_000);
  redis.on('error', (error) => logger.debug({ err: error }, 'redis connection error'));
  const servers: SMTPServer[] = [];
  let http: HttpListener | undefined;
  let memoryGuard: MemoryGuard | undefined;
  let writer: MessageWriter | undefined;
  try {
    await waitForRedis(redis, 10_000);
    await assertNoEviction(redis);
    const durability = await resolveDurability(
      redis,
      config.redisDurability,
      config.redisDurability === 'none' || config.env === 'development',
    );
    if (durability === 'none') logger.warn('Redis does not fsync accepted mail: a Redis crash can lose it');
    memoryGuard = new MemoryGuard(redis, config.redisHighWater);
    await memoryGuard.refresh();
    memoryGuard.start();
    writer = (options.writerFactory ?? createFlowMessageWriter)(redis, durability, (error) =>
      logger.debug({ err: error }, 'queue connection error'),
    );
    const users: ReadonlyMap<string, SubmissionUser> = config.usersFile
      ? await loadUsersFile(config.usersFile)
      : new Map();
    const tls = await loadTlsMaterial(config, logger);
    const dkimKeys = await loadDkimKeys({
      ...(config.dkim.keysDir && { dir: config.dkim.keysDir }),
      ...(config.dkim.keys && { inline: config.dkim.keys }),
    });
    const acceptDeps = {
      writer,
      memoryGuard,
      hostname: config.hostname,
      logger,
      ...(dkimKeys.size > 0 && {
        dkimSign: await createDkimSigner(dkimKeys, { useParentDomain: config.dkim.useParentDomain }),
      }),
      ...(options.tracer && { tracer: options.tracer }),
    };
    // Every message, from either listener, goes through the same instrumented accept().
    const acceptFor = (queueLifetimeMs: number): AcceptMessage =>
      instrumentAcceptor(createMessageAcceptor({ ...acceptDeps, queueLifetimeMs }), metrics);
    const accept = acceptFor(config.queueLifetimeMs);
    const deps = { config, accept, users, tls, logger, redis, memoryGuard, metrics };
    const smtp = createSmtpListener(deps, 'starttls');
    servers.push(smtp);
    const smtpAddress = await listen(smtp, config.smtpListen.host, config.smtpListen.port);
    let smtpsAddress: AddressInfo | undefined;
    if (config.smtpsListen) {
      const smtps = createSmtpListener(deps, 'implicit-tls');
      servers.push(smtps);
      smtpsAddress = await listen(smtps, config.smtpsListen.host, config.smtpsListen.port);
    }
    http = await createHttpListener({
      config,
      logger,
      redis,
      memoryGuard,
      metrics,
      apiKeys,
      acceptFor: (lifetimeMs) => (lifetimeMs === config.queueLifetimeMs ? accept : acceptFor(lifetimeMs)),
    });
    const httpAddress = await http.listen(config.httpListen.host, config.httpListen.port);
    logger.info(
      {
        smtp: smtpAddress,
        smtps: smtpsAddress,
        http: httpAddress,
        durability,
        users: users.size,
        apiKeys: apiKeys.length,
        pid: process.pid,
      },
      'ingest listening',
    );
    const httpListener = http;
    const guard = memoryGuard;
    const activeWriter = writer;
    return {
      addresses: { smtp: smtpAddress, ...(smtpsAddress && { smtps: smtpsAddress }), http: httpAddress },
      metrics,
      async stop() {
        await Promise.all([
          httpListener.close(),
          ...servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
        ]);
        guard.stop();
        await activeWriter.close();
        await redis.quit().catch(() => redis.disconnect());
      },
    };
  } catch (error) {
    await Promise.all([
      http?.close(),
      ...servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    ]);
    memoryGuard?.stop();
    await writer?.close().catch(() => {});
    redis.disconnect();
    throw error;
  }
}

function listen(server: SMTPServer, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.server.address() as AddressInfo);
    });
  });
}
