import { loadConfig, loadDeliveryConfig } from '@outpost/config';
import {
  type DsnEnvelopeParams,
  type Message,
  newMessageId,
  prepareMessage,
  type Recipient,
} from '@outpost/core';
import {
  type BounceJobData,
  createFlowMessageWriter,
  createRedisConnection,
  deliveryJobId,
  isSoloDeliveryJob,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  waitForRedis,
} from '@outpost/queue';
import { createLogger, type Tracer } from '@outpost/telemetry';
import {
  freePort,
  type SmtpReceiver,
  type SmtpScript,
  startDnsServer,
  startSmtpReceiver,
  type TestDnsServer,
  TestRedis,
} from '@outpost/testing';
import { Queue } from 'bullmq';
import { type Delivery, startDelivery } from '../src/index.ts';

/** Fast settings: timeouts and retries shrunk so scenarios finish in seconds. */
export const FAST_ENV: Record<string, string> = {
  OUTPOST_ENV: 'development',
  OUTPOST_HOSTNAME: 'outpost.test',
  OUTPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
  OUTPOST_SMTP_CONNECT_TIMEOUT: '1s',
  OUTPOST_SMTP_GREETING_TIMEOUT: '700ms',
  OUTPOST_SMTP_HELO_TIMEOUT: '1500ms',
  OUTPOST_SMTP_STARTTLS_TIMEOUT: '1500ms',
  OUTPOST_SMTP_COMMAND_TIMEOUT: '1500ms',
  OUTPOST_DNS_TIMEOUT: '300ms',
  OUTPOST_RETRY_FIRST: '300ms',
  OUTPOST_RETRY_MAX: '1s',
  OUTPOST_JOB_LOCK_DURATION: '5s',
  OUTPOST_JOB_STALLED_INTERVAL: '1s',
  OUTPOST_FAILED_SWEEP_INTERVAL: '500ms',
  OUTPOST_DELIVERY_HTTP_LISTEN: '127.0.0.1:0',
  OUTPOST_BOUNCE_HTTP_LISTEN: '127.0.0.1:0',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
};

/** Redis, a DNS server and receivers sharing one port on 127.0.0.x, as the destination's world. */
export class DeliveryWorld {
  readonly receivers = new Map<string, SmtpReceiver>();
  delivery: Delivery | undefined;
  #queues: Queue[] = [];

  readonly redis: TestRedis;
  readonly dns: TestDnsServer;
  readonly port: number;

  private constructor(redis: TestRedis, dns: TestDnsServer, port: number) {
    this.redis = redis;
    this.dns = dns;
    this.port = port;
  }

  static async start(): Promise<DeliveryWorld> {
    const [redis, dns, port] = await Promise.all([
      TestRedis.start(),
      startDnsServer(),
      freePort('127.0.0.2'),
    ]);
    return new DeliveryWorld(redis, dns, port);
  }

  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      ...FAST_ENV,
      REDIS_URL: this.redis.url,
      OUTPOST_DNS_SERVERS: this.dns.address,
      OUTPOST_DELIVERY_PORT: String(this.port),
      ...overrides,
    };
  }

  async receiver(host: string, script: SmtpScript = {}): Promise<SmtpReceiver> {
    const receiver = await startSmtpReceiver({ host, port: this.port, script, name: `mx.${host}` });
    this.receivers.set(host, receiver);
    return receiver;
  }

  /** MX records for `domain`, each exchange with the given A records. */
  mx(domain: string, hosts: Array<{ name: string; priority: number; a?: string[]; aaaa?: string[] }>): void {
    this.dns.set(
      domain,
      hosts.map((host) => ({ type: 'MX' as const, exchange: host.name, priority: host.priority })),
    );
    for (const host of hosts) {
      this.dns.set(host.name, [
        ...(host.a ?? []).map((address) => ({ type: 'A' as const, address })),
        ...(host.aaaa ?? []).map((address) => ({ type: 'AAAA' as const, address })),
      ]);
    }
  }

  async startDelivery(overrides: Record<string, string> = {}, tracer?: Tracer): Promise<Delivery> {
    const env = this.env(overrides);
    const config = loadConfig(env);
    this.delivery = await startDelivery({
      config,
      delivery: loadDeliveryConfig(env),
      logger: createLogger({ service: 'delivery', level: config.logLevel }),
      ...(tracer && { tracer }),
    });
    return this.delivery;
  }

  /** Queues a message the way ingest does (same writer, same preparation). */
  async enqueue(options: {
    sender?: string;
    recipients: Array<string | Recipient>;
    subject?: string;
    expiresInMs?: number;
    body?: string;
    dsn?: DsnEnvelopeParams;
    /** A message id chosen in advance (e.g. to hold the message before it is queued). */
    id?: string;
    /** The trace context ingest would have added. */
    traceparent?: string;
  }): Promise<Message> {
    const redis = createRedisConnection(this.redis.url, 'producer');
    await waitForRedis(redis);
    const writer = createFlowMessageWriter(redis, 'fsync');
    const now = Date.now();
    const message = prepareMessage({
      id: options.id ?? newMessageId(now),
      sender: options.sender ?? 'alice@example.com',
      recipients: options.recipients.map((entry) => (typeof entry === 'string' ? { address: entry } : entry)),
      dsn: options.dsn ?? {},
      raw: Buffer.from(
        options.body ?? `From: alice@example.com\r\nSubject: ${options.subject ?? 'test'}\r\n\r\nHello.\r\n`,
      ),
      client: { protocol: 'smtp', address: '127.0.0.1', tls: false },
      hostname: 'outpost.test',
      now,
      lifetimeMs: options.expiresInMs ?? 86_400_000,
      ...(options.traceparent && { traceparent: options.traceparent }),
    });
    await writer.write(message);
    await writer.close();
    await redis.quit();
    return message;
  }

  queue(name: keyof typeof QUEUE_NAMES): Queue {
    const queue = new Queue(QUEUE_NAMES[name], { connection: this.redis.client(), prefix: QUEUE_PREFIX });
    queue.on('error', () => {});
    this.#queues.push(queue);
    return queue;
  }

  /** Reports handed to the bounce service; failures unless another event is asked for. */
  async bounces(event: BounceJobData['event'] = 'failed'): Promise<BounceJobData[]> {
    const jobs = await this.queue('bounce').getJobs(['waiting', 'active', 'completed', 'delayed', 'failed']);
    return jobs.map((job) => job.data as BounceJobData).filter((data) => data.event === event);
  }

  /**
   * Resolves once the message is finished: a flow's message job completed and removed, or a
   * one-domain message's solo delivery job completed.
   */
  async waitForMessageDone(id: string, timeoutMs = 15_000): Promise<void> {
    const [message, delivery] = [this.queue('message'), this.queue('delivery')];
    const finished = async () => {
      if (await message.getJob(id)) return false;
      const solo = await delivery.getJob(deliveryJobId(id, 0));
      if (!solo || !isSoloDeliveryJob(solo.data)) return true;
      return (await solo.getState()) === 'completed';
    };
    await waitFor(finished, timeoutMs, `message ${id} finished`);
  }

  async stop(): Promise<void> {
    await this.delivery?.stop();
    await Promise.all(this.#queues.map((queue) => queue.close()));
    await Promise.all([...this.receivers.values()].map((receiver) => receiver.close()));
    await this.dns.close();
    await this.redis.stop();
  }
}

export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
