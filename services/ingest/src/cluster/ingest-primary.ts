import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@outpost/telemetry';
import { AggregatorRegistry } from 'prom-client';
import { isMetricsRequest, METRICS_RESPONSE, type MetricsResponse } from './cluster-messages.ts';

export interface IngestPrimaryOptions {
  /** Worker processes to keep running; each runs a whole ingest (SMTP and HTTP listeners). */
  processes: number;
  logger: Logger;
  /** How long workers get to finish their sessions after SIGTERM before they are killed. */
  shutdownGraceMs: number;
  /** A worker that dies is restarted, unless this many died within `crashWindowMs`: then give up. */
  maxCrashes?: number;
  crashWindowMs?: number;
}

/**
 * The primary of a multi-process ingest (OUTPOST_INGEST_PROCESSES > 1). One Node process runs
 * JavaScript on one core; with several, the kernel's listening sockets are shared through
 * node:cluster (the primary hands each new connection to a worker in turn), so one host accepts on
 * every core. Everything a worker decides with is in Redis (rate limits, login failures, the
 * queue), so workers need not talk to each other; only /metrics is summed here.
 *
 * Resolves with the exit code once every worker has exited.
 */
export function runIngestPrimary(options: IngestPrimaryOptions): Promise<number> {
  const { logger, processes, shutdownGraceMs } = options;
  const maxCrashes = options.maxCrashes ?? 5;
  const crashWindowMs = options.crashWindowMs ?? 60_000;
  const aggregator = new AggregatorRegistry();
  const crashes: number[] = [];
  const live = new Set<Worker>();
  let stopping = false;
  let exitCode = 0;

  return new Promise((resolve) => {
    const fork = (index: number): Worker => {
      const worker = cluster.fork({ OUTPOST_INGEST_WORKER: String(index) });
      live.add(worker);
      worker.on('message', (message: unknown) => {
        if (!isMetricsRequest(message)) return;
        aggregator.clusterMetrics().then(
          (text) =>
            send(worker, {
              type: METRICS_RESPONSE,
              id: message.id,
              text,
              contentType: aggregator.contentType,
            }),
          (error: Error) => send(worker, { type: METRICS_RESPONSE, id: message.id, error: error.message }),
        );
      });
      worker.on('exit', (code, signal) => {
        live.delete(worker);
        if (stopping) {
          if (live.size === 0) resolve(exitCode);
          return;
        }
        const now = Date.now();
        crashes.push(now);
        while (crashes.length > 0 && crashes[0]! < now - crashWindowMs) crashes.shift();
        if (crashes.length >= maxCrashes) {
          logger.fatal(
            { code, signal, crashes: crashes.length, windowMs: crashWindowMs },
            'ingest workers keep exiting; stopping (see the workers’ own errors above)',
          );
          exitCode = 1;
          stop();
          return;
        }
        logger.error({ code, signal, worker: index }, 'ingest worker exited; starting a new one');
        // Not unref'd: while every worker is down, this timer is what keeps the primary alive.
        setTimeout(() => {
          if (!stopping) fork(index);
        }, 1_000);
      });
      return worker;
    };

    const stop = () => {
      if (stopping) return;
      stopping = true;
      if (live.size === 0) resolve(exitCode);
      // Each worker drains its own sessions within the grace period (as a single ingest does).
      for (const worker of live) worker.process.kill('SIGTERM');
      setTimeout(() => {
        for (const worker of live) worker.process.kill('SIGKILL');
      }, shutdownGraceMs + 5_000).unref();
    };

    process.on('SIGTERM', () => {
      logger.info({ signal: 'SIGTERM' }, 'ingest stopping');
      stop();
    });
    process.on('SIGINT', () => {
      logger.info({ signal: 'SIGINT' }, 'ingest stopping');
      stop();
    });

    logger.info({ processes }, 'ingest starting its worker processes');
    for (let index = 1; index <= processes; index++) fork(index);
  });
}

function send(worker: Worker, message: MetricsResponse): void {
  if (worker.isConnected()) worker.send(message);
}
