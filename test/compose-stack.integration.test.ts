import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateApiKey } from '@outpost/ingest';
import {
  freePort,
  type OutpostProcess,
  type SmtpReceiver,
  spawnOutpost,
  startDnsServer,
  startSmtpReceiver,
  submitMessage,
  type TestDnsServer,
  TestRedis,
} from '@outpost/testing';
import { generateOperatorKey } from '@outpost/trace-query';
import { type ComposeService, composeServices, dotenvExample } from './support/compose-file.ts';

// The stack as `docker compose up --scale delivery=2` runs it, without a Docker engine: each
// service's command from docker-compose.yml as its own process with that service's environment
// (from .env.example), service host names mapped to loopback and listeners moved to free ports.
// What the test adds is only what a container network would give: where Redis, the DNS and the
// receivers are. Jaeger is not run (OTLP export off).

let redis: TestRedis;
let dns: TestDnsServer;
const receivers: SmtpReceiver[] = [];
const processes: OutpostProcess[] = [];
const apiKey = generateApiKey({ name: 'shop', senders: ['*'], rate: 'unlimited' });
const operatorKey = generateOperatorKey('ops');

before(async () => {
  redis = await TestRedis.start();
  dns = await startDnsServer();
});
after(async () => {
  await Promise.all(processes.map((child) => child.kill('SIGKILL')));
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await dns.close();
  await redis.stop();
});

/** A service's environment as compose gives it, then pointed at the loopback stand-ins. */
function environmentOf(service: ComposeService, standIns: { mailpit: string; port: number }) {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(service.environment ?? {})) env[name] = String(value ?? '');
  for (const [name, value] of Object.entries(env)) {
    if (name.endsWith('_LISTEN') && value) env[name] = '127.0.0.1:0'; // no fixed ports: replicas
    env[name] = env[name]!.replace('redis://redis:6379', redis.url).replace('mailpit:1025', standIns.mailpit);
  }
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return {
    ...env,
    OUTPOST_BOUNCE_HTTP_LISTEN: '127.0.0.1:0',
    OUTPOST_DNS_SERVERS: dns.address,
    OUTPOST_DELIVERY_PORT: String(standIns.port),
    OUTPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
    OUTPOST_DSN_COLLECT_WINDOW: '300ms',
  };
}

const waitFor = async (probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

test('docker-compose.yml as compose runs it: mail in over SMTP and HTTP, delivered by two workers, a DSN, the query API, a clean stop', async () => {
  const port = await freePort('127.0.0.2');
  const destination = await startSmtpReceiver({
    host: '127.0.0.2',
    port,
    name: 'mx.compose.test',
    script: { rcpt: (ctx) => (ctx.address.startsWith('nobody@') ? '550 5.1.1 No such user' : undefined) },
  });
  const mailpit = await startSmtpReceiver({ host: '127.0.0.3', port, name: 'mailpit' });
  const senderMx = await startSmtpReceiver({ host: '127.0.0.4', port, name: 'mx.sender.test' });
  receivers.push(destination, mailpit, senderMx);
  dns.set('compose.test', [{ type: 'MX', exchange: 'mx.compose.test', priority: 10 }]);
  dns.set('mx.compose.test', [{ type: 'A', address: '127.0.0.2' }]);
  dns.set('sender.test', [{ type: 'MX', exchange: 'mx.sender.test', priority: 10 }]);
  dns.set('mx.sender.test', [{ type: 'A', address: '127.0.0.4' }]);

  const services = composeServices({
    ...dotenvExample,
    OUTPOST_API_KEYS: apiKey.entry,
    OUTPOST_OPERATOR_KEYS: operatorKey.entry,
  });
  const start = (name: string) => {
    const service = services[name]!;
    const child = spawnOutpost(
      service.command![0]!,
      environmentOf(service, { mailpit: `127.0.0.3:${port}`, port }),
    );
    processes.push(child);
    return child;
  };
  const ingest = start('ingest');
  const deliveries = [start('delivery'), start('delivery')]; // --scale delivery=2
  const bounce = start('bounce');
  const traceQuery = start('trace-query');
  const listening = await ingest.waitForLog((line) => line.msg === 'ingest listening', 30_000);
  for (const delivery of deliveries)
    await delivery.waitForLog((line) => line.msg === 'delivery running', 30_000);
  await bounce.waitForLog((line) => line.msg === 'bounce running', 30_000);
  const queryReady = await traceQuery.waitForLog((line) => line.msg === 'trace-query running', 30_000);
  const smtpPort = (listening.smtp as { port: number }).port;
  const httpPort = (listening.http as { port: number }).port;
  const queryPort = (queryReady.http as { port: number }).port;

  // SMTP submission from a trusted address (compose's OUTPOST_TRUSTED_NETWORKS): one good, one unknown user.
  const submitted = await submitMessage({
    port: smtpPort,
    from: 'alice@sender.test',
    to: ['bob@compose.test', 'nobody@compose.test'],
    message: 'From: alice@sender.test\r\nTo: bob@compose.test\r\nSubject: via SMTP\r\n\r\nHello Bob.\r\n',
  });
  assert.match(submitted.response, /^250 2\.0\.0 Ok: queued as /);
  const smtpId = submitted.response.split(' ').at(-1)!;
  // The HTTP API, to the demo domain that compose's transport map routes to "mailpit".
  const response = await fetch(`http://127.0.0.1:${httpPort}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      from: 'app@sender.test',
      to: ['you@demo.outpost.test'],
      subject: 'via HTTP',
      text: 'Hi.',
    }),
  });
  assert.equal(response.status, 202, await response.clone().text());

  await destination.waitForMessages(1, 20_000);
  await mailpit.waitForMessages(1, 20_000);
  const [dsn] = await senderMx.waitForMessages(1, 20_000);
  assert.equal(destination.messages[0]!.to.join(), 'bob@compose.test');
  assert.equal(mailpit.messages[0]!.to.join(), 'you@demo.outpost.test');
  assert.equal(dsn!.from, '', 'a DSN comes from <>');
  assert.deepEqual(dsn!.to, ['alice@sender.test']);
  assert.match(dsn!.data.toString(), /Final-Recipient: rfc822; nobody@compose\.test/i);

  // The operators' API, with the operator key from .env.
  const query = (path: string) =>
    fetch(`http://127.0.0.1:${queryPort}${path}`, {
      headers: { authorization: `Bearer ${operatorKey.key}` },
    });
  await waitFor(async () => {
    const view = (await (await query(`/v1/messages/${smtpId}`)).json()) as {
      recipients?: Array<{ status: string }>;
    };
    return (
      view.recipients
        ?.map((recipient) => recipient.status)
        .sort()
        .join() === 'bounced,delivered'
    );
  }, 'the message view shows bob delivered and nobody bounced');
  await waitFor(async () => {
    const overview = (await (await query('/v1/queue')).json()) as {
      queues: Record<string, Record<string, number>>;
    };
    return Object.values(overview.queues).every((counts) =>
      ['waiting', 'active', 'delayed', 'failed'].every((state) => (counts[state] ?? 0) === 0),
    );
  }, 'every queue empty: nothing left behind');

  // docker compose stop: SIGTERM to every container; each drains and exits 0.
  const codes = await Promise.all(processes.map((child) => child.kill('SIGTERM')));
  assert.deepEqual(
    codes,
    processes.map(() => 0),
  );
  assert.equal(destination.messages.length, 1, 'nothing delivered twice');
});
