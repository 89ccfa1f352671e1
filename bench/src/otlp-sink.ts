/**
 * A stand-in for a trace collector (Jaeger, an OpenTelemetry Collector) in the benchmark's `traced`
 * mode: it takes OTLP/HTTP exports on loopback, counts what arrives and answers 200 at once, so
 * that Outpost runs with its exporters on, as docker-compose.yml deploys it. It keeps nothing: the
 * memory and CPU measured are the exporting processes', not a collector's.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT (exports go to /v1/traces). */
  endpoint: string;
  received(): { requests: number; spans: number; bytes: number };
  stop(): Promise<void>;
}

// Every span of an OTLP/JSON export has one "spanId" key (a parent is "parentSpanId").
const SPAN_KEY = Buffer.from('"spanId"');

export async function startOtlpSink(): Promise<OtlpSink> {
  const counts = { requests: 0, spans: 0, bytes: 0 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      counts.requests++;
      counts.bytes += body.length;
      if (request.url === '/v1/traces') counts.spans += occurrences(body, SPAN_KEY);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received: () => ({ ...counts }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function occurrences(haystack: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length))
    count++;
  return count;
}
