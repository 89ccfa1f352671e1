import { createRequire } from 'node:module';
import { type Context, context, type Span, TraceFlags, type Tracer, trace } from '@opentelemetry/api';
import type { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

export { SpanStatusCode } from '@opentelemetry/api';
export type { Context, Span, Tracer };

export interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
}

/**
 * Tracing for a process: exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces
 * variant) is set, to `exporter` when a test passes one, and a no-op otherwise. Parents are passed
 * explicitly (contexts built from the traceparent carried in job data), so no global context
 * manager is needed.
 */
export function setupTracing(options: {
  serviceName: string;
  exporter?: SpanExporter;
  env?: Record<string, string | undefined>;
}): Tracing {
  const env = options.env ?? process.env;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  let processor: SpanProcessor | undefined;
  if (options.exporter) processor = new SimpleSpanProcessor({ exporter: options.exporter });
  else if (endpoint) {
    // The generic variable names the collector's base URL; the traces variable the full URL.
    const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${endpoint.replace(/\/$/, '')}/v1/traces`;
    processor = new BatchSpanProcessor({ exporter: new (otlpExporterClass())({ url }) });
  }
  if (!processor) {
    return { tracer: trace.getTracer('outpost'), shutdown: async () => {}, forceFlush: async () => {} };
  }
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? options.serviceName }),
    spanProcessors: [processor],
  });
  return {
    tracer: provider.getTracer('outpost'),
    shutdown: () => provider.shutdown(),
    forceFlush: () => provider.forceFlush(),
  };
}

/**
 * The OTLP exporter, loaded only when an endpoint is configured: it and its protobuf and HTTP
 * dependencies cost every process several MB of memory that a process without export never uses.
 */
function otlpExporterClass(): typeof OTLPTraceExporter {
  const require = createRequire(import.meta.url);
  return (
    require('@opentelemetry/exporter-trace-otlp-http') as { OTLPTraceExporter: typeof OTLPTraceExporter }
  ).OTLPTraceExporter;
}

/** W3C traceparent of a span (RFC-style "00-<trace>-<span>-<flags>"), undefined for a no-op span. */
export function traceparentOf(span: Span): string | undefined {
  const spanContext = span.spanContext();
  if (!trace.isSpanContextValid(spanContext)) return undefined;
  const flags = spanContext.traceFlags & TraceFlags.SAMPLED ? '01' : '00';
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** A parent context from a traceparent carried in job data; the root context when there is none. */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  const match = traceparent?.match(/^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/);
  if (!match) return context.active();
  return trace.setSpanContext(context.active(), {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16),
    isRemote: true,
  });
}

/** The context whose parent is `span`, for its children. */
export function contextWith(span: Span, parent: Context = context.active()): Context {
  return trace.setSpan(parent, span);
}
