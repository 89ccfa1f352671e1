import { loadBounceConfig, loadConfig } from '@outpost/config';
import type { Message } from '@outpost/core';
import { QUEUE_NAMES, QUEUE_PREFIX } from '@outpost/queue';
import { createLogger } from '@outpost/telemetry';
import type { ReceivedMessage, SmtpReceiver, SmtpScript } from '@outpost/testing';
import { DeliveryWorld, waitFor } from '../../delivery/test/helpers.ts';
import { type Bounce, type BounceOptions, startBounce } from '../src/index.ts';
import { type ParsedDsn, parseDsn } from './parse-dsn.ts';

export { waitFor };

/** The collection window and the rest shrunk, on top of delivery's fast settings. */
export const BOUNCE_FAST_ENV: Record<string, string> = {
  OUTPOST_DSN_COLLECT_WINDOW: '300ms',
};

/**
 * Delivery's test world (Redis, DNS, scripted receivers on 127.0.0.x, the delivery service) plus
 * the bounce service: a message that fails produces a DSN that delivery takes to the sender's own
 * mail server, a scripted receiver too.
 */
export class BounceWorld {
  readonly world: DeliveryWorld;
  bounce: Bounce | undefined;

  private constructor(world: DeliveryWorld) {
    this.world = world;
  }

  static async start(): Promise<BounceWorld> {
    return new BounceWorld(await DeliveryWorld.start());
  }

  /** Starts delivery and bounce with the fast settings and these overrides. */
  async startServices(
    env: Record<string, string> = {},
    options: Pick<BounceOptions, 'writerFactory' | 'webhooks' | 'tracer'> = {},
  ): Promise<void> {
    const all = this.world.env({ ...BOUNCE_FAST_ENV, ...env });
    await this.world.startDelivery({ ...BOUNCE_FAST_ENV, ...env });
    const config = loadConfig(all);
    this.bounce = await startBounce({
      config,
      bounce: loadBounceConfig(all),
      logger: createLogger({ service: 'bounce', level: config.logLevel }),
      ...options,
    });
  }

  /** A domain whose MX is a receiver on `host`, answering as scripted. */
  async domain(domain: string, host: string, script: SmtpScript = {}): Promise<SmtpReceiver> {
    const receiver = await this.world.receiver(host, script);
    this.world.mx(domain, [{ name: `mx.${domain}`, priority: 10, a: [host] }]);
    return receiver;
  }

  /** A domain whose server refuses every recipient with `reply`. */
  refusing(domain: string, host: string, reply = '550 5.1.1 No such user here'): Promise<SmtpReceiver> {
    return this.domain(domain, host, { rcpt: reply });
  }

  enqueue(options: Parameters<DeliveryWorld['enqueue']>[0]): Promise<Message> {
    return this.world.enqueue(options);
  }

  /** DSNs the receiver got about `original` (by In-Reply-To), parsed. */
  async dsnsAbout(receiver: SmtpReceiver, original: Message): Promise<ParsedDsn[]> {
    const parsed = await Promise.all(receiver.messages.map(parseIfDsn));
    return parsed.filter((dsn): dsn is ParsedDsn => dsn?.mail.inReplyTo === original.headers.messageId);
  }

  /** Waits until `count` DSNs about `original` reached the receiver. */
  async waitForDsns(
    receiver: SmtpReceiver,
    original: Message,
    count = 1,
    timeoutMs = 15_000,
  ): Promise<ParsedDsn[]> {
    let found: ParsedDsn[] = [];
    await waitFor(
      async () => {
        found = await this.dsnsAbout(receiver, original);
        return found.length >= count;
      },
      timeoutMs,
      `${count} DSN(s) about ${original.id} at ${receiver.host}`,
    );
    return found;
  }

  /**
   * Resolves once nothing is left to happen: no message, delivery or bounce job waiting, delayed
   * or running. Only then is "no DSN arrived" a fact rather than impatience.
   */
  async settled(timeoutMs = 20_000): Promise<void> {
    const redis = this.world.redis.client();
    await waitFor(
      async () => {
        // One MULTI reads every queue at once: each BullMQ move is atomic, so the snapshot never
        // catches a job between two queues (a report that became a send job, a DSN written).
        const multi = redis.multi();
        // Webhook events wait for a sender these tests do not run.
        for (const name of Object.values(QUEUE_NAMES).filter((queue) => queue !== QUEUE_NAMES.webhook)) {
          const key = (part: string) => `${QUEUE_PREFIX}:${name}:${part}`;
          multi.llen(key('wait')).llen(key('active')).llen(key('paused'));
          multi.zcard(key('delayed')).zcard(key('waiting-children')).zcard(key('prioritized'));
        }
        const replies = (await multi.exec()) ?? [];
        return replies.every(([error, count]) => error === null && count === 0);
      },
      timeoutMs,
      'all queues idle',
    );
  }

  async stop(): Promise<void> {
    await this.bounce?.stop();
    await this.world.stop();
  }
}

async function parseIfDsn(message: ReceivedMessage): Promise<ParsedDsn | undefined> {
  if (!message.data.toString('latin1').includes('report-type=delivery-status')) return undefined;
  return parseDsn(message);
}
