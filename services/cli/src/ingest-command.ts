import cluster from 'node:cluster';
import { runIngestPrimary, startIngest } from '@outpost/ingest';
import { createLogger } from '@outpost/telemetry';
import { loadConfigOrExit, runService } from './run-service.ts';

/**
 * `outpost ingest`: one process, or with OUTPOST_INGEST_PROCESSES > 1 a primary that keeps that
 * many ingest processes sharing the listening sockets (node:cluster re-runs this command in each).
 */
export async function runIngestCommand(): Promise<void> {
  if (cluster.isPrimary) {
    const config = loadConfigOrExit('ingest');
    if (config.ingestProcesses > 1) {
      const logger = createLogger({ service: 'ingest', level: config.logLevel });
      const code = await runIngestPrimary({
        processes: config.ingestProcesses,
        logger,
        shutdownGraceMs: config.shutdownGraceMs,
      });
      process.exit(code);
    }
  }
  await runService('ingest', (config, logger, tracer) => startIngest({ config, logger, tracer }));
}
