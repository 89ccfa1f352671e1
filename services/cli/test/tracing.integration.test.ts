import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { loadConfig } from '@outpost/config';
import { startIngest } from '@outpost/ingest';
import { createLogger, setupTracing } from '@outpost/telemetry';
import { submitMessage } from '@outpost/testing';
import { DeliveryWorld } from '../../delivery/test/helpers.ts';

let world: DeliveryWorld;
let ingest: Awaited<ReturnType<typeof startIngest>>;
const exporter = new InMemorySpanExporter();

before(async () => {
  world = await DeliveryWorld.start();
  const { tracer } = setupTracing({ serviceName: 'outpost-test', exporter });
  const env = world.env({ OUTPOST_SMTP_LISTEN: '127.0.0.1:0', OUTPOST_HTTP_LISTEN: '127.0.0.1:0' });
  const config = loadConfig(env);
  ingest = await startIngest({
    config,
    logger: createLogger({ service: 'ingest', level: 'silent' }),
    tracer,
  });
  await world.startDelivery({}, tracer);
});
after(async () => {
  await ingest.stop();
  await world.stop();
});

test('one trace per message: ingest.accept, then delivery.attempt with dns.resolve, smtp.connect and smtp.session', async () => {
  await world.receiver('127.0.0.2', {
    rcpt: (ctx) => (ctx.attempt === 1 ? '451 4.7.1 Greylisted, try again later' : undefined),
  });
  world.mx('traced.test', [{ name: 'mx.traced.test', priority: 10, a: ['127.0.0.2'] }]);
  const result = await submitMessage({
    port: ingest.addresses.smtp.port,
    from: 'alice@example.com',
    to: ['bob.secret@traced.test'],
    message: 'Subject: traced\r\n\r\nHello.\r\n',
  });
  const id = result.response.match(/queued as (\S+)/)![1]!;
  await world.waitForMessageDone(id);

  const spans = exporter.getFinishedSpans();
  const accept = spans.find(
    (span) => span.name === 'ingest.accept' && span.attributes['outpost.message.id'] === id,
  );
  assert.ok(accept, 'ingest.accept span');
  const traceId = accept.spanContext().traceId;
  const inTrace = spans.filter((span) => span.spanContext().traceId === traceId);
  const attempts = inTrace.filter((span) => span.name === 'delivery.attempt');
  assert.equal(attempts.length, 2, 'a deferred attempt, then a delivered one');
  for (const attempt of attempts)
    assert.equal(attempt.parentSpanContext?.spanId, accept.spanContext().spanId);
  assert.deepEqual(
    attempts.map((span) => [
      span.attributes['outpost.attempt'],
      span.attributes['outpost.verdict'],
      span.attributes['outpost.category'],
    ]),
    [
      [1, 'deferred', 'greylisted'],
      [2, 'delivered', undefined],
    ],
  );
  const [first] = attempts;
  const children = inTrace.filter((span) => span.parentSpanContext?.spanId === first!.spanContext().spanId);
  assert.deepEqual([...new Set(children.map((span) => span.name))].sort(), ['dns.resolve', 'smtp.connect']);
  const connect = children.find((span) => span.name === 'smtp.connect')!;
  assert.equal(connect.attributes['network.peer.address'], '127.0.0.2');
  const session = inTrace.find(
    (span) => span.name === 'smtp.session' && span.parentSpanContext?.spanId === connect.spanContext().spanId,
  );
  assert.ok(session, 'smtp.session under smtp.connect');
  assert.ok(
    session.events.some((event) => String(event.attributes?.text).startsWith('451 4.7.1 Greylisted')),
    'the transcript lines are span events',
  );
  // Personal data: no recipient local part in any attribute.
  for (const span of inTrace) {
    assert.doesNotMatch(JSON.stringify(span.attributes), /bob\.secret/, span.name);
  }
});

test('spans are exported over OTLP/HTTP to a collector on loopback', async () => {
  const requests: Array<{ url: string; body: Buffer }> = [];
  const collector = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ url: request.url ?? '', body: Buffer.concat(chunks) });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  try {
    const port = (collector.address() as AddressInfo).port;
    const tracing = setupTracing({
      serviceName: 'outpost-otlp-test',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` },
    });
    tracing.tracer.startSpan('ingest.accept', { attributes: { 'outpost.message.id': 'otlp-check' } }).end();
    await tracing.forceFlush();
    await tracing.shutdown();
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.url, '/v1/traces');
    assert.ok(requests[0]!.body.includes(Buffer.from('ingest.accept')), 'the span name is in the payload');
    assert.ok(
      requests[0]!.body.includes(Buffer.from('outpost-otlp-test')),
      'the service name is in the payload',
    );
  } finally {
    await new Promise((resolve) => collector.close(resolve));
  }
});
