import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOtlpSink } from '../src/otlp-sink.ts';

test('the trace sink answers 200 and counts the spans of an OTLP/JSON export, not their parents', async () => {
  const sink = await startOtlpSink();
  try {
    const span = (id: string, parent?: string) => ({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: id,
      ...(parent && { parentSpanId: parent }),
      name: 'x',
    });
    const body = JSON.stringify({
      resourceSpans: [
        { scopeSpans: [{ spans: [span('b7ad6b7169203331'), span('00f067aa0ba902b7', 'b7ad6b7169203331')] }] },
      ],
    });
    const response = await fetch(`${sink.endpoint}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(response.status, 200);
    assert.deepEqual(sink.received(), { requests: 1, spans: 2, bytes: Buffer.byteLength(body) });
  } finally {
    await sink.stop();
  }
});
