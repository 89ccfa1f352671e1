import type { ClientIdentity } from '@outpost/core';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { AcceptMessage } from '../accept-message.ts';
import { IngestRefusal } from '../ingest-refusal.ts';
import type { HttpRefusalReason } from './api-error.ts';

type Protocol = ClientIdentity['protocol'];

/**
 * Ingest's Prometheus metrics, in a registry of its own (not prom-client's global one), so several
 * ingests in one process (tests) do not collide. Messages are counted where they are decided:
 * `instrumentAcceptor` counts everything that reaches accept(); the listeners call `refused` for
 * what they turn away before that (bad key, rate limit, sender, size...).
 */
export interface IngestMetrics {
  readonly registry: Registry;
  accepted(protocol: Protocol, bytes: number, seconds: number): void;
  refused(protocol: Protocol, reason: HttpRefusalReason, seconds?: number): void;
  httpRequest(route: string, method: string, status: number, seconds: number): void;
}

export function createIngestMetrics(): IngestMetrics {
  const registry = new Registry();
  // process_* and nodejs_* under their usual names, so stock dashboards work.
  collectDefaultMetrics({ register: registry });
  const accepted = new Counter({
    name: 'outpost_ingest_messages_accepted_total',
    help: 'Messages stored durably in the queue',
    labelNames: ['protocol'] as const,
    registers: [registry],
  });
  const refused = new Counter({
    name: 'outpost_ingest_messages_refused_total',
    help: 'Messages refused, by reason (storageFull, senderNotOwned, rateLimited, ...)',
    labelNames: ['protocol', 'reason'] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'outpost_ingest_accepted_bytes_total',
    help: 'Bytes of accepted messages, as the client handed them over',
    labelNames: ['protocol'] as const,
    registers: [registry],
  });
  const acceptSeconds = new Histogram({
    name: 'outpost_ingest_accept_duration_seconds',
    help: 'From the complete message to the durable answer (the Redis write and its fsync)',
    labelNames: ['protocol', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const httpSeconds = new Histogram({
    name: 'outpost_http_request_duration_seconds',
    help: 'HTTP API requests, by route and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    registry,
    accepted(protocol, size, seconds) {
      accepted.inc({ protocol });
      bytes.inc({ protocol }, size);
      acceptSeconds.observe({ protocol, outcome: 'accepted' }, seconds);
    },
    refused(protocol, reason, seconds) {
      refused.inc({ protocol, reason });
      if (seconds !== undefined) acceptSeconds.observe({ protocol, outcome: 'refused' }, seconds);
    },
    httpRequest(route, method, status, seconds) {
      httpSeconds.observe({ route, method, status: String(status) }, seconds);
    },
  };
}

/** Wraps accept() so that every message reaching it is counted, whichever listener it came from. */
export function instrumentAcceptor(accept: AcceptMessage, metrics: IngestMetrics): AcceptMessage {
  return async (input) => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1_000;
    try {
      const result = await accept(input);
      metrics.accepted(input.client.protocol, input.raw.length, seconds());
      return result;
    } catch (error) {
      const reason = error instanceof IngestRefusal ? error.reason : 'storageUnavailable';
      metrics.refused(input.client.protocol, reason, seconds());
      throw error;
    }
  };
}
