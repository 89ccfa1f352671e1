import { loadConfig, loadTraceQueryConfig } from '@outpost/config';
import { newMessageId, prepareMessage } from '@outpost/core';
import { createDestinationLimiter } from '@outpost/delivery';
import { createFlowMessageWriter, createRedisConnection, waitForRedis } from '@outpost/queue';
import {
  type AttemptRecord,
  createDeliveryLog,
  type RecipientVerdict,
  type TranscriptEntry,
} from '@outpost/store';
import { createLogger } from '@outpost/telemetry';
import { TestRedis } from '@outpost/testing';
import { generateOperatorKey, startTraceQuery, type TraceQuery } from '../src/index.ts';

/**
 * A delivery log written the way delivery writes it, at known times over the last hours, for the
 * page and its JSON endpoints: failures of several kinds, a hostile reply line, an expiry, a domain
 * held by an operator, and destination state. No worker runs, so nothing changes under the tests.
 */

const H = 3_600_000;
const MIN = 60_000;

/** Text a receiver may send back: the page must show it, never run it. */
export const HOSTILE_TEXT = '<img src=x onerror="window.__pwned=1"> The email account does not exist';
export const HOSTILE_SUBJECT = '<script>window.__pwned=2</script> Your order';

export interface WebWorld {
  redis: TestRedis;
  service: TraceQuery;
  base: string;
  key: string;
  now: number;
  ids: { bounced: string; mixed: string; expired: string; deferred: string; held: string };
  /** Every recipient outcome written, for the expected counts. */
  outcomes: Array<{ time: number; status: string }>;
  stop(): Promise<void>;
}

function transcript(start: number, lines: Array<[TranscriptEntry['direction'], string]>): TranscriptEntry[] {
  return lines.map(([direction, text], index) => ({ at: start + index * 7, direction, text }));
}

function verdict(
  address: string,
  status: RecipientVerdict['status'],
  fields: Partial<RecipientVerdict> = {},
): RecipientVerdict {
  const verdictOf = status === 'delivered' ? 'delivered' : status === 'bounced' ? 'bounced' : 'deferred';
  return {
    address,
    verdict: verdictOf,
    status,
    enhancedStatus: status === 'delivered' ? '2.0.0' : '4.0.0',
    category: status === 'delivered' ? 'delivered' : 'unknown',
    ...fields,
  };
}

export async function startWebWorld(): Promise<WebWorld> {
  const redis = await TestRedis.start();
  const client = redis.client();
  const log = createDeliveryLog(client);
  const now = Date.now();
  const outcomes: WebWorld['outcomes'] = [];

  const write = async (
    record: Omit<AttemptRecord, 'id' | 'durationMs' | 'sessions'> & {
      sessions?: AttemptRecord['sessions'];
    },
  ) => {
    await log.write({ id: newMessageId(record.time), durationMs: 120, sessions: [], ...record });
    for (const recipient of record.recipients) outcomes.push({ time: record.time, status: recipient.status });
    await log.setRecipientStates(
      record.messageId,
      record.recipients.map((recipient) => ({
        address: recipient.address,
        status: recipient.status,
        updatedAt: record.time + 120,
        enhancedStatus: recipient.enhancedStatus,
        category: recipient.category,
        ...(recipient.replyText !== undefined && { replyText: recipient.replyText }),
        attempts: record.attempt,
      })),
    );
  };
  const meta = (messageId: string, arrivalTime: number, recipients: string[], subject = 'Your order') =>
    log.setMessageMeta(messageId, {
      sender: 'shop@outpost.test',
      recipients,
      arrivalTime,
      expiresAt: arrivalTime + 5 * 24 * H,
      size: 2048,
      headers: { subject, from: 'Shop <shop@outpost.test>', messageId: `<${messageId}@outpost.test>` },
    });

  // A refusal whose text would run a script if it were ever put into the page as HTML.
  const bouncedAt = now - 2 * H - 5 * MIN;
  const bounced = newMessageId(bouncedAt - 1000);
  await meta(bounced, bouncedAt - 1000, ['nobody@gmail.test'], HOSTILE_SUBJECT);
  await write({
    messageId: bounced,
    domain: 'gmail.test',
    attempt: 1,
    time: bouncedAt,
    mxHost: 'mx.gmail.test',
    mxAddress: '192.0.2.25',
    recipients: [
      verdict('nobody@gmail.test', 'bounced', {
        enhancedStatus: '5.1.1',
        category: 'no_such_user',
        replyCode: 550,
        replyText: HOSTILE_TEXT,
      }),
    ],
    sessions: [
      {
        host: 'mx.gmail.test',
        address: '192.0.2.25',
        port: 25,
        tls: true,
        // The TLS outcome newer records carry (spread: records written before it lack it).
        ...{
          tlsOutcome: {
            mode: 'opportunistic',
            protocol: 'TLSv1.3',
            certificateVerified: false,
            error: 'self-signed certificate',
          },
        },
        greeted: true,
        durationMs: 95,
        transcript: transcript(bouncedAt, [
          ['S', '220 mx.gmail.test ESMTP ready'],
          ['C', 'EHLO outpost.test'],
          ['S', '250 mx.gmail.test at your service'],
          ['C', 'MAIL FROM:<shop@outpost.test>'],
          ['S', '250 2.1.0 OK'],
          ['C', 'RCPT TO:<nobody@gmail.test>'],
          ['S', `550 5.1.1 ${HOSTILE_TEXT}`],
          ['C', 'QUIT'],
        ]),
      },
    ],
  });

  // One delivered, one refused for our address's reverse DNS.
  const mixedAt = now - 30 * MIN;
  const mixed = newMessageId(mixedAt - 1000);
  await meta(mixed, mixedAt - 1000, ['bob@example.org', 'carol@example.org']);
  await write({
    messageId: mixed,
    domain: 'example.org',
    attempt: 1,
    time: mixedAt,
    mxHost: 'mx.example.org',
    mxAddress: '192.0.2.80',
    recipients: [
      verdict('bob@example.org', 'delivered', { replyCode: 250, replyText: 'Ok' }),
      verdict('carol@example.org', 'bounced', {
        enhancedStatus: '5.7.25',
        category: 'policy_ip_or_ptr',
        replyCode: 550,
        replyText: 'The IP address sending this message does not have a PTR record setup',
      }),
    ],
    sessions: [
      {
        host: 'mx.example.org',
        address: '192.0.2.80',
        port: 25,
        tls: false,
        greeted: true,
        durationMs: 80,
        transcript: transcript(mixedAt, [
          ['S', '220 mx.example.org ESMTP'],
          ['C', 'RCPT TO:<carol@example.org>'],
          ['S', '550 5.7.25 The IP address sending this message does not have a PTR record setup'],
        ]),
      },
    ],
  });

  // Greylisted, then the lifetime ran out.
  const expired = newMessageId(now - 6 * H);
  await meta(expired, now - 6 * H, ['dave@grey.test']);
  const greylisted = {
    enhancedStatus: '4.7.1',
    category: 'greylisted',
    replyCode: 451,
    replyText: 'Greylisted, come back later',
  };
  await write({
    messageId: expired,
    domain: 'grey.test',
    attempt: 1,
    time: now - 5 * H - 10 * MIN,
    recipients: [verdict('dave@grey.test', 'deferred', greylisted)],
  });
  await write({
    messageId: expired,
    domain: 'grey.test',
    attempt: 2,
    time: now - H - 10 * MIN,
    recipients: [verdict('dave@grey.test', 'expired', { ...greylisted, enhancedStatus: '4.4.7' })],
  });

  // A server that refuses connections: no reply at all, only what happened.
  const deferredAt = now - 3 * H - 20 * MIN;
  const deferred = newMessageId(deferredAt - 1000);
  await meta(deferred, deferredAt - 1000, ['erin@slow.test']);
  await write({
    messageId: deferred,
    domain: 'slow.test',
    attempt: 1,
    time: deferredAt,
    recipients: [
      verdict('erin@slow.test', 'deferred', {
        enhancedStatus: '4.4.1',
        category: 'connection_refused_or_timeout',
        replyText: 'connect ECONNREFUSED 192.0.2.99:25',
      }),
    ],
    sessions: [
      {
        host: 'mx.slow.test',
        address: '192.0.2.99',
        port: 25,
        tls: false,
        greeted: false,
        durationMs: 3,
        transcript: transcript(deferredAt, [['*', 'connect ECONNREFUSED 192.0.2.99:25']]),
      },
    ],
  });

  // Delivered mail spread over the hours, so the chart has a shape.
  for (const [hoursAgo, count] of [
    [0, 3],
    [1, 5],
    [2, 2],
    [4, 4],
    [7, 1],
  ] as const) {
    const time = now - hoursAgo * H - 2 * MIN;
    const messageId = newMessageId(time - 500);
    const recipients = Array.from({ length: count }, (_, index) => `user${index}@example.org`);
    await meta(messageId, time - 500, recipients);
    await write({
      messageId,
      domain: 'example.org',
      attempt: 1,
      time,
      recipients: recipients.map((address) => verdict(address, 'delivered', { replyCode: 250 })),
    });
  }

  // Destination state as delivery leaves it: one throttled after trouble, one paused.
  const limiter = createDestinationLimiter(client);
  const slot = await limiter.acquire('mx.gmail.test:25');
  if (slot.granted) await slot.lease.release();
  await limiter.adapt('mx.gmail.test:25', 'trouble', '421 4.7.0 Try again later, closing connection');
  await limiter.pause('mx.slow.test:25', now + 10 * MIN, 'connect ECONNREFUSED 192.0.2.99:25');

  // A queued message whose domain an operator holds (through the API, as an operator would).
  const producer = createRedisConnection(redis.url, 'producer');
  await waitForRedis(producer);
  const writer = createFlowMessageWriter(producer, 'fsync');
  const heldMessage = prepareMessage({
    id: newMessageId(now - 10 * MIN),
    sender: 'shop@outpost.test',
    recipients: [{ address: 'frank@held.test' }],
    dsn: {},
    raw: Buffer.from('From: shop@outpost.test\r\nSubject: waiting\r\n\r\nHello.\r\n'),
    client: { protocol: 'http', address: '127.0.0.1', tls: false },
    hostname: 'outpost.test',
    now: now - 10 * MIN,
    lifetimeMs: 5 * 24 * H,
  });
  await writer.write(heldMessage);
  await writer.close();
  await producer.quit();

  const { key, entry } = generateOperatorKey('ops');
  const env = {
    OUTPOST_ENV: 'development',
    OUTPOST_HOSTNAME: 'outpost.test',
    REDIS_URL: redis.url,
    OUTPOST_TRACE_QUERY_LISTEN: '127.0.0.1:0',
    OUTPOST_OPERATOR_KEYS: entry,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  };
  const service = await startTraceQuery({
    config: loadConfig(env),
    queryConfig: loadTraceQueryConfig(env),
    logger: createLogger({ service: 'trace-query', level: env.LOG_LEVEL }),
  });
  const base = `http://127.0.0.1:${service.address.port}`;
  const hold = await fetch(`${base}/v1/domains/held.test/hold`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
  });
  if (hold.status !== 200) throw new Error(`holding held.test answered ${hold.status}`);

  return {
    redis,
    service,
    base,
    key,
    now,
    ids: { bounced, mixed, expired, deferred, held: heldMessage.id },
    outcomes,
    async stop() {
      await service.stop();
      await redis.stop();
    },
  };
}
