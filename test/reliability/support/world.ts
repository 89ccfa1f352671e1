import { randomBytes } from 'node:crypto';
import { type Bounce, startBounce } from '@outpost/bounce';
import { loadBounceConfig, loadConfig, loadDeliveryConfig } from '@outpost/config';
import { newMessageId, prepareMessage } from '@outpost/core';
import { type Delivery, startDelivery } from '@outpost/delivery';
import { type Ingest, startIngest } from '@outpost/ingest';
import {
  createFlowMessageWriter,
  createRedisConnection,
  type MessageWriter,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  waitForRedis,
} from '@outpost/queue';
import { createLogger, setupTracing, type Tracer } from '@outpost/telemetry';
import {
  freePort,
  type OutpostProcess,
  type SmtpReceiver,
  type SmtpScript,
  spawnOutpost,
  startDnsServer,
  startSmtpReceiver,
  type TestDnsServer,
  TestRedis,
  type TestRedisOptions,
} from '@outpost/testing';
import type { Redis } from 'ioredis';
import { FAST_ENV as SERVICE_TEST_ENV, waitFor } from '../../../services/delivery/test/helpers.ts';

export { waitFor };

import {
  type AcceptedMessage,
  type Allowances,
  checkInvariants,
  formatViolations,
  type InvariantReport,
  type SpanFacts,
} from '../invariants.ts';
import { collectSnapshot } from '../snapshot.ts';
import { setting } from './scale.ts';
import { SpanRecorder } from './spans.ts';

/**
 * The services' own test settings (timeouts and retries shrunk so that a scenario takes seconds),
 * with the DSN window shortened and every listener on a free port.
 */
export const FAST_ENV: Record<string, string> = {
  ...SERVICE_TEST_ENV,
  OUTPOST_DSN_COLLECT_WINDOW: '300ms',
  OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
  OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
  OUTPOST_TRACE_QUERY_LISTEN: '127.0.0.1:0',
  LOG_LEVEL: setting('TEST_LOG_LEVEL') ?? 'silent',
};

/** Sums the lengths of lists and sorted sets, whichever each key is. */
const COUNT_PENDING = `
local total = 0
for _, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind == 'list' then total = total + redis.call('LLEN', key)
  elseif kind == 'zset' then total = total + redis.call('ZCARD', key) end
end
return total
`;

/** What each verb logs once it is ready. */
const READY: Record<string, string> = {
  ingest: 'ingest listening',
  delivery: 'delivery running',
  bounce: 'bounce running',
};

/**
 * A scenario's world: a throwaway Redis, a DNS server and scripted receivers on 127.0.0.x (one
 * port), the Outpost services in this process or as processes, the ledger of what ingest
 * accepted, and the spans. `check()` ends a scenario with the invariants.
 */
export class ReliabilityWorld {
  readonly receivers = new Map<string, SmtpReceiver>();
  readonly accepted: AcceptedMessage[] = [];
  readonly spans = new SpanRecorder();
  readonly tracer: Tracer;
  readonly redis: TestRedis;
  readonly dns: TestDnsServer;
  readonly port: number;
  #stops: Array<() => Promise<unknown>> = [];
  #processes = new Set<OutpostProcess>();
  #admin: Redis | undefined;

  private constructor(redis: TestRedis, dns: TestDnsServer, port: number) {
    this.redis = redis;
    this.dns = dns;
    this.port = port;
    this.tracer = setupTracing({ serviceName: 'outpost-reliability', exporter: this.spans }).tracer;
  }

  static async start(redisOptions: TestRedisOptions = {}): Promise<ReliabilityWorld> {
    const [redis, dns, port] = await Promise.all([
      TestRedis.start(redisOptions),
      startDnsServer(),
      freePort('127.0.0.2'),
    ]);
    return new ReliabilityWorld(redis, dns, port);
  }

  /** Runs `stop` when the world stops (a proxy, a collector ...), before Redis goes. */
  onStop(stop: () => Promise<unknown>): void {
    this.#stops.push(stop);
  }

  /** A Redis client the world closes. */
  get admin(): Redis {
    this.#admin ??= this.redis.client();
    return this.#admin;
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

  /** A scripted receiver on `host`, offering STARTTLS when given a certificate. */
  async receiver(
    host: string,
    script: SmtpScript = {},
    tls?: { key: string; cert: string },
  ): Promise<SmtpReceiver> {
    const receiver = await startSmtpReceiver({
      host,
      port: this.port,
      script,
      name: `mx.${host}`,
      ...(tls && { tls }),
    });
    this.receivers.set(host, receiver);
    return receiver;
  }

  /** `domain`'s MX is `mx.<domain>`, at `address` (a receiver, a fault proxy ...). */
  mx(domain: string, address: string): void {
    this.dns.set(domain, [{ type: 'MX', exchange: `mx.${domain}`, priority: 10 }]);
    this.dns.set(`mx.${domain}`, [{ type: 'A', address }]);
  }

  async startIngest(overrides: Record<string, string> = {}): Promise<Ingest> {
    const config = loadConfig(this.env(overrides));
    const ingest = await startIngest({
      config,
      logger: createLogger({ service: 'ingest', level: config.logLevel }),
      tracer: this.tracer,
    });
    this.#stops.push(() => ingest.stop());
    return ingest;
  }

  async startDelivery(overrides: Record<string, string> = {}): Promise<Delivery> {
    const env = this.env(overrides);
    const config = loadConfig(env);
    const delivery = await startDelivery({
      config,
      delivery: loadDeliveryConfig(env),
      logger: createLogger({ service: 'delivery', level: config.logLevel }),
      tracer: this.tracer,
    });
    this.#stops.push(() => delivery.stop());
    return delivery;
  }

  async startBounce(overrides: Record<string, string> = {}): Promise<Bounce> {
    const env = this.env(overrides);
    const config = loadConfig(env);
    const bounce = await startBounce({
      config,
      bounce: loadBounceConfig(env),
      logger: createLogger({ service: 'bounce', level: config.logLevel }),
      tracer: this.tracer,
      sweepIntervalMs: 500,
    });
    this.#stops.push(() => bounce.stop());
    return bounce;
  }

  /** `outpost <verb>` as its own process (killable), once it says it is ready. */
  async spawn(verb: string, overrides: Record<string, string> = {}): Promise<OutpostProcess> {
    const child = spawnOutpost(verb, this.env({ LOG_LEVEL: 'info', ...overrides }));
    this.#processes.add(child);
    child.child.once('exit', () => this.#processes.delete(child));
    if (READY[verb]) await child.waitForLog((line) => line.msg === READY[verb], 20_000);
    return child;
  }

  /** The SMTP port an `outpost ingest` process listens on. */
  static smtpPortOf(ingest: OutpostProcess): number {
    const ready = ingest.logs.find((line) => line.msg === READY.ingest);
    if (!ready) throw new Error('outpost ingest is not listening yet');
    return (ready.smtp as { port: number }).port;
  }

  /**
   * Queues messages the way ingest does (same preparation, same flow writer, one group commit),
   * each in a trace of its own, and adds them to the ledger.
   */
  async enqueue(
    messages: Array<{ sender?: string; recipients: string[]; body?: string; lifetimeMs?: number }>,
  ): Promise<AcceptedMessage[]> {
    const redis = createRedisConnection(this.redis.url, 'producer');
    await waitForRedis(redis);
    const writer: MessageWriter = createFlowMessageWriter(redis, 'fsync');
    try {
      const now = Date.now();
      const prepared = messages.map((options) =>
        prepareMessage({
          id: newMessageId(now),
          sender: options.sender ?? 'alice@origin.test',
          recipients: options.recipients.map((address) => ({ address })),
          dsn: {},
          raw: Buffer.from(
            options.body ?? 'From: alice@origin.test\r\nSubject: reliability\r\n\r\nHello.\r\n',
          ),
          client: { protocol: 'smtp', address: '127.0.0.1', tls: false },
          hostname: 'outpost.test',
          now,
          lifetimeMs: options.lifetimeMs ?? 86_400_000,
          traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
        }),
      );
      await Promise.all(prepared.map((message) => writer.write(message)));
      const accepted = prepared.map((message) => ({
        id: message.id,
        sender: message.sender,
        recipients: message.recipients.map((recipient) => recipient.address),
      }));
      this.accepted.push(...accepted);
      return accepted;
    } finally {
      await writer.close();
      await redis.quit();
    }
  }

  /**
   * Jobs still to do (waiting, active, delayed, waiting for children) across queues, read in one
   * script: every BullMQ move is atomic, so the count never catches a job between two queues. (Not
   * MULTI: a Redis out of memory refuses every command queued in a MULTI, even reads.)
   */
  async pendingJobs(): Promise<number> {
    const keys = [QUEUE_NAMES.message, QUEUE_NAMES.delivery, QUEUE_NAMES.bounce].flatMap((name) =>
      ['wait', 'active', 'paused', 'delayed', 'waiting-children', 'prioritized'].map(
        (part) => `${QUEUE_PREFIX}:${name}:${part}`,
      ),
    );
    return Number(await this.admin.eval(COUNT_PENDING, keys.length, ...keys));
  }

  /** Resolves once no queue has anything left to do: only then is "nothing more arrived" a fact. */
  async settled(timeoutMs: number): Promise<void> {
    await waitFor(async () => (await this.pendingJobs().catch(() => 1)) === 0, timeoutMs, 'all queues idle');
  }

  /** The invariants over everything that happened; `spans` default to the in-process recorder's. */
  async check(allowances: Allowances = {}, spans: readonly SpanFacts[] = this.spans.spans) {
    const snapshot = await collectSnapshot({
      redis: this.admin,
      accepted: this.accepted,
      receivers: this.receivers.values(),
      spans,
    });
    return checkInvariants(snapshot, allowances);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#processes].map((child) => child.kill('SIGKILL')));
    for (const stop of this.#stops.splice(0).reverse()) await stop().catch(() => {});
    await Promise.all([...this.receivers.values()].map((receiver) => receiver.close()));
    await this.dns.close();
    await this.redis.stop();
  }
}

/** Throws with the violations listed, one a line, when the report has any. */
export function assertNoViolations(report: InvariantReport): void {
  if (report.violations.length === 0) return;
  throw new Error(`${report.violations.length} invariant violation(s):\n${formatViolations(report)}`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
