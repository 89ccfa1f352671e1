import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { loadConfig, loadTraceQueryConfig } from '@outpost/config';
import { type Message, newMessageId, prepareMessage } from '@outpost/core';
import { createFlowMessageWriter, createRedisConnection, waitForRedis } from '@outpost/queue';
import { createLogger } from '@outpost/telemetry';
import type { DeliveryWorld } from '../../delivery/test/helpers.ts';
import { generateOperatorKey, startTraceQuery, type TraceQuery } from '../src/index.ts';

/** The trace-query service on a free loopback port, with one operator key named `name`. */
export async function startQueryService(
  world: DeliveryWorld,
  options: { name?: string; env?: Record<string, string> } = {},
): Promise<{ service: TraceQuery; base: string; key: string }> {
  const { key, entry } = generateOperatorKey(options.name ?? 'ops');
  const env = world.env({
    OUTPOST_TRACE_QUERY_LISTEN: '127.0.0.1:0',
    OUTPOST_OPERATOR_KEYS: entry,
    ...options.env,
  });
  const service = await startTraceQuery({
    config: loadConfig(env),
    queryConfig: loadTraceQueryConfig(env),
    logger: createLogger({ service: 'trace-query', level: env.LOG_LEVEL ?? 'silent' }),
  });
  return { service, base: `http://127.0.0.1:${service.address.port}`, key };
}

/** A JSON API call with the operator key; answers status and parsed body. */
export async function api<T = Record<string, unknown>>(
  base: string,
  key: string | undefined,
  path: string,
  method: 'GET' | 'POST' | 'DELETE' = 'GET',
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** Queues a message the way ingest does, with the trace context ingest would have added. */
export async function enqueueTraced(
  world: DeliveryWorld,
  recipients: string[],
  traceparent: string,
): Promise<Message> {
  const redis = createRedisConnection(world.redis.url, 'producer');
  await waitForRedis(redis);
  const writer = createFlowMessageWriter(redis, 'fsync');
  const now = Date.now();
  const message = {
    ...prepareMessage({
      id: newMessageId(now),
      sender: 'alice@example.com',
      recipients: recipients.map((address) => ({ address })),
      dsn: {},
      raw: Buffer.from('From: alice@example.com\r\nSubject: traced\r\n\r\nHello.\r\n'),
      client: { protocol: 'smtp', address: '127.0.0.1', tls: false },
      hostname: 'outpost.test',
      now,
      lifetimeMs: 86_400_000,
    }),
    traceparent,
  };
  await writer.write(message);
  await writer.close();
  await redis.quit();
  return message;
}

/**
 * A relay that requires nothing but offers AUTH (the test receiver does not): it takes any
 * credentials, accepts `ok@` recipients and the message, and refuses every other recipient.
 */
export async function startAuthRelay(
  host: string,
  port: number,
): Promise<{ logins: string[]; close(): Promise<void> }> {
  const logins: string[] = [];
  const server: Server = createServer((socket) => {
    let buffer = '';
    let inData = false;
    let expecting: 'user' | 'pass' | undefined;
    socket.setEncoding('latin1');
    socket.write('220 relay.test ESMTP\r\n');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buffer = buffer.slice(end + 5);
          inData = false;
          socket.write('250 2.0.0 Queued on the relay\r\n');
          continue;
        }
        const newline = buffer.indexOf('\r\n');
        if (newline < 0) return;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (expecting) {
          logins.push(Buffer.from(line, 'base64').toString());
          socket.write(expecting === 'user' ? '334 UGFzc3dvcmQ6\r\n' : '235 2.7.0 Authenticated\r\n');
          expecting = expecting === 'user' ? 'pass' : undefined;
        } else if (verb === 'EHLO') socket.write('250-relay.test\r\n250 AUTH PLAIN LOGIN\r\n');
        else if (/^AUTH PLAIN \S+/i.test(line)) {
          logins.push(Buffer.from(line.split(' ')[2]!, 'base64').toString());
          socket.write('235 2.7.0 Authenticated\r\n');
        } else if (/^AUTH LOGIN/i.test(line)) {
          expecting = 'user';
          socket.write('334 VXNlcm5hbWU6\r\n');
        } else if (verb === 'MAIL') socket.write('250 2.1.0 Ok\r\n');
        else if (verb === 'RCPT')
          socket.write(
            /<ok@/i.test(line) ? '250 2.1.5 Ok\r\n' : '550 5.7.1 Relaying denied for this recipient\r\n',
          );
        else if (verb === 'DATA') {
          inData = true;
          socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        } else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n');
        else socket.write('250 2.0.0 Ok\r\n');
      }
    });
    socket.on('error', () => {});
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    logins,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
