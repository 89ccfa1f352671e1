import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { SpanFacts } from '../invariants.ts';

/** Only these spans matter to the invariants; the rest (DNS, SMTP sessions) would only take memory. */
const KEPT = new Set(['ingest.accept', 'delivery.attempt', 'dsn.generate']);

/** An exporter for services run in the test process: keeps the few facts I4 needs of each span. */
export class SpanRecorder implements SpanExporter {
  readonly spans: SpanFacts[] = [];

  export(spans: ReadableSpan[], done: (result: { code: number }) => void): void {
    for (const span of spans) {
      if (!KEPT.has(span.name)) continue;
      this.spans.push({
        name: span.name,
        traceId: span.spanContext().traceId,
        attributes: { ...span.attributes },
      });
    }
    done({ code: 0 });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}

interface OtlpSpan {
  traceId: string;
  name: string;
  attributes?: OtlpAttribute[];
}

/**
 * An OTLP/HTTP collector on loopback for services run as processes (OTEL_EXPORTER_OTLP_ENDPOINT):
 * the exporter posts JSON with hex ids, which is all this reads. Spans of a process killed with -9
 * are lost with its batch: scenarios with such kills do not ask for complete spans.
 */
export class OtlpCollector {
  readonly spans: SpanFacts[] = [];
  #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<OtlpCollector> {
    const received: Buffer[] = [];
    let collector: OtlpCollector | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        if (collector) collector.#ingest(body);
        else received.push(body);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    collector = new OtlpCollector(server);
    for (const body of received) collector.#ingest(body);
    return collector;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #ingest(body: Buffer): void {
    let payload: { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }> };
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return; // not JSON (a protobuf exporter): nothing we can read
    }
    for (const resource of payload.resourceSpans ?? []) {
      for (const scope of resource.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          if (!KEPT.has(span.name)) continue;
          this.spans.push({ name: span.name, traceId: hexId(span.traceId), attributes: attributesOf(span) });
        }
      }
    }
  }
}

function attributesOf(span: OtlpSpan): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const { key, value } of span.attributes ?? []) {
    attributes[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
      value.boolValue ??
      value.doubleValue;
  }
  return attributes;
}

/** The JSON encoding uses hex ids; base64 (the protobuf-JSON mapping) is converted just in case. */
function hexId(id: string): string {
  return /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
}
