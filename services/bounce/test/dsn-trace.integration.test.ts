import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { setupTracing } from '@outpost/telemetry';
import { BounceWorld } from './helpers.ts';

const exporter = new InMemorySpanExporter();
let world: BounceWorld;
before(async () => {
  world = await BounceWorld.start();
  await world.startServices(
    {},
    { tracer: setupTracing({ serviceName: 'outpost-bounce-test', exporter }).tracer },
  );
});
after(async () => {
  await world.stop();
});

test('the DSN is generated in a dsn.generate span of the original message trace', async () => {
  const senderServer = await world.domain('traced-sender.test', '127.0.0.40');
  await world.refusing('traced-dest.test', '127.0.0.41');
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const original = await world.enqueue({
    sender: 'alice@traced-sender.test',
    recipients: ['nobody@traced-dest.test'],
    traceparent: `00-${traceId}-b7ad6b7169203331-01`,
  });
  await world.waitForDsns(senderServer, original, 1);
  const generate = exporter.getFinishedSpans().find((span) => span.name === 'dsn.generate');
  assert.ok(generate, 'dsn.generate span');
  assert.equal(generate.spanContext().traceId, traceId, 'in the original trace');
  assert.equal(generate.parentSpanContext?.spanId, 'b7ad6b7169203331');
  assert.equal(generate.attributes['outpost.message.id'], original.id);
  assert.equal(generate.attributes['outpost.dsn.event'], 'failed');
  assert.doesNotMatch(JSON.stringify(generate.attributes), /nobody/, 'no local parts in attributes');
});
